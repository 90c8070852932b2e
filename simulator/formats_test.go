package simulator

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/sdk"
)

func write(t *testing.T, f sdk.Format, ds *Dataset) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteData(context.Background(), &b, f, ds, Meta{Title: "T"}, nil); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return b.Bytes()
}

func TestJSONDetailWithPivots(t *testing.T) {
	spec := GenSpec{Rows: 3, Columns: []Column{
		{Name: "users.email", Tags: []string{"email"}},
		{Name: "orders.count", Measure: true, Numeric: true},
	}, Pivot: "orders.status", PivotValues: []string{"complete", "pending"}}
	for _, f := range []sdk.Format{sdk.FormatJSONDetail, sdk.FormatJSONDetailLiteStream} {
		var doc struct {
			Fields struct {
				Dimensions []fieldJSON `json:"dimensions"`
				Measures   []fieldJSON `json:"measures"`
				Pivots     []fieldJSON `json:"pivots"`
			} `json:"fields"`
			Pivots []struct {
				Key  string            `json:"key"`
				Data map[string]string `json:"data"`
			} `json:"pivots"`
			Data  []map[string]json.RawMessage `json:"data"`
			RanAt string                       `json:"ran_at"`
			SQL   *string                      `json:"sql"`
		}
		out := write(t, f, spec.Dataset())
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("%s is not JSON: %v\n%s", f, err, out)
		}
		if len(doc.Data) != 3 || doc.Fields.Dimensions[0].Tags[0] != "email" || !doc.Fields.Measures[0].Measure ||
			doc.Fields.Pivots[0].Name != "orders.status" || len(doc.Pivots) != 2 || doc.Pivots[1].Key != "pending" {
			t.Errorf("%s structure: %+v", f, doc)
		}
		var email struct{ Value string }
		json.Unmarshal(doc.Data[1]["users.email"], &email)
		if email.Value != "user2@example.com" {
			t.Errorf("%s email cell: %s", f, doc.Data[1]["users.email"])
		}
		var pivoted map[string]struct{ Value *int64 }
		if err := json.Unmarshal(doc.Data[0]["orders.count"], &pivoted); err != nil || pivoted["complete"].Value == nil || pivoted["pending"].Value == nil {
			t.Errorf("%s pivoted cell: %s", f, doc.Data[0]["orders.count"])
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$`).MatchString(doc.RanAt) {
			t.Errorf("%s ran_at %q", f, doc.RanAt)
		}
		if (doc.SQL != nil) != (f == sdk.FormatJSONDetail) {
			t.Errorf("%s: full metadata present = %v", f, doc.SQL != nil)
		}
	}
}

func TestSimpleFormats(t *testing.T) {
	ds := func() *Dataset {
		d := &Dataset{Columns: []Column{{Name: "users.name"}, {Name: "users.note"}, {Name: "orders.count", Measure: true}}}
		rows := [][]Value{{Str("Ann"), Str(`says "hi", then` + "\nleaves"), IntV(3)}, {Str("Bo"), {}, FloatV(2.5)}}
		d.Rows = func(ctx context.Context, fn func([]Value) error) error {
			for _, r := range rows {
				if err := fn(r); err != nil {
					return err
				}
			}
			return nil
		}
		return d
	}
	var js []map[string]any
	if err := json.Unmarshal(write(t, sdk.FormatJSON, ds()), &js); err != nil || len(js) != 2 || js[0]["users.name"] != "Ann" || js[1]["users.note"] != nil || js[1]["orders.count"] != 2.5 {
		t.Errorf("json: %v %v", err, js)
	}
	var jl []map[string]any
	if err := json.Unmarshal(write(t, sdk.FormatJSONLabel, ds()), &jl); err != nil || jl[0]["Users Name"] != "Ann" || jl[0]["Orders Count"] != 3.0 {
		t.Errorf("json_label: %v %v", err, jl)
	}
	var inl []map[string]any
	if err := json.Unmarshal(write(t, sdk.FormatInlineJSON, ds()), &inl); err != nil || len(inl) != 2 {
		t.Errorf("inline_json: %v", err)
	}
	recs, err := csv.NewReader(bytes.NewReader(write(t, sdk.FormatCSV, ds()))).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "Users Name" || recs[1][1] != `says "hi", then`+"\nleaves" || recs[2][2] != "2.5" {
		t.Errorf("csv: %v %q", err, recs)
	}
	txt := string(write(t, sdk.FormatTxt, ds()))
	lines := strings.Split(strings.TrimSuffix(txt, "\n"), "\n")
	if len(lines) != 3 || strings.Count(lines[1], "\t") != 2 || lines[2] != "Bo\t\t2.5" {
		t.Errorf("txt: %q", txt)
	}
	html := string(write(t, sdk.FormatHTML, ds()))
	if !strings.Contains(html, "<th>Users Name</th>") || !strings.Contains(html, "says &#34;hi&#34;") {
		t.Errorf("html: %s", html)
	}
	if err := WriteData(context.Background(), io.Discard, sdk.FormatXLSX, ds(), Meta{}, nil); err == nil {
		t.Errorf("xlsx should be refused")
	}
}

func TestDashboardFiles(t *testing.T) {
	b, err := DashboardFile(sdk.FormatWysiwygPNG, "Exec")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != 480 {
		t.Fatalf("png: %v", err)
	}
	pdf, err := DashboardFile(sdk.FormatWysiwygPDF, "Exec (Q1) \\ report")
	if err != nil {
		t.Fatal(err)
	}
	s := string(pdf)
	if !strings.HasPrefix(s, "%PDF-1.4\n") || !strings.HasSuffix(s, "%%EOF\n") || !strings.Contains(s, `(Exec \(Q1\) \\ report) Tj`) {
		t.Fatalf("pdf framing:\n%s", s)
	}
	// startxref points at the xref table, and each entry at its object.
	m := regexp.MustCompile(`startxref\n(\d+)\n`).FindStringSubmatch(s)
	off, _ := strconv.Atoi(m[1])
	if !strings.HasPrefix(s[off:], "xref\n0 6\n") {
		t.Fatalf("startxref %d points at %q", off, s[off:off+10])
	}
	entries := regexp.MustCompile(`(\d{10}) 00000 n \n`).FindAllStringSubmatch(s, -1)
	if len(entries) != 5 {
		t.Fatalf("%d xref entries", len(entries))
	}
	for i, e := range entries {
		o, _ := strconv.Atoi(e[1])
		if want := strconv.Itoa(i+1) + " 0 obj"; !strings.HasPrefix(s[o:], want) {
			t.Errorf("xref entry %d points at %q", i+1, s[o:o+8])
		}
	}
	// The stream length is right.
	lm := regexp.MustCompile(`/Length (\d+) >>\nstream\n`).FindStringSubmatchIndex(s)
	n, _ := strconv.Atoi(s[lm[2]:lm[3]])
	if !strings.HasPrefix(s[lm[1]+n:], "endstream") {
		t.Errorf("stream /Length %d is wrong", n)
	}
}

// TestUploadRoundTrip feeds the simulator's own json_detail back as an upload, and checks
// CSV and simple JSON uploads.
func TestUploadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	spec := GenSpec{Rows: 50, Pivot: "orders.status", PivotValues: []string{"a", "b"}}
	path := filepath.Join(dir, "d.json")
	os.WriteFile(path, write(t, sdk.FormatJSONDetail, spec.Dataset()), 0o600)
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	ds, err := JSONDataset(open, map[string][]string{"users.state": {"region"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Columns) != len(DefaultColumns()) || !ds.pivoted() || ds.PivotValues[1] != "b" {
		t.Fatalf("columns %+v pivot %v", ds.Columns, ds.PivotValues)
	}
	if got, want := write(t, sdk.FormatJSONDetailLiteStream, ds), write(t, sdk.FormatJSONDetailLiteStream, spec.Dataset()); !bytes.Equal(dataPart(got), dataPart(want)) {
		t.Errorf("rows changed in the round trip:\n%s\n%s", dataPart(got)[:200], dataPart(want)[:200])
	}
	for _, c := range ds.Columns {
		if c.Name == "users.state" && (len(c.Tags) != 1 || c.Tags[0] != "region") {
			t.Errorf("tag not applied: %+v", c)
		}
	}

	csvPath := filepath.Join(dir, "d.csv")
	os.WriteFile(csvPath, []byte("\ufeffemail,zip,amount\nx@y.z,02134,12.5\n"), 0o600)
	ds, err = CSVDataset(func() (io.ReadCloser, error) { return os.Open(csvPath) }, map[string][]string{"email": {"email"}})
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	json.Unmarshal(write(t, sdk.FormatJSON, ds), &rows)
	if len(rows) != 1 || rows[0]["email"] != "x@y.z" || rows[0]["zip"] != "02134" || rows[0]["amount"] != 12.5 || ds.Columns[0].Tags[0] != "email" {
		t.Errorf("csv upload: %v %+v", rows, ds.Columns)
	}

	arrPath := filepath.Join(dir, "a.json")
	os.WriteFile(arrPath, []byte(`[{"b":1,"a":"x"},{"b":2,"a":{"value":"y"}}]`), 0o600)
	ds, err = JSONDataset(func() (io.ReadCloser, error) { return os.Open(arrPath) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := string(write(t, sdk.FormatCSV, ds))
	if out != "b,a\n1,x\n2,y\n" {
		t.Errorf("json array upload as csv: %q", out)
	}
}

func dataPart(b []byte) []byte {
	i := bytes.Index(b, []byte(`"data":[`))
	return b[i:]
}

func TestParseColumns(t *testing.T) {
	cols, err := ParseColumns("users.email email\nbraze.external_id braze_id\norders.count\nusers.amount_label dimension\n# comment\nx.y measure")
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 5 || cols[0].Tags[0] != "email" || cols[1].Tags[0] != "braze_id" || !cols[2].Measure || cols[3].Measure || !cols[4].Measure {
		t.Errorf("%+v", cols)
	}
	if again, _ := ParseColumns(FormatColumns(cols)); len(again) != 5 || again[3].Measure || !again[4].Measure {
		t.Errorf("round trip %+v", again)
	}
	if _, err := ParseColumns("a\na"); err == nil {
		t.Errorf("duplicate accepted")
	}
	cols = AddTag(DefaultColumns(), "users.email", "segment_email")
	cols = AddTag(cols, "users.braze_id", "braze_id")
	if cols[1].Tags[1] != "segment_email" || cols[len(cols)-1].Name != "users.braze_id" {
		t.Errorf("AddTag: %+v", cols)
	}
	// Tags choose the generated values.
	if v := genValue(genKindOf(Column{Name: "a.b", Tags: []string{"braze_id"}}), 0, 0, 0); v.Kind != String || len(v.S) != 16 {
		t.Errorf("braze_id value %+v", v)
	}
}
