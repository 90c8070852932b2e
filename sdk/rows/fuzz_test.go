package rows_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/actionhub/actionhub/sdk/rows"
)

// The fuzz targets check, for any input, that reading never panics or hangs, that every way
// of splitting the input into reads gives the same rows and the same error (which also
// checks the in-buffer fast path against the general parser), that every value's AppendJSON
// is valid JSON and, where a standard library decoder accepts the input, that the rows are
// what it decodes. Seeds: testdata/fuzz/<FuzzName>/.

func FuzzJSONDetail(f *testing.F) {
	f.Add([]byte(`{"fields":{"dimensions":[{"name":"a","tags":["email"]}]},"data":[{"a":{"value":"x@y.z"}}],"ran_at":"2017-07-28T02:25:19+00:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		same(t, data, "json_detail")
		same(t, data, "")
	})
}

func FuzzJSONArray(f *testing.F) {
	f.Add([]byte(`[{"a":1,"b":"x","c":null,"d":true,"e":{"value":2},"f":{"p":1}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		same(t, data, "json")
		if utf8.Valid(data) && json.Valid(data) {
			compareJSONArray(t, data)
		}
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("a,b\n1,\"x,\"\"y\"\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		same(t, data, "csv")
		if !bytes.HasPrefix(data, []byte("\xEF\xBB\xBF")) {
			compareCSV(t, data)
		}
	})
}

// compareJSONArray checks flat scalar values against encoding/json.
func compareJSONArray(t *testing.T, data []byte) {
	var arr []map[string]json.RawMessage
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '[' || json.Unmarshal(data, &arr) != nil {
		return
	}
	valid := true
	for _, m := range arr {
		valid = valid && m != nil
	}
	rd := rows.NewReader(bytes.NewReader(data), "json")
	n := 0
	for ; rd.Next(); n++ {
		row, m := rd.Row(), arr[n]
		if row.Len() < len(m) {
			t.Fatalf("row %d: %d cells, encoding/json has %d keys", n+1, row.Len(), len(m))
		}
		for k, raw := range m {
			c, ok := row.Cell(k)
			if !ok {
				t.Fatalf("row %d: no cell %q", n+1, k)
			}
			raw = bytes.TrimSpace(raw)
			v := c.Value
			switch raw[0] {
			case '"':
				var s string
				json.Unmarshal(raw, &s)
				if v.Kind() != rows.String || v.String() != s || c.Pivoted != nil {
					t.Fatalf("row %d %q: %s %q, want string %q", n+1, k, v.Kind(), v.String(), s)
				}
			case 'n':
				if v.Kind() != rows.Null || c.Pivoted != nil {
					t.Fatalf("row %d %q: %s, want null", n+1, k, v.Kind())
				}
			case 't', 'f':
				if v.Kind() != rows.Bool || v.String() != string(raw) {
					t.Fatalf("row %d %q: %s %q, want %s", n+1, k, v.Kind(), v.String(), raw)
				}
			case '{', '[':
			default:
				if v.Kind() != rows.Number || v.String() != string(raw) {
					t.Fatalf("row %d %q: %s %q, want %s", n+1, k, v.Kind(), v.String(), raw)
				}
			}
		}
	}
	if valid && rd.Err() != nil && !strings.Contains(rd.Err().Error(), "nesting deeper") {
		t.Fatalf("valid input rejected: %v", rd.Err())
	}
	if !valid && rd.Err() == nil {
		t.Fatal("a non-object row accepted")
	}
	if valid && n != len(arr) {
		t.Fatalf("%d rows, encoding/json has %d", n, len(arr))
	}
}

// compareCSV checks rows against encoding/csv's ReadAll.
func compareCSV(t *testing.T, data []byte) {
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	rd := rows.NewReader(bytes.NewReader(data), "csv")
	f, ferr := rd.Fields()
	var got [][]string
	if ferr == nil && len(f.Dimensions) > 0 {
		var h []string
		for _, d := range f.Dimensions {
			h = append(h, d.Name)
		}
		got = append(got, h)
	}
	for rd.Next() {
		row := rd.Row()
		var r []string
		for i := 0; i < row.Len(); i++ {
			r = append(r, row.At(i).Value.String())
		}
		got = append(got, r)
	}
	if err != nil {
		if rd.Err() == nil && ferr == nil {
			t.Fatalf("encoding/csv fails (%v), the reader does not", err)
		}
		return
	}
	if rd.Err() != nil || ferr != nil {
		t.Fatalf("encoding/csv accepts, the reader fails: %v %v", ferr, rd.Err())
	}
	a, _ := json.Marshal(recs)
	b, _ := json.Marshal(got)
	if len(recs) == 0 {
		a = []byte("null")
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("rows differ:\n got %s\nwant %s", b, a)
	}
}
