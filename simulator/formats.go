package simulator

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/actionhub/actionhub/sdk/rows"
	"html"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

// queryFormats are the data formats the simulator produces for query sends.
var queryFormats = []sdk.Format{
	sdk.FormatJSONDetailLiteStream, sdk.FormatJSONDetail, sdk.FormatJSON, sdk.FormatJSONLabel,
	sdk.FormatInlineJSON, sdk.FormatCSV, sdk.FormatTxt, sdk.FormatHTML,
}

// dashboardFormats are the rendered formats the simulator produces for dashboard sends.
var dashboardFormats = []sdk.Format{sdk.FormatWysiwygPNG, sdk.FormatWysiwygPDF, sdk.FormatAssembledPDF}

// FormatsForType returns the formats the simulator can produce for a request type
// ("query", "dashboard"; a cell send has no data file).
func FormatsForType(typ string) []sdk.Format {
	switch typ {
	case "query", "":
		return queryFormats
	case "dashboard":
		return dashboardFormats
	}
	return nil
}

// MimeType is the attachment mimetype Looker uses for a format (without ";base64").
func MimeType(f sdk.Format) string {
	switch f {
	case sdk.FormatCSV:
		return "text/csv"
	case sdk.FormatTxt:
		return "text/plain"
	case sdk.FormatHTML:
		return "text/html"
	case sdk.FormatWysiwygPNG:
		return "image/png"
	case sdk.FormatWysiwygPDF, sdk.FormatAssembledPDF:
		return "application/pdf"
	}
	return "application/json"
}

// Extension is the attachment extension Looker uses for a format.
func Extension(f sdk.Format) string {
	switch f {
	case sdk.FormatWysiwygPNG:
		return "png"
	case sdk.FormatWysiwygPDF, sdk.FormatAssembledPDF:
		return "pdf"
	case sdk.FormatJSONDetailLiteStream:
		return "json"
	}
	return f.Extension()
}

// IsBinary reports whether a pushed attachment of this format is base64-encoded.
func IsBinary(f sdk.Format) bool {
	switch f {
	case sdk.FormatWysiwygPNG, sdk.FormatWysiwygPDF, sdk.FormatAssembledPDF:
		return true
	}
	return false
}

// Meta is the context written into data files.
type Meta struct {
	Title string
	RanAt time.Time
}

// WriteData writes ds to w in a data format, streaming: memory does not depend on the
// number of rows. rows, when not nil, counts the rows written.
func WriteData(ctx context.Context, w io.Writer, f sdk.Format, ds *Dataset, meta Meta, rows *atomic.Int64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fw := &formatWriter{w: bw, ds: ds, meta: meta, rows: rows}
	fw.off, _ = ds.Offsets()
	var err error
	switch f {
	case sdk.FormatJSONDetail, sdk.FormatJSONDetailLiteStream:
		err = fw.jsonDetail(ctx, f == sdk.FormatJSONDetail)
	case sdk.FormatJSON, sdk.FormatInlineJSON:
		err = fw.simpleJSON(ctx, false)
	case sdk.FormatJSONLabel:
		err = fw.simpleJSON(ctx, true)
	case sdk.FormatCSV:
		err = fw.delimited(ctx, ',')
	case sdk.FormatTxt:
		err = fw.delimited(ctx, '\t')
	case sdk.FormatHTML:
		err = fw.html(ctx)
	default:
		return fmt.Errorf("the simulator cannot produce %s data", f)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

type formatWriter struct {
	w    *bufio.Writer
	ds   *Dataset
	meta Meta
	rows *atomic.Int64
	off  []int
	buf  []byte
}

func (fw *formatWriter) count() {
	if fw.rows != nil {
		fw.rows.Add(1)
	}
}

func (fw *formatWriter) ranAt() string {
	t := fw.meta.RanAt
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format("2006-01-02T15:04:05-07:00")
}

// fieldJSON is a LookML field description as json_detail carries it.
type fieldJSON struct {
	Name        string   `json:"name"`
	Label       string   `json:"label"`
	LabelShort  string   `json:"label_short"`
	View        string   `json:"view"`
	ViewLabel   string   `json:"view_label"`
	Type        string   `json:"type"`
	Tags        []string `json:"tags"`
	Measure     bool     `json:"measure"`
	IsNumeric   bool     `json:"is_numeric"`
	Hidden      bool     `json:"hidden"`
	Sortable    bool     `json:"sortable"`
	ValueFormat *string  `json:"value_format"`
	Align       string   `json:"align"`
}

func describe(c Column) fieldJSON {
	f := fieldJSON{Name: c.Name, Label: c.FullLabel(), LabelShort: c.ShortLabel(), View: c.View(),
		ViewLabel: titleWords(c.View()), Tags: c.Tags, Measure: c.Measure, IsNumeric: c.Numeric || c.Measure,
		Sortable: true, Type: "string", Align: "left"}
	if f.Tags == nil {
		f.Tags = []string{}
	}
	switch {
	case c.Measure && genKindOf(c) == kindCount:
		f.Type = "count"
	case c.Measure:
		f.Type = "sum"
	case f.IsNumeric:
		f.Type = "number"
	case genKindOf(c) == kindDate:
		f.Type = "date_date"
	}
	if f.IsNumeric {
		f.Align = "right"
	}
	return f
}

func (fw *formatWriter) fieldsJSON() []byte {
	var dims, meas []fieldJSON
	for _, c := range fw.ds.Columns {
		if c.Measure {
			meas = append(meas, describe(c))
		} else {
			dims = append(dims, describe(c))
		}
	}
	pivots := []fieldJSON{}
	if fw.ds.pivoted() {
		pivots = append(pivots, describe(*fw.ds.Pivot))
	}
	obj := struct {
		Dimensions        []fieldJSON `json:"dimensions"`
		Measures          []fieldJSON `json:"measures"`
		Filters           []fieldJSON `json:"filters"`
		Parameters        []fieldJSON `json:"parameters"`
		TableCalculations []fieldJSON `json:"table_calculations"`
		Pivots            []fieldJSON `json:"pivots"`
	}{nonNil(dims), nonNil(meas), []fieldJSON{}, []fieldJSON{}, []fieldJSON{}, pivots}
	b, _ := json.Marshal(obj)
	return b
}

func nonNil(f []fieldJSON) []fieldJSON {
	if f == nil {
		return []fieldJSON{}
	}
	return f
}

func (fw *formatWriter) pivotsJSON() []byte {
	type pivot struct {
		Key      string                    `json:"key"`
		IsTotal  bool                      `json:"is_total"`
		Data     map[string]string         `json:"data"`
		Metadata map[string]map[string]any `json:"metadata"`
	}
	var ps []pivot
	for _, v := range fw.ds.PivotValues {
		ps = append(ps, pivot{Key: v, Data: map[string]string{fw.ds.Pivot.Name: v},
			Metadata: map[string]map[string]any{fw.ds.Pivot.Name: {"value": v}}})
	}
	b, _ := json.Marshal(ps)
	return b
}

// jsonDetail writes json_detail (full: with Looker's query metadata) or the lite stream
// variant (fields, pivots, ran_at, data).
func (fw *formatWriter) jsonDetail(ctx context.Context, full bool) error {
	w := fw.w
	if full {
		view := "query"
		if len(fw.ds.Columns) > 0 && fw.ds.Columns[0].View() != "" {
			view = fw.ds.Columns[0].View()
		}
		var names []string
		for _, c := range fw.ds.Columns {
			names = append(names, c.Name)
		}
		fmt.Fprintf(w, `{"status":"complete","from_cache":false,"id":%q,"result_source":"query",`+
			`"supports_pivot_in_db":true,"null_sort_treatment":"low","expired":false,"ran_at":%q,`+
			`"runtime":"0.412","added_params":{},"sql":%s,"sql_explain":null,"fields":%s,"fill_fields":[],`+
			`"has_totals":false,"has_row_totals":false,"applied_filters":{},"applied_filter_expression":null,`+
			`"explore":{"name":%q,"label":%q,"description":null},"timezone":"UTC",`,
			randomHex(16), fw.ranAt(), appendJSONString(nil, "SELECT "+strings.Join(names, ", ")+" FROM "+view),
			fw.fieldsJSON(), view, titleWords(view))
		if fw.ds.pivoted() {
			fmt.Fprintf(w, `"pivots":%s,`, fw.pivotsJSON())
		}
	} else {
		fmt.Fprintf(w, `{"fields":%s,`, fw.fieldsJSON())
		if fw.ds.pivoted() {
			fmt.Fprintf(w, `"pivots":%s,`, fw.pivotsJSON())
		}
		fmt.Fprintf(w, `"ran_at":%q,`, fw.ranAt())
	}
	w.WriteString(`"data":[`)
	keys := make([][]byte, len(fw.ds.Columns))
	for i, c := range fw.ds.Columns {
		keys[i] = append(appendJSONString(nil, c.Name), ':')
	}
	pkeys := make([][]byte, len(fw.ds.PivotValues))
	for i, p := range fw.ds.PivotValues {
		pkeys[i] = append(appendJSONString(nil, p), ':')
	}
	first := true
	err := fw.ds.Rows(ctx, func(row []Value) error {
		b := fw.buf[:0]
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '{')
		for ci, c := range fw.ds.Columns {
			if ci > 0 {
				b = append(b, ',')
			}
			b = append(b, keys[ci]...)
			o := fw.off[ci]
			if c.Measure && fw.ds.pivoted() {
				b = append(b, '{')
				for p := range fw.ds.PivotValues {
					if p > 0 {
						b = append(b, ',')
					}
					b = append(b, pkeys[p]...)
					b = append(b, `{"value":`...)
					b = row[o+p].appendJSON(b)
					b = append(b, '}')
				}
				b = append(b, '}')
				continue
			}
			b = append(b, `{"value":`...)
			b = row[o].appendJSON(b)
			b = append(b, '}')
		}
		b = append(b, '}')
		fw.buf = b
		fw.count()
		_, err := fw.w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	w.WriteString("]")
	if full {
		w.WriteString(`,"drill_menu_build_time":0.1`)
	}
	_, err = w.WriteString("}")
	return err
}

// simpleJSON writes Looker's "json" (keys are field names) or "json_label" (keys are
// labels): an array of row objects. A pivoted measure is an object keyed by the pivot
// field, then by pivot value: {"orders.count": {"orders.status": {"complete": 3}}}.
func (fw *formatWriter) simpleJSON(ctx context.Context, labels bool) error {
	keys := make([][]byte, len(fw.ds.Columns))
	for i, c := range fw.ds.Columns {
		k := c.Name
		if labels {
			k = c.FullLabel()
		}
		keys[i] = append(appendJSONString(nil, k), ':')
	}
	var pivotKey []byte
	pkeys := make([][]byte, len(fw.ds.PivotValues))
	if fw.ds.pivoted() {
		k := fw.ds.Pivot.Name
		if labels {
			k = fw.ds.Pivot.FullLabel()
		}
		pivotKey = append(appendJSONString(nil, k), ':')
		for i, p := range fw.ds.PivotValues {
			pkeys[i] = append(appendJSONString(nil, p), ':')
		}
	}
	fw.w.WriteByte('[')
	first := true
	err := fw.ds.Rows(ctx, func(row []Value) error {
		b := fw.buf[:0]
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '{')
		for ci, c := range fw.ds.Columns {
			if ci > 0 {
				b = append(b, ',')
			}
			b = append(b, keys[ci]...)
			o := fw.off[ci]
			if c.Measure && fw.ds.pivoted() {
				b = append(b, '{')
				b = append(b, pivotKey...)
				b = append(b, '{')
				for p := range fw.ds.PivotValues {
					if p > 0 {
						b = append(b, ',')
					}
					b = append(b, pkeys[p]...)
					b = row[o+p].appendJSON(b)
				}
				b = append(b, "}}"...)
				continue
			}
			b = row[o].appendJSON(b)
		}
		b = append(b, '}')
		fw.buf = b
		fw.count()
		_, err := fw.w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	_, err = fw.w.WriteString("]")
	return err
}

// headers returns the column titles, a pivoted measure giving one title per pivot value.
func (fw *formatWriter) headers() []string {
	var hs []string
	for _, c := range fw.ds.Columns {
		if c.Measure && fw.ds.pivoted() {
			for _, p := range fw.ds.PivotValues {
				hs = append(hs, c.FullLabel()+" | "+p)
			}
			continue
		}
		hs = append(hs, c.FullLabel())
	}
	return hs
}

// delimited writes CSV (sep ',', RFC 4180 quoting) or TXT (tab-separated; tabs and line
// breaks inside values become spaces), with a header line of labels.
func (fw *formatWriter) delimited(ctx context.Context, sep byte) error {
	cell := func(b []byte, v []byte) []byte {
		if sep == '\t' {
			for _, c := range v {
				if c == '\t' || c == '\n' || c == '\r' {
					c = ' '
				}
				b = append(b, c)
			}
			return b
		}
		if !strings.ContainsAny(string(v), ",\"\r\n") {
			return append(b, v...)
		}
		b = append(b, '"')
		for _, c := range v {
			if c == '"' {
				b = append(b, '"')
			}
			b = append(b, c)
		}
		return append(b, '"')
	}
	var b []byte
	for i, h := range fw.headers() {
		if i > 0 {
			b = append(b, sep)
		}
		b = cell(b, []byte(h))
	}
	b = append(b, '\n')
	if _, err := fw.w.Write(b); err != nil {
		return err
	}
	var tmp []byte
	return fw.ds.Rows(ctx, func(row []Value) error {
		b := fw.buf[:0]
		for i, v := range row {
			if i > 0 {
				b = append(b, sep)
			}
			tmp = v.appendText(tmp[:0])
			b = cell(b, tmp)
		}
		b = append(b, '\n')
		fw.buf = b
		fw.count()
		_, err := fw.w.Write(b)
		return err
	})
}

// html writes a plain HTML table.
func (fw *formatWriter) html(ctx context.Context) error {
	title := fw.meta.Title
	if title == "" {
		title = "Looker data"
	}
	fmt.Fprintf(fw.w, "<html><head><meta charset=\"utf-8\"><title>%s</title></head><body>\n<table>\n<tr>", html.EscapeString(title))
	for _, h := range fw.headers() {
		fmt.Fprintf(fw.w, "<th>%s</th>", html.EscapeString(h))
	}
	fw.w.WriteString("</tr>\n")
	err := fw.ds.Rows(ctx, func(row []Value) error {
		b := append(fw.buf[:0], "<tr>"...)
		for _, v := range row {
			b = append(b, "<td>"...)
			b = append(b, html.EscapeString(v.String())...)
			b = append(b, "</td>"...)
		}
		b = append(b, "</tr>\n"...)
		fw.buf = b
		fw.count()
		_, err := fw.w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	_, err = fw.w.WriteString("</table>\n</body></html>\n")
	return err
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte { return rows.AppendQuoted(b, []byte(s)) }

// jsonStringWriter writes what it is given as the inside of a JSON string (the caller
// writes the quotes). Multi-byte characters may be split across writes.
type jsonStringWriter struct {
	w   io.Writer
	buf []byte
}

func (j *jsonStringWriter) Write(p []byte) (int, error) {
	b := j.buf[:0]
	for _, c := range p {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	j.buf = b
	if _, err := j.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
