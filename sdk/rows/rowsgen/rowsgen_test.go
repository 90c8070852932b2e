package rowsgen_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

var cols = append(rowsgen.DefaultColumns(),
	rowsgen.Column{Name: "users.bio", Kind: rowsgen.Unicode, Hidden: true},
	rowsgen.Column{Name: "users.ok", Kind: rowsgen.Bool},
	rowsgen.Column{Name: "orders.count", Label: "Order Count", Kind: rowsgen.Int, Measure: true})

// TestJSONDetailDecodes checks the output with encoding/json, independently of package rows.
func TestJSONDetailDecodes(t *testing.T) {
	for _, o := range []rowsgen.Options{
		{Rows: 500, Columns: cols, NullEvery: 7},
		{Rows: 500, Columns: cols, Pivots: []string{"complete", "pending"}, Rendered: true, Extra: true, DataFirst: true, RanAt: "2020-01-02T03:04:05-07:00"},
	} {
		var buf bytes.Buffer
		if err := rowsgen.JSONDetail(&buf, o); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Fields map[string][]struct {
				Name    string   `json:"name"`
				Label   string   `json:"label"`
				Tags    []string `json:"tags"`
				Measure bool     `json:"measure"`
				Hidden  bool     `json:"hidden"`
			} `json:"fields"`
			Pivots []struct{ Key string }      `json:"pivots"`
			Data   []map[string]map[string]any `json:"data"`
			RanAt  string                      `json:"ran_at"`
		}
		dec := json.NewDecoder(&buf)
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Data) != o.Rows || len(doc.Fields["dimensions"]) != 6 || len(doc.Fields["measures"]) != 2 {
			t.Fatalf("%d rows, fields %v", len(doc.Data), doc.Fields)
		}
		d := doc.Fields["dimensions"]
		if d[1].Name != "users.email" || d[1].Label != "Users Email" || d[1].Tags[0] != "email" || !d[4].Hidden || d[0].Hidden {
			t.Fatalf("dimensions %+v", d)
		}
		if m := doc.Fields["measures"][1]; m.Label != "Order Count" || !m.Measure {
			t.Fatalf("measure %+v", m)
		}
		wantRanAt := o.RanAt
		if wantRanAt == "" {
			wantRanAt = rowsgen.DefaultRanAt
		}
		if doc.RanAt != wantRanAt || len(doc.Pivots) != len(o.Pivots) {
			t.Fatalf("ran_at %q pivots %v", doc.RanAt, doc.Pivots)
		}
		for n, row := range doc.Data {
			for i, c := range cols {
				cell := row[c.Name]
				if o.Pivoted(i) {
					for p, key := range o.Pivots {
						checkValue(t, o, n+1, i, p, cell[key].(map[string]any)["value"])
					}
					continue
				}
				checkValue(t, o, n+1, i, 0, cell["value"])
				if o.Rendered && cell["value"] != nil && cell["rendered"] == nil {
					t.Fatalf("no rendered value")
				}
			}
		}
	}
}

func checkValue(t *testing.T, o rowsgen.Options, n, col, pivot int, v any) {
	t.Helper()
	text, null := o.Text(n, col, pivot)
	if null {
		if v != nil {
			t.Fatalf("row %d col %d: %v, want null", n, col, v)
		}
		return
	}
	if got := fmt.Sprint(v); got != text {
		t.Fatalf("row %d col %d: %q, want %q", n, col, got, text)
	}
}

func TestJSONAndCSV(t *testing.T) {
	o := rowsgen.Options{Rows: 300, Columns: cols, Pivots: []string{"a", "b"}, NullEvery: 5}
	var buf bytes.Buffer
	if err := rowsgen.JSON(&buf, o); err != nil {
		t.Fatal(err)
	}
	var arr []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &arr); err != nil || len(arr) != 300 {
		t.Fatalf("%v, %d rows", err, len(arr))
	}
	if got, _ := o.Text(3, 1, 0); arr[2]["users.email"] != got {
		t.Fatalf("%v", arr[2])
	}
	buf.Reset()
	if err := rowsgen.CSV(&buf, o); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 301 || len(recs[0]) != len(cols)+2 {
		t.Fatalf("%v: %d records", err, len(recs))
	}
	if recs[0][8] != "Order Count | a" || recs[0][1] != "Users Email" {
		t.Fatalf("header %q", recs[0])
	}
	for n := 1; n <= 300; n++ {
		text, _ := o.Text(n, 5, 0)
		if recs[n][6] != text { // column 5, after the two pivot columns of orders.total
			t.Fatalf("row %d unicode: %q, want %q", n, recs[n][6], text)
		}
	}
}

func TestStreamingAndSize(t *testing.T) {
	o := rowsgen.Options{Rows: 10000}
	whole := rowsgen.Bytes(o)
	if err := iotest.TestReader(rowsgen.NewReader(o), whole); err != nil {
		t.Fatal(err)
	}
	per := float64(len(whole)) / float64(o.Rows)
	if per < 140 || per > 200 {
		t.Fatalf("%.0f bytes a row", per)
	}
	// A million rows stream in constant memory: nothing is kept between chunks.
	n, err := io.Copy(io.Discard, rowsgen.NewReader(rowsgen.Options{Rows: 1_000_000}))
	if err != nil || n < 140_000_000 {
		t.Fatalf("%d bytes, %v", n, err)
	}
}
