// Package rowsgen generates Looker query data (json_detail / json_detail_lite_stream, the
// flat JSON array format and CSV) on the fly, for tests, benchmarks and the Looker
// simulator. Output is deterministic: the value of any cell can be recomputed with
// Options.Text, so a test can check what an action sent for row n without keeping the data.
// Generation never holds more than one chunk (~32 KiB) whatever Options.Rows is.
//
//	r := rowsgen.NewReader(rowsgen.Options{Rows: 1_000_000}) // 5 columns, ~150 bytes a row
//	rd := rows.NewReader(r, "json_detail_lite_stream")
package rowsgen

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
)

// Kind says what values a column holds. Row n (1-based) of a non-pivoted column uses v = n;
// pivot column p of a pivoted measure uses v = n*len(Pivots)+p.
type Kind uint8

// Column kinds.
const (
	String  Kind = iota // "Name <v>"
	Email               // "user<v>@example.com"
	Int                 // <v>
	Float               // <v>.<v%100, two digits>, e.g. 123.23
	Bool                // v%2 == 0
	Date                // "2026-MM-DD" with MM = v%12+1, DD = v%28+1
	Unicode             // "Zoë \"q\" \\ 😀 東京 <v>\n", written with \u escapes and a surrogate pair
)

// Column is one generated field.
type Column struct {
	Name    string // view.field
	Label   string // "" → derived from Name ("users.email" → "Users Email")
	Tags    []string
	Kind    Kind
	Measure bool // listed under measures (pivoted when Options.Pivots is set) instead of dimensions
	Hidden  bool // the field's "hidden" attribute
}

// Formats NewReader can generate.
const (
	JSONDetailFormat = "json_detail" // {"fields":..., "pivots":..., "data":[{"f":{"value":x}}], "ran_at":...}
	JSONFormat       = "json"        // [{"f": x, ...}, ...]
	CSVFormat        = "csv"         // header of labels, then values
)

// DefaultRanAt is the ran_at written when Options.RanAt is empty.
const DefaultRanAt = "2026-11-24T08:00:03+00:00"

// Options describe the data to generate.
type Options struct {
	Rows    int
	Columns []Column // nil → DefaultColumns()
	// Pivots are pivot keys: when set, measure columns are pivoted (one cell per key) and
	// json_detail gets top-level "pivots" and a pivot field "orders.status".
	Pivots []string
	// NullEvery makes the value of column c in row n null when (n+c) % NullEvery == 0.
	NullEvery int
	// DataFirst writes "data" before "fields" (json_detail), as the Node hub tolerates.
	DataFirst bool
	// Rendered adds "rendered" and "links" to every json_detail cell, like full json_detail.
	Rendered bool
	// Extra adds top-level keys a reader must skip (sql, applied_filters, explore, ...).
	Extra bool
	// RanAt is json_detail's ran_at ("" → DefaultRanAt).
	RanAt string
	// Format is what NewReader generates: JSONDetailFormat (default), JSONFormat or CSVFormat.
	Format string
}

// DefaultColumns are five columns of about 150 bytes a row in json_detail_lite_stream:
// users.id (Int, tag user_id), users.email (Email, tag email), users.name (String),
// users.created (Date) and the measure orders.total (Float).
func DefaultColumns() []Column {
	return []Column{
		{Name: "users.id", Tags: []string{"user_id"}, Kind: Int},
		{Name: "users.email", Tags: []string{"email"}, Kind: Email},
		{Name: "users.name", Kind: String},
		{Name: "users.created", Kind: Date},
		{Name: "orders.total", Kind: Float, Measure: true},
	}
}

func (o *Options) columns() []Column {
	if o.Columns == nil {
		return DefaultColumns()
	}
	return o.Columns
}

// Pivoted reports whether column col is a pivoted measure.
func (o Options) Pivoted(col int) bool {
	return len(o.Pivots) > 0 && o.columns()[col].Measure
}

// Text returns the text of the value of column col in row n (1-based) — pivot column
// pivot for a pivoted measure, ignored otherwise — as rows.Value.String returns it, and
// whether the value is null.
func (o Options) Text(n, col, pivot int) (text string, null bool) {
	b, null := o.appendText(nil, n, col, pivot)
	return string(b), null
}

func (o *Options) seed(n, col, pivot int) int64 {
	if o.Pivoted(col) {
		return int64(n)*int64(len(o.Pivots)) + int64(pivot)
	}
	return int64(n)
}

func (o *Options) isNull(n, col int) bool {
	return o.NullEvery > 0 && (n+col)%o.NullEvery == 0
}

func (o *Options) appendText(b []byte, n, col, pivot int) ([]byte, bool) {
	if o.isNull(n, col) {
		return b, true
	}
	v := o.seed(n, col, pivot)
	switch o.columns()[col].Kind {
	case String:
		b = strconv.AppendInt(append(b, "Name "...), v, 10)
	case Email:
		b = append(strconv.AppendInt(append(b, "user"...), v, 10), "@example.com"...)
	case Int:
		b = strconv.AppendInt(b, v, 10)
	case Float:
		b = appendFloat(b, v)
	case Bool:
		b = strconv.AppendBool(b, v%2 == 0)
	case Date:
		b = appendDate(b, v)
	case Unicode:
		b = append(strconv.AppendInt(append(b, "Zoë \"q\" \\ 😀 東京 "...), v, 10), '\n')
	}
	return b, false
}

func appendFloat(b []byte, v int64) []byte {
	b = append(strconv.AppendInt(b, v, 10), '.')
	f := v % 100
	return append(b, byte('0'+f/10), byte('0'+f%10))
}

func appendDate(b []byte, v int64) []byte {
	m, d := v%12+1, v%28+1
	return append(b, '2', '0', '2', '6', '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// appendJSON appends the value as JSON.
func (o *Options) appendJSON(b []byte, n, col, pivot int) []byte {
	if o.isNull(n, col) {
		return append(b, "null"...)
	}
	v := o.seed(n, col, pivot)
	switch o.columns()[col].Kind {
	case String, Email, Date:
		b = append(b, '"')
		b, _ = o.appendText(b, n, col, pivot)
		return append(b, '"')
	case Unicode:
		b = append(b, `"Zo\u00eb \"q\" \\ \ud83d\ude00 東京 `...)
		return append(strconv.AppendInt(b, v, 10), `\n"`...)
	}
	b, _ = o.appendText(b, n, col, pivot)
	return b
}

// label derives a label from a field name: "users.created_date" → "Users Created Date".
func label(c Column) string {
	if c.Label != "" {
		return c.Label
	}
	words := strings.FieldsFunc(c.Name, func(r rune) bool { return r == '.' || r == '_' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

type field struct {
	Name       string   `json:"name"`
	Label      string   `json:"label"`
	LabelShort string   `json:"label_short"`
	View       string   `json:"view"`
	ViewLabel  string   `json:"view_label"`
	Type       string   `json:"type"`
	Tags       []string `json:"tags"`
	Measure    bool     `json:"measure"`
	IsNumeric  bool     `json:"is_numeric"`
	Hidden     bool     `json:"hidden"`
	Sortable   bool     `json:"sortable"`
	ValueFmt   *string  `json:"value_format"`
}

// PivotField is the pivot dimension named in json_detail's fields when Options.Pivots is set.
const PivotField = "orders.status"

func makeField(c Column) field {
	view, _, _ := strings.Cut(c.Name, ".")
	lbl := label(c)
	vl := label(Column{Name: view})
	f := field{Name: c.Name, Label: lbl, LabelShort: strings.TrimSpace(strings.TrimPrefix(lbl, vl)), View: view,
		ViewLabel: vl, Type: "string", Tags: c.Tags, Measure: c.Measure, Hidden: c.Hidden, Sortable: true}
	if f.Tags == nil {
		f.Tags = []string{}
	}
	switch c.Kind {
	case Int, Float:
		f.Type, f.IsNumeric = "number", true
		if c.Measure {
			f.Type = "sum"
		}
	case Bool:
		f.Type = "yesno"
	case Date:
		f.Type = "date_date"
	}
	return f
}

// fieldsJSON is the json_detail "fields" member, plus "pivots" when pivoted.
func (o *Options) fieldsJSON() []byte {
	var dims, meas []field
	for _, c := range o.columns() {
		if c.Measure {
			meas = append(meas, makeField(c))
		} else {
			dims = append(dims, makeField(c))
		}
	}
	pivs := []field{}
	if len(o.Pivots) > 0 {
		pivs = append(pivs, makeField(Column{Name: PivotField}))
	}
	f := map[string]any{"dimensions": nonNil(dims), "measures": nonNil(meas), "filters": []field{},
		"parameters": []field{}, "table_calculations": []field{}, "pivots": pivs}
	b, _ := json.Marshal(f)
	out := append([]byte(`"fields":`), b...)
	if len(o.Pivots) > 0 {
		type pivot struct {
			Key      string                       `json:"key"`
			IsTotal  bool                         `json:"is_total"`
			Data     map[string]string            `json:"data"`
			Metadata map[string]map[string]string `json:"metadata"`
		}
		var ps []pivot
		for _, k := range o.Pivots {
			ps = append(ps, pivot{Key: k, Data: map[string]string{PivotField: k},
				Metadata: map[string]map[string]string{PivotField: {"value": k}}})
		}
		b, _ := json.Marshal(ps)
		out = append(append(out, `,"pivots":`...), b...)
	}
	return out
}

func nonNil(f []field) []field {
	if f == nil {
		return []field{}
	}
	return f
}

const extraJSON = `"status":"complete","from_cache":false,"id":"q1","sql":"SELECT users.id AS \"users.id\" -- {\"not\": [\"data\"]}\nFROM users LIMIT 500","applied_filters":{"users.created_date":{"field":{"name":"users.created_date","tags":[]},"value":"30 days"}},"explore":{"name":"users","label":"Users","description":null},"runtime":"0.123","has_totals":false,"drill_menu_build_time":0.5,`

type gen struct {
	o     Options
	stage int
	n     int // rows written
	buf   []byte
	off   int
	keys  [][]byte // per column: `"name":`
	pkeys [][]byte // per pivot: `"key":`
}

// NewReader returns a reader generating the data described by opts on the fly.
func NewReader(opts Options) io.Reader {
	opts.Columns = opts.columns()
	g := &gen{o: opts, buf: make([]byte, 0, 40<<10)}
	for _, c := range opts.columns() {
		k, _ := json.Marshal(c.Name)
		g.keys = append(g.keys, append(k, ':'))
	}
	for _, p := range opts.Pivots {
		k, _ := json.Marshal(p)
		g.pkeys = append(g.pkeys, append(k, ':'))
	}
	return g
}

// JSONDetail writes opts as a json_detail document to w (whatever opts.Format says).
func JSONDetail(w io.Writer, opts Options) error {
	opts.Format = JSONDetailFormat
	_, err := io.Copy(w, NewReader(opts))
	return err
}

// JSON writes opts as a flat JSON array (the json / json_label / inline_json shape) to w.
func JSON(w io.Writer, opts Options) error {
	opts.Format = JSONFormat
	_, err := io.Copy(w, NewReader(opts))
	return err
}

// CSV writes opts as CSV to w: a header of labels (a pivoted measure gets one column per
// pivot key, labelled "<label> | <key>"), then one line per row, null as an empty field.
func CSV(w io.Writer, opts Options) error {
	opts.Format = CSVFormat
	_, err := io.Copy(w, NewReader(opts))
	return err
}

// Bytes returns the generated data in memory (for small tests).
func Bytes(opts Options) []byte {
	b, _ := io.ReadAll(NewReader(opts))
	return b
}

func (g *gen) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if g.off == len(g.buf) && !g.fill() {
			if n == 0 {
				return 0, io.EOF
			}
			break
		}
		c := copy(p[n:], g.buf[g.off:])
		g.off += c
		n += c
	}
	return n, nil
}

// fill produces the next chunk; false when everything was written.
func (g *gen) fill() bool {
	g.buf, g.off = g.buf[:0], 0
	o := &g.o
	switch g.stage {
	case 0:
		g.stage = 1
		g.buf = g.header(g.buf)
	case 1:
		for g.n < o.Rows && len(g.buf) < 32<<10 {
			g.n++
			switch o.Format {
			case CSVFormat:
				g.buf = g.csvRow(g.buf, g.n)
			case JSONFormat:
				if g.n > 1 {
					g.buf = append(g.buf, ',')
				}
				g.buf = g.jsonRow(g.buf, g.n)
			default:
				if g.n > 1 {
					g.buf = append(g.buf, ',')
				}
				g.buf = g.detailRow(g.buf, g.n)
			}
		}
		if g.n >= o.Rows {
			g.stage = 2
		}
	case 2:
		g.stage = 3
		g.buf = g.trailer(g.buf)
	default:
		return false
	}
	return true
}

func (g *gen) ranAt() string {
	if g.o.RanAt != "" {
		return g.o.RanAt
	}
	return DefaultRanAt
}

func (g *gen) header(b []byte) []byte {
	o := &g.o
	switch o.Format {
	case CSVFormat:
		for i, c := range o.columns() {
			if o.Pivoted(i) {
				for j, p := range o.Pivots {
					if i+j > 0 {
						b = append(b, ',')
					}
					b = appendCSV(b, []byte(label(c)+" | "+p))
				}
				continue
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCSV(b, []byte(label(c)))
		}
		return append(b, '\n')
	case JSONFormat:
		return append(b, '[')
	}
	b = append(b, '{')
	if o.Extra {
		b = append(b, extraJSON...)
	}
	if o.DataFirst {
		return append(b, `"data":[`...)
	}
	b = append(b, o.fieldsJSON()...)
	return append(b, `,"data":[`...)
}

func (g *gen) trailer(b []byte) []byte {
	o := &g.o
	switch o.Format {
	case CSVFormat:
		return b
	case JSONFormat:
		return append(b, ']')
	}
	b = append(b, `],"ran_at":`...)
	r, _ := json.Marshal(g.ranAt())
	b = append(b, r...)
	if o.DataFirst {
		b = append(append(b, ','), o.fieldsJSON()...)
	}
	if o.Extra {
		b = append(b, `,"timezone":"America/Los_Angeles","null_sort_treatment":"low"`...)
	}
	return append(b, '}')
}

func (g *gen) detailCell(b []byte, n, col, pivot int) []byte {
	b = append(b, `{"value":`...)
	b = g.o.appendJSON(b, n, col, pivot)
	if g.o.Rendered && !g.o.isNull(n, col) {
		b = append(b, `,"rendered":`...)
		switch g.o.columns()[col].Kind {
		case String, Email, Date, Unicode:
			b = g.o.appendJSON(b, n, col, pivot)
		default:
			b = append(b, '"')
			b, _ = g.o.appendText(b, n, col, pivot)
			b = append(b, '"')
		}
		b = append(b, `,"links":[{"label":"Show All","type":"measure_default","type_label":"Drill into \"x\"","url":"/explore/ecommerce/users?fields=users.id&f[users.id]=1"}]`...)
	}
	return append(b, '}')
}

func (g *gen) detailRow(b []byte, n int) []byte {
	b = append(b, '{')
	for i := range g.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, g.keys[i]...)
		if g.o.Pivoted(i) {
			b = append(b, '{')
			for j := range g.pkeys {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, g.pkeys[j]...)
				b = g.detailCell(b, n, i, j)
			}
			b = append(b, '}')
			continue
		}
		b = g.detailCell(b, n, i, 0)
	}
	return append(b, '}')
}

func (g *gen) jsonRow(b []byte, n int) []byte {
	b = append(b, '{')
	for i := range g.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, g.keys[i]...)
		if g.o.Pivoted(i) {
			b = append(b, '{')
			for j := range g.pkeys {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, g.pkeys[j]...)
				b = g.o.appendJSON(b, n, i, j)
			}
			b = append(b, '}')
			continue
		}
		b = g.o.appendJSON(b, n, i, 0)
	}
	return append(b, '}')
}

func (g *gen) csvRow(b []byte, n int) []byte {
	o := &g.o
	first := true
	for i := range g.keys {
		np := 1
		if o.Pivoted(i) {
			np = len(o.Pivots)
		}
		for j := 0; j < np; j++ {
			if !first {
				b = append(b, ',')
			}
			first = false
			start := len(b)
			b, _ = o.appendText(b, n, i, j)
			if needsQuote(b[start:]) {
				field := []byte(string(b[start:]))
				b = appendCSV(b[:start], field)
			}
		}
	}
	return append(b, '\n')
}

func needsQuote(f []byte) bool {
	for _, c := range f {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}

func appendCSV(b, f []byte) []byte {
	if !needsQuote(f) {
		return append(b, f...)
	}
	b = append(b, '"')
	for _, c := range f {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}
