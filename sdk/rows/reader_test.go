package rows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openVector decodes a vector's execute request and opens its data as the hub does.
func openVector(t *testing.T, name string) io.Reader {
	t.Helper()
	req, err := sdk.DecodeRequest(readFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := req.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

type cellWant struct {
	kind rows.Kind
	text string
}

func checkCell(t *testing.T, row *rows.Row, field string, want cellWant) {
	t.Helper()
	c, ok := row.Cell(field)
	if !ok {
		t.Fatalf("row %d: no cell %q", row.Number(), field)
	}
	if c.Pivoted != nil {
		t.Fatalf("row %d: %q unexpectedly pivoted", row.Number(), field)
	}
	if c.Value.Kind() != want.kind || c.Value.String() != want.text {
		t.Fatalf("row %d: %q = %s %q, want %s %q", row.Number(), field, c.Value.Kind(), c.Value.String(), want.kind, want.text)
	}
}

func TestVector02JSONDetailPushedAsString(t *testing.T) {
	for _, format := range []string{"json_detail", ""} {
		rd := rows.NewReader(openVector(t, "02_request.json"), format)
		f, err := rd.Fields()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(f.Dimensions); got != 2 || len(f.Measures) != 1 || len(f.All()) != 3 {
			t.Fatalf("fields: %d dimensions, %d measures", got, len(f.Measures))
		}
		email := f.FirstTagged("segment_user_id", "email")
		if email == nil || email.Name != "users.email" || email.LabelShort != "Email" || email.ViewLabel != "Users" || email.Type != "string" {
			t.Fatalf("FirstTagged(email) = %+v", email)
		}
		if !email.HasTag("segment_anonymous_id") || email.HasTag("Email") {
			t.Fatal("HasTag")
		}
		if f.FirstTagged("nope") != nil {
			t.Fatal("FirstTagged found an absent tag")
		}
		m := f.Measures[0]
		if m.Name != "orders.count" || !m.Measure || !m.IsNumeric || m.Hidden || m.Tags == nil {
			t.Fatalf("measure %+v", m)
		}
		at, ok := rd.RanAt()
		if !ok || !at.Equal(time.Date(2026, 11, 24, 8, 0, 3, 0, time.UTC)) {
			t.Fatalf("RanAt = %v %v", at, ok)
		}
		want := [][3]cellWant{
			{{rows.String, "ada@example.com"}, {rows.String, "California"}, {rows.Number, "12"}},
			{{rows.String, "grace@example.com"}, {rows.String, "New York"}, {rows.Number, "7"}},
			{{rows.Null, ""}, {rows.String, "Texas"}, {rows.Number, "0"}},
		}
		for i := 0; rd.Next(); i++ {
			row := rd.Row()
			if i >= len(want) || row.Number() != int64(i+1) || row.Len() != 3 {
				t.Fatalf("unexpected row %d (len %d)", row.Number(), row.Len())
			}
			for j, name := range []string{"users.email", "users.state", "orders.count"} {
				checkCell(t, row, name, want[i][j])
				if row.Name(j) != name {
					t.Fatalf("Name(%d) = %q", j, row.Name(j))
				}
			}
		}
		if err := rd.Err(); err != nil || rd.Count() != 3 {
			t.Fatalf("end: %v after %d rows", err, rd.Count())
		}
		if rd.Format() != "json_detail" {
			t.Fatalf("Format %q", rd.Format())
		}
	}
}

func TestVector03PivotedStream(t *testing.T) {
	data := readFile(t, "03_download.json")
	rd := rows.NewReader(bytes.NewReader(data), "json_detail_lite_stream")
	f, err := rd.Fields()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pivots) != 1 || f.Pivots[0].Name != "orders.status" || f.Dimensions[0].LabelShort != "ID" || !f.Dimensions[0].HasTag("user_id") {
		t.Fatalf("fields %+v", f)
	}
	if _, ok := rd.RanAt(); ok {
		t.Fatal("ran_at comes after the data: not known yet")
	}
	probe := rows.NewReader(iotest.OneByteReader(bytes.NewReader(data)), "")
	if _, err := probe.Fields(); err != nil || probe.BytesRead() != int64(bytes.Index(data, []byte("\n  \"pivots\": ["))-1) {
		t.Fatalf("Fields read %d bytes: %v", probe.BytesRead(), err)
	}
	type pv struct {
		key  string
		kind rows.Kind
		text string
	}
	want := []struct {
		id    string
		total []pv
	}{
		{"101", []pv{{"complete", rows.Number, "250.5"}, {"pending", rows.Null, ""}}},
		{"102", []pv{{"complete", rows.Number, "19.0"}, {"pending", rows.Number, "5.25"}}},
	}
	for i := 0; rd.Next(); i++ {
		if i == 0 {
			p := rd.Pivots()
			if len(p) != 2 || p[0].Key != "complete" || p[1].Key != "pending" || p[0].IsTotal || p[1].Data["orders.status"] != "pending" {
				t.Fatalf("pivots %+v", p)
			}
		}
		row := rd.Row()
		checkCell(t, row, "users.id", cellWant{rows.Number, want[i].id})
		c, ok := row.Cell("orders.total")
		if !ok || !c.Value.IsNull() || len(c.Pivoted) != len(want[i].total) {
			t.Fatalf("row %d pivoted cell %+v", i+1, c)
		}
		for j, w := range want[i].total {
			p := c.Pivoted[j]
			if p.Key != w.key || p.Value.Kind() != w.kind || p.Value.String() != w.text {
				t.Fatalf("row %d pivot %d = %q %s %q, want %+v", i+1, j, p.Key, p.Value.Kind(), p.Value.String(), w)
			}
		}
		if !row.Value("orders.total").IsNull() || row.Value("users.id").String() != want[i].id {
			t.Fatal("Row.Value")
		}
	}
	if rd.Err() != nil || rd.Count() != 2 {
		t.Fatalf("end: %v after %d", rd.Err(), rd.Count())
	}
	if at, ok := rd.RanAt(); !ok || at.Format(time.RFC3339) != "2026-11-24T08:00:03Z" {
		t.Fatalf("RanAt %v %v", at, ok)
	}
	if rd.BytesRead() != int64(len(data)) {
		t.Fatalf("BytesRead %d of %d", rd.BytesRead(), len(data))
	}
	same(t, data, "json_detail")
}

func TestVector06CSV(t *testing.T) {
	for _, format := range []string{"csv", ""} {
		rd := rows.NewReader(openVector(t, "06_request.json"), format)
		f, err := rd.Fields()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range f.All() {
			if d.Name != d.Label {
				t.Fatalf("csv field %+v", d)
			}
			names = append(names, d.Name)
		}
		if strings.Join(names, "|") != "Users Email|Users State|Orders Count" {
			t.Fatalf("header %q", names)
		}
		want := [][]string{{"ada@example.com", "California", "12"}, {"grace@example.com", "New York", "7"}}
		for i := 0; rd.Next(); i++ {
			row := rd.Row()
			for j, n := range names {
				checkCell(t, row, n, cellWant{rows.String, want[i][j]})
			}
		}
		if rd.Err() != nil || rd.Count() != 2 || rd.Format() != "csv" {
			t.Fatalf("end: %v after %d (%s)", rd.Err(), rd.Count(), rd.Format())
		}
	}
}

func TestValues(t *testing.T) {
	doc := `{"fields":{"dimensions":[{"name":"a"}]},"data":[{` +
		`"null":{"value":null},"zero":{"value":0},"zerof":{"value":0.0},"false":{"value":false},"true":{"value":true},` +
		`"empty":{"value":""},"e":{"value":"caf\u00e9"},"pair":{"value":"\ud83d\ude00!"},"lone":{"value":"a\ud800b"},` +
		`"quotes":{"value":"say \"hi\" \\ \/ \b\f\n\r\t"},"exp":{"value":-1.5e+300},"exp2":{"value":2E-7},` +
		`"raw":{"value":{"a":[1,{"b":null}],"c":"}"}},"arr":{"value":[1,"2",[]]},"utf8":{"value":"東京 ü"},` +
		`"novalue":{"rendered":"x","links":[]},"emptycell":{},"flat":42,"flatstr":"s","flatnull":null,` +
		`"deep":{"value":1,"links":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}` +
		`}],"sql":` + strings.Repeat(`{"a":`, 3000) + `"\"}"` + strings.Repeat("}", 3000) + `}`
	want := map[string]cellWant{
		"null": {rows.Null, ""}, "zero": {rows.Number, "0"}, "zerof": {rows.Number, "0.0"},
		"false": {rows.Bool, "false"}, "true": {rows.Bool, "true"}, "empty": {rows.String, ""},
		"e": {rows.String, "café"}, "pair": {rows.String, "😀!"}, "lone": {rows.String, "a\uFFFDb"},
		"quotes": {rows.String, "say \"hi\" \\ / \b\f\n\r\t"}, "exp": {rows.Number, "-1.5e+300"},
		"exp2": {rows.Number, "2E-7"}, "raw": {rows.JSON, `{"a":[1,{"b":null}],"c":"}"}`},
		"arr": {rows.JSON, `[1,"2",[]]`}, "utf8": {rows.String, "東京 ü"}, "novalue": {rows.Null, ""},
		"emptycell": {rows.Null, ""}, "flat": {rows.Number, "42"}, "flatstr": {rows.String, "s"},
		"flatnull": {rows.Null, ""}, "deep": {rows.Number, "1"},
	}
	got := same(t, []byte(doc), "json_detail")
	if strings.Contains(got, "error") {
		t.Fatal(got)
	}
	rd := rows.NewReader(strings.NewReader(doc), "")
	if !rd.Next() {
		t.Fatal(rd.Err())
	}
	row := rd.Row()
	if row.Len() != len(want) {
		t.Fatalf("%d cells, want %d", row.Len(), len(want))
	}
	for name, w := range want {
		checkCell(t, row, name, w)
		// AppendJSON must round-trip through encoding/json to the same Go value.
		v := row.Value(name)
		js := v.AppendJSON(nil)
		var back, orig any
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("%s: %q: %v", name, js, err)
		}
		switch v.Kind() {
		case rows.String:
			orig = v.String()
		case rows.Null:
			orig = nil
		default:
			json.Unmarshal(v.Bytes(), &orig)
		}
		if !jsonEqual(back, orig) {
			t.Fatalf("%s: AppendJSON %s decodes to %v, want %v", name, js, back, orig)
		}
	}
	if rd.Next() || rd.Err() != nil {
		t.Fatalf("one row expected: %v", rd.Err())
	}
	if rd.Row().Value("raw").Interface().(json.RawMessage) == nil || rd.Row().Value("zero").Interface().(json.Number) != "0" ||
		rd.Row().Value("true").Interface() != true || rd.Row().Value("null").Interface() != nil {
		t.Fatal("Interface")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestAppendQuoted(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           `"plain"`,
		"a\"b\\c":         `"a\"b\\c"`,
		"\x00\x1f\n\t":    `"\u0000\u001f\n\t"`,
		"bad\xffutf8":     `"bad\ufffdutf8"`,
		"sep\u2028\u2029": `"sep\u2028\u2029"`,
		"<&>":             `"<&>"`,
		"é😀":              `"é😀"`,
	} {
		if got := string(rows.AppendQuoted(nil, []byte(in))); got != want {
			t.Errorf("AppendQuoted(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestTruncatedInputGivesOffset(t *testing.T) {
	for _, name := range []string{"03_download.json"} {
		data := readFile(t, name)
		data = bytes.TrimSpace(data)
		for n := 0; n < len(data); n++ {
			rd := rows.NewReader(bytes.NewReader(data[:n]), "json_detail")
			for rd.Next() {
			}
			var se *rows.SyntaxError
			if !errors.As(rd.Err(), &se) {
				t.Fatalf("prefix %d: error %v, want a SyntaxError", n, rd.Err())
			}
			if se.Offset != int64(n) || se.Msg != "unexpected end of input" || !strings.Contains(se.Error(), "json_detail") {
				t.Fatalf("prefix %d: %v", n, se)
			}
		}
	}
}

func TestMalformed(t *testing.T) {
	// at locates the expected offset: the first occurrence of at in doc (plus shift).
	cases := []struct {
		doc, format string
		at          string
		shift       int
		row         int64
		msg         string
	}{
		{`{"data":[{"a":{"value":1}},{"a":{"value":tru}}]}`, "json_detail", "tru", 0, 2, "invalid literal"},
		{`{"data":[{"a":{"value":1}} {"a":1}]}`, "", ` {"a":1}`, 1, 2, "after a row"},
		{`{"fields":{},"data":[{"a":{"value":01}}]}`, "", "01", 0, 1, "invalid number"},
		{`{"data":[{"a":{"value":"\x"}}]}`, "json_detail", `\x`, 0, 1, "invalid escape"},
		{`{"data":[1]}`, "", "1", 0, 1, "a row must be an object"},
		{`{"data":{}}`, "", "{}", 0, 0, "data must be an array"},
		{`{"fields":{"dimensions":"x"},"data":[]}`, "", `{"dim`, 0, 0, "fields: cannot unmarshal"},
		{`{"sql":[}]}`, "", "}]", 0, 0, "mismatched bracket"},
		{`{"data":[]} x`, "", "x", 0, 0, "after the end of the document"},
		{`{"data":[],}`, "", ",}", 1, 0, "expected a key"},
		{`{"data":[{"a" 1}]}`, "", " 1", 1, 1, "expected ':'"},
		{`{"data":[{"a":{"value":1 "b":2}}]}`, "", ` "b"`, 1, 1, "in a cell"},
		{`{"data":[{"a":1 "b":2}]}`, "", ` "b"`, 1, 1, "after a cell"},
		{`[{"a":1},]`, "json", "]", 0, 2, "a row must be an object"},
		{`[{"a":1}`, "json", "", 8, 2, "unexpected end of input"},
		{`[{"a":{"value":[1,2}}]`, "json", "}}", 0, 1, "mismatched"},
		{`xyz`, "json", "xyz", 0, 0, "expected a JSON object or array"},
		{`{"data":[{"a":{"value":[1 2]}}]}`, "json_detail", "[1 2]", 0, 1, "invalid JSON object or array"},
		{"\xff{}", "", "", 0, 0, ""}, // not JSON: sniffed as CSV, one header field
		{"a,b\n1,2\n3\n", "csv", "", 10, 2, "the row has 1 columns, the header has 2"},
		{"a,b\n1,\"2\n", "csv", "", 9, 1, "extraneous or missing"},
	}
	for _, c := range cases {
		rd := rows.NewReader(strings.NewReader(c.doc), c.format)
		rd.Fields()
		for rd.Next() {
		}
		if c.msg == "" {
			if rd.Err() != nil {
				t.Errorf("%q: %v", c.doc, rd.Err())
			}
			continue
		}
		var se *rows.SyntaxError
		if !errors.As(rd.Err(), &se) {
			t.Errorf("%s: error %v, want a SyntaxError", c.doc, rd.Err())
			continue
		}
		offset := int64(c.shift)
		if c.at != "" {
			offset += int64(strings.Index(c.doc, c.at))
		}
		if se.Offset != offset || se.Row != c.row || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%q: got offset %d row %d %q, want %d %d %q", c.doc, se.Offset, se.Row, se.Msg, offset, c.row, c.msg)
		}
	}
}

func TestUnsupportedFormat(t *testing.T) {
	rd := rows.NewReader(strings.NewReader("x"), "xlsx")
	if _, err := rd.Fields(); err == nil || !strings.Contains(err.Error(), `"xlsx"`) {
		t.Fatalf("Fields: %v", err)
	}
	if rd.Next() || rd.Err() == nil {
		t.Fatal("Next on an unsupported format")
	}
}

func TestEmptyInput(t *testing.T) {
	for _, format := range []string{"", "csv"} {
		rd := rows.NewReader(strings.NewReader(""), format)
		f, err := rd.Fields()
		if err != nil || len(f.All()) != 0 || rd.Next() || rd.Err() != nil {
			t.Fatalf("%q: %v", format, err)
		}
	}
	for _, format := range []string{"json", "json_detail"} {
		rd := rows.NewReader(strings.NewReader("  "), format)
		if _, err := rd.Fields(); err == nil {
			t.Fatalf("%s: empty input accepted", format)
		}
	}
	for _, doc := range []string{`{}`, `{"data":null,"fields":null}`, `{"data":[]}`, `[]`, " \ufeff"[1:] + `{}`} {
		rd := rows.NewReader(strings.NewReader(doc), "")
		f, err := rd.Fields()
		if err != nil || len(f.All()) != 0 || rd.Next() || rd.Err() != nil {
			t.Fatalf("%s: %v %v", doc, err, rd.Err())
		}
	}
}

// errAfter returns data and then err.
type errAfter struct {
	data []byte
	err  error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReadErrorIsWrapped(t *testing.T) {
	dl := &sdk.DownloadError{Bytes: 100, Err: io.ErrUnexpectedEOF}
	full := rowsgen.Bytes(rowsgen.Options{Rows: 50})
	csvData := rowsgen.Bytes(rowsgen.Options{Rows: 50, Format: rowsgen.CSVFormat})
	for _, c := range []struct {
		name, format string
		data         []byte
	}{
		{"json_detail", "json_detail", full[:len(full)/2]},
		{"sniffed", "", full[:len(full)/2]},
		{"json", "json", rowsgen.Bytes(rowsgen.Options{Rows: 50, Format: rowsgen.JSONFormat})[:1000]},
		{"csv", "csv", csvData[:len(csvData)/2]},
		{"nothing", "", nil},
	} {
		rd := rows.NewReader(&errAfter{data: c.data, err: dl}, c.format)
		n := 0
		for rd.Next() {
			n++
		}
		var got *sdk.DownloadError
		if !errors.As(rd.Err(), &got) || got != dl || !errors.Is(rd.Err(), io.ErrUnexpectedEOF) {
			t.Fatalf("%s: error %v does not wrap the DownloadError", c.name, rd.Err())
		}
		var re *rows.ReadError
		if !errors.As(rd.Err(), &re) || re.Offset != int64(len(c.data)) {
			t.Fatalf("%s: %v", c.name, rd.Err())
		}
		if n == 0 && len(c.data) > 2000 {
			t.Fatalf("%s: no row before the failure", c.name)
		}
	}
	// An error after a complete document is ignored (Node ignores ECONNRESET after the body).
	rd := rows.NewReader(&errAfter{data: full, err: dl}, "json_detail")
	for rd.Next() {
	}
	if rd.Err() != nil || rd.Count() != 50 {
		t.Fatalf("complete document: %v after %d rows", rd.Err(), rd.Count())
	}
}

func TestGeneratedMatchesText(t *testing.T) {
	cols := append(rowsgen.DefaultColumns(),
		rowsgen.Column{Name: "users.bio", Kind: rowsgen.Unicode},
		rowsgen.Column{Name: "users.active", Kind: rowsgen.Bool},
		rowsgen.Column{Name: "orders.count", Kind: rowsgen.Int, Measure: true})
	for _, o := range []rowsgen.Options{
		{Rows: 3000, Columns: cols},
		{Rows: 3000, Columns: cols, Pivots: []string{"complete", "pending", "$$$_row_total_$$$"}, NullEvery: 7, Rendered: true, Extra: true},
		{Rows: 3000, Columns: cols, DataFirst: true, NullEvery: 5},
		{Rows: 3000, Columns: cols, Format: rowsgen.JSONFormat, Pivots: []string{"a", "b"}, NullEvery: 3},
		{Rows: 3000, Columns: cols, Format: rowsgen.CSVFormat, NullEvery: 3},
	} {
		rd := rows.NewReader(rowsgen.NewReader(o), "")
		f, err := rd.Fields()
		if err != nil {
			t.Fatal(err)
		}
		isCSV := o.Format == rowsgen.CSVFormat
		if len(f.All()) != len(cols) {
			t.Fatalf("%d fields", len(f.All()))
		}
		if o.Format == "" && (f.FirstTagged("email") == nil || f.FirstTagged("email").Name != "users.email") {
			t.Fatalf("fields %+v", f)
		}
		for rd.Next() {
			row := rd.Row()
			n := int(row.Number())
			for i := range cols {
				if o.Pivoted(i) {
					c := row.At(i)
					if len(c.Pivoted) != len(o.Pivots) {
						t.Fatalf("row %d col %d: %d pivots", n, i, len(c.Pivoted))
					}
					for p, pv := range c.Pivoted {
						text, null := o.Text(n, i, p)
						if pv.Key != o.Pivots[p] || pv.Value.IsNull() != null || pv.Value.String() != text {
							t.Fatalf("row %d col %d pivot %d: %q %q, want %q %q", n, i, p, pv.Key, pv.Value.String(), o.Pivots[p], text)
						}
					}
					continue
				}
				text, null := o.Text(n, i, 0)
				v := row.At(i).Value
				if isCSV {
					null = false
				}
				if v.IsNull() != null || v.String() != text {
					t.Fatalf("%+v row %d col %d: %s %q, want %q (null %v)", o, n, i, v.Kind(), v.String(), text, null)
				}
			}
		}
		if rd.Err() != nil || rd.Count() != 3000 {
			t.Fatalf("%v after %d rows", rd.Err(), rd.Count())
		}
		if o.Format == "" {
			if at, ok := rd.RanAt(); !ok || at.Format(time.RFC3339) != "2026-11-24T08:00:03Z" {
				t.Fatal("ran_at")
			}
		}
		if len(o.Pivots) > 0 && o.Format == "" && len(rd.Pivots()) != len(o.Pivots) {
			t.Fatal("pivots")
		}
	}
}

func TestDataBeforeFieldsIsSpooled(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	o := rowsgen.Options{Rows: 20000, DataFirst: true, Extra: true, NullEvery: 11}
	data := rowsgen.Bytes(o)
	rd := rows.NewReader(bytes.NewReader(data), "json_detail_lite_stream")
	f, err := rd.Fields()
	if err != nil || len(f.Dimensions) != 4 || len(f.Measures) != 1 {
		t.Fatalf("Fields: %+v %v", f, err)
	}
	if rd.BytesRead() != int64(len(data)) {
		t.Fatalf("fields come last: whole input must be read (%d of %d)", rd.BytesRead(), len(data))
	}
	if _, ok := rd.RanAt(); !ok {
		t.Fatal("ran_at precedes fields")
	}
	left, _ := os.ReadDir(dir)
	for rd.Next() {
		n := int(rd.Row().Number())
		text, null := o.Text(n, 1, 0)
		if v := rd.Row().Value("users.email"); v.String() != text || v.IsNull() != null {
			t.Fatalf("row %d: %q", n, v.String())
		}
	}
	if rd.Err() != nil || rd.Count() != 20000 {
		t.Fatalf("%v after %d", rd.Err(), rd.Count())
	}
	after, _ := os.ReadDir(dir)
	if len(after) != 0 || len(left) != 0 {
		t.Fatalf("spool files left: %d during, %d after", len(left), len(after))
	}
	// Same result as fields-first, whatever the read sizes.
	o.DataFirst = false
	first := dump(t, rowsgen.NewReader(o), "json_detail")
	o.DataFirst = true
	if got := same(t, data, "json_detail"); got != first {
		t.Fatalf("data-first differs from fields-first")
	}
	// Without any fields the spooled rows still come out, after the end of the document.
	rd = rows.NewReader(strings.NewReader(`{"data":[{"a":{"value":1}}],"x":[1],"data":[{"a":{"value":2}}]}`), "")
	var got []string
	for rd.Next() {
		got = append(got, rd.Row().Value("a").String())
	}
	if rd.Err() != nil || strings.Join(got, ",") != "1,2" {
		t.Fatalf("no fields: %v %v", got, rd.Err())
	}
}

func TestSpooledErrorOffsetIsInOriginalInput(t *testing.T) {
	doc := `{"sql":"x","data":[{"a":{"value":1}},{"a":{"value":nul}}],"fields":{}}`
	rd := rows.NewReader(strings.NewReader(doc), "json_detail")
	for rd.Next() {
	}
	var se *rows.SyntaxError
	if !errors.As(rd.Err(), &se) || se.Offset != int64(strings.Index(doc, "nul}")) || se.Row != 2 {
		t.Fatalf("%v", rd.Err())
	}
	// A data section that is not even balanced fails while spooling.
	rd = rows.NewReader(strings.NewReader(`{"data":[{"a":{"value":1]}],"fields":{}}`), "json_detail")
	if rd.Next() || !errors.As(rd.Err(), &se) || se.Offset != 24 {
		t.Fatalf("%v", rd.Err())
	}
}

func TestCloseStops(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	rd := rows.NewReader(rowsgen.NewReader(rowsgen.Options{Rows: 100, DataFirst: true}), "")
	if !rd.Next() {
		t.Fatal(rd.Err())
	}
	rd.Close()
	if rd.Next() || rd.Err() != nil {
		t.Fatalf("Next after Close (%v)", rd.Err())
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%d files left", len(left))
	}
}

func TestJSONArray(t *testing.T) {
	doc := `[{"Users Email":"a@x.com","Count":1,"Cell":{"value":"v","rendered":"V"},"Piv":{"x":1,"y":null}},` +
		`{"Count":2,"Users Email":null,"Extra":true}]`
	rd := rows.NewReader(strings.NewReader(doc), "json_label")
	f, err := rd.Fields()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Dimensions {
		names = append(names, d.Name+"="+d.Label)
	}
	if strings.Join(names, ",") != "Users Email=Users Email,Count=Count,Cell=Cell,Piv=Piv" {
		t.Fatalf("fields %v", names)
	}
	if !rd.Next() {
		t.Fatal(rd.Err())
	}
	row := rd.Row()
	checkCell(t, row, "Users Email", cellWant{rows.String, "a@x.com"})
	checkCell(t, row, "Count", cellWant{rows.Number, "1"})
	checkCell(t, row, "Cell", cellWant{rows.String, "v"})
	if c, _ := row.Cell("Piv"); len(c.Pivoted) != 2 || c.Pivoted[0].Key != "x" || c.Pivoted[0].Value.String() != "1" || !c.Pivoted[1].Value.IsNull() {
		t.Fatalf("Piv %+v", c)
	}
	if !rd.Next() {
		t.Fatal(rd.Err())
	}
	row = rd.Row()
	checkCell(t, row, "Count", cellWant{rows.Number, "2"})
	checkCell(t, row, "Users Email", cellWant{rows.Null, ""})
	checkCell(t, row, "Extra", cellWant{rows.Bool, "true"})
	if _, ok := row.Cell("Cell"); ok {
		t.Fatal("absent cell found")
	}
	if rd.Next() || rd.Err() != nil || rd.Count() != 2 {
		t.Fatalf("end: %v", rd.Err())
	}
	// Next without Fields; Fields afterwards still works.
	rd = rows.NewReader(strings.NewReader(doc), "")
	if !rd.Next() || rd.Row().Number() != 1 {
		t.Fatal(rd.Err())
	}
	if f, err := rd.Fields(); err != nil || len(f.Dimensions) != 4 || rd.Format() != "json" {
		t.Fatalf("%v %v", f, err)
	}
	same(t, []byte(doc), "json")
}

func TestDuplicateAndChangingKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString(`[`)
	// Wide rows (index map) whose layout changes from row to row.
	for r := 0; r < 4; r++ {
		if r > 0 {
			b.WriteString(",")
		}
		b.WriteString("{")
		for i := 0; i < 20; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			k := (i + r) % 20
			if r == 3 {
				k = 19 - i
			}
			b.WriteString(`"k` + string(rune('a'+k)) + `":` + string(rune('0'+k%10)))
		}
		b.WriteString(`,"ka":"last"}`)
	}
	b.WriteString(`]`)
	rd := rows.NewReader(strings.NewReader(b.String()), "json")
	for rd.Next() {
		row := rd.Row()
		if row.Len() != 21 {
			t.Fatalf("len %d", row.Len())
		}
		for k := 1; k < 20; k++ {
			if got := row.Value("k" + string(rune('a'+k))).String(); got != string(rune('0'+k%10)) {
				t.Fatalf("row %d k%c = %q", row.Number(), 'a'+k, got)
			}
		}
		if got := row.Value("ka").String(); got != "last" {
			t.Fatalf("duplicate key: %q, want the last", got)
		}
		if _, ok := row.Cell("zz"); ok {
			t.Fatal("absent")
		}
	}
	if rd.Err() != nil || rd.Count() != 4 {
		t.Fatal(rd.Err())
	}
}

func TestCSV(t *testing.T) {
	doc := "\ufeffName,\"Quote \"\"q\"\"\",Multi\r\nAda,\"x,y\",\"line1\nline2\"\r\n\r\nBob,,\n"
	rd := rows.NewReader(strings.NewReader(doc), "")
	f, err := rd.Fields()
	if err != nil || len(f.Dimensions) != 3 || f.Dimensions[0].Name != "Name" || f.Dimensions[1].Name != `Quote "q"` {
		t.Fatalf("%+v %v", f, err)
	}
	var got []string
	for rd.Next() {
		r := rd.Row()
		got = append(got, r.Value("Name").String()+"|"+r.Value(`Quote "q"`).String()+"|"+r.Value("Multi").String())
	}
	if rd.Err() != nil || strings.Join(got, ";") != "Ada|x,y|line1\nline2;Bob||" {
		t.Fatalf("%q %v", got, rd.Err())
	}
	if rd.BytesRead() != int64(len(doc)) {
		t.Fatalf("BytesRead %d", rd.BytesRead())
	}
	same(t, []byte(doc), "csv")
	// Leading spaces are data for sniffed CSV.
	rd = rows.NewReader(strings.NewReader(" a,b\n1,2\n"), "")
	if f, _ := rd.Fields(); f.Dimensions[0].Name != " a" {
		t.Fatalf("%q", f.Dimensions[0].Name)
	}
}

func TestAllocationsPerRow(t *testing.T) {
	// The marginal cost of rows: reading 2n rows may allocate hardly more than reading n
	// (the fixed cost — buffers, fields, the generator — is the same).
	const n = 10000
	for _, o := range []rowsgen.Options{
		{},
		{Rendered: true, Pivots: []string{"a", "b"}, NullEvery: 3, Extra: true},
		{Format: rowsgen.JSONFormat},
		{Format: rowsgen.CSVFormat},
	} {
		count := func(rowsN int) float64 {
			o := o
			o.Rows = rowsN
			return testing.AllocsPerRun(2, func() {
				rd := rows.NewReader(rowsgen.NewReader(o), "")
				for rd.Next() {
					for i := 0; i < rd.Row().Len(); i++ {
						_ = rd.Row().At(i).Value.Bytes()
					}
				}
				if rd.Err() != nil || rd.Count() != int64(rowsN) {
					t.Fatal(rd.Err())
				}
			})
		}
		per := (count(2*n) - count(n)) / n
		max := 0.01
		if o.Format == rowsgen.CSVFormat {
			max = 1.01 // encoding/csv allocates one string per record
		}
		if per > max {
			t.Fatalf("%+v: %.3f allocations per row", o, per)
		}
	}
}
