package rows

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

type mode uint8

const (
	modeDetail mode = iota + 1 // json_detail / json_detail_lite_stream: a top-level object
	modeArray                  // json, json_label, inline_json: a top-level array of objects
	modeCSV
)

type state uint8

const (
	stTop    state = iota // json_detail: between members of the top-level object
	stRows                // inside a data array on rd.cur
	stReplay              // replaying spooled data: '[' of the next spooled array, or its end
	stDone
)

const (
	// maxNames bounds the interned field names and pivot keys; rows with more distinct names
	// still work, allocating their names.
	maxNames = 10000
	// maxRowSize bounds the bytes of one row's values.
	maxRowSize = 1 << 30
)

// Reader iterates over the rows of Looker query data read from an io.Reader: json_detail
// (and json_detail_lite_stream), the JSON array formats (json, json_label, inline_json) and
// csv. It reads incrementally with constant memory: a 64 KiB buffer plus the largest row;
// rows are not kept. It is not safe for concurrent use.
//
// A json_detail document whose "data" precedes its "fields" is supported as the Node hub
// does: the raw data section is spooled to a temporary file (removed afterwards) and
// replayed once the fields are known, so Fields is always known before the first row.
//
// CSV rows must have as many columns as the header: a ragged row is a *SyntaxError naming
// the row and line (Looker's CSV is rectangular; a ragged row means cut or corrupt data).
type Reader struct {
	cnt     countingReader
	format  string
	mode    mode
	started bool
	closed  bool
	err     error

	fields      Fields
	fieldsKnown bool
	pivots      []Pivot
	ranAt       time.Time
	ranAtOK     bool
	count       int64
	row         Row
	pending     bool // JSON arrays: Fields parsed the first row; Next returns it

	main, cur *scanner
	st        state
	topComma  bool // a ',' comes before the next top-level member
	topEnded  bool
	first     bool // the next array element is the first
	spool     *spool

	fastPause int // rows left before the fast path is tried again

	names   map[string]string
	scratch []byte
	keybuf  []byte

	csv       *csv.Reader
	csvHeader []string
	csvBOM    int64
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
	}
	return n, err
}

// NewReader returns a Reader of r's data in the given format: json_detail,
// json_detail_lite_stream, json, json_label, inline_json or csv; "" sniffs the first
// non-space byte ('{' json_detail, '[' a JSON array, anything else csv). For the JSON formats
// the document's shape decides between json_detail and an array. A leading UTF-8 byte order
// mark is skipped. NewReader does not read; the first call to Fields or Next does.
func NewReader(r io.Reader, format string) *Reader {
	return &Reader{cnt: countingReader{r: r}, format: strings.ToLower(strings.TrimSpace(format))}
}

// Fields reads just far enough to know the fields (before the first row) and returns them.
// For json_detail they are the document's "fields"; for csv the header names and for JSON
// arrays the keys of the first object become Dimensions (Name = Label). A document without
// fields gives empty Fields. The result is owned by the Reader and stays valid.
func (rd *Reader) Fields() (*Fields, error) {
	if !rd.start() {
		return &rd.fields, rd.err
	}
	for !rd.fieldsKnown && rd.err == nil {
		switch rd.mode {
		case modeDetail:
			rd.top(true)
		case modeArray:
			if rd.nextJSON() {
				rd.pending = true
			}
		case modeCSV:
			rd.readCSVHeader()
		}
	}
	if !rd.fieldsKnown {
		return &rd.fields, rd.err
	}
	return &rd.fields, nil
}

// Next advances to the next row, reporting false at the end of the data or on an error
// (see Err).
func (rd *Reader) Next() bool {
	if rd.closed || !rd.start() || rd.err != nil {
		return false
	}
	if rd.pending {
		rd.pending = false
		rd.count++
		return true
	}
	var ok bool
	if rd.mode == modeCSV {
		ok = rd.nextCSV()
	} else {
		ok = rd.nextJSON()
	}
	if ok {
		rd.count++
	}
	return ok
}

// Row returns the current row. It is reused by the next call to Next.
func (rd *Reader) Row() *Row { return &rd.row }

// Err returns the error that stopped Next, or nil at a clean end. Malformed input is a
// *SyntaxError (byte offset, row number); a failure of the underlying reader is a
// *ReadError wrapping it (errors.Is and errors.As see through it).
func (rd *Reader) Err() error { return rd.err }

// RanAt returns json_detail's ran_at once it has been read (it may come after the rows).
func (rd *Reader) RanAt() (time.Time, bool) { return rd.ranAt, rd.ranAtOK }

// Pivots returns json_detail's top-level pivots once read (nil when the query has none).
func (rd *Reader) Pivots() []Pivot { return rd.pivots }

// Count returns the number of rows returned so far.
func (rd *Reader) Count() int64 { return rd.count }

// BytesRead returns the number of bytes read from the underlying reader.
func (rd *Reader) BytesRead() int64 { return rd.cnt.n }

// Format returns the format being read: "json_detail", "json" (any JSON array format) or
// "csv"; "" before the first Fields or Next.
func (rd *Reader) Format() string {
	switch rd.mode {
	case modeDetail:
		return "json_detail"
	case modeArray:
		return "json"
	case modeCSV:
		return "csv"
	}
	return ""
}

// Close releases the spool file, if any; later calls to Next report false (Err is
// unchanged). It does not close the underlying reader. Reading to the end (or to an error)
// releases the spool as well, so Close is only needed when stopping early.
func (rd *Reader) Close() error {
	rd.closeSpool()
	rd.closed = true
	return nil
}

// formatName names the format in errors.
func (rd *Reader) formatName() string {
	switch rd.mode {
	case modeDetail:
		if strings.HasPrefix(rd.format, "json_detail") {
			return rd.format
		}
		return "json_detail"
	case modeArray:
		switch rd.format {
		case "json", "json_label", "inline_json":
			return rd.format
		}
		return "json"
	case modeCSV:
		return "csv"
	}
	if rd.format != "" {
		return rd.format
	}
	return "data"
}

// fail records the first error, completing it with the format, row and (for spooled data)
// the offset in the original input.
func (rd *Reader) fail(err error, s *scanner) {
	if rd.err != nil {
		return
	}
	var row int64
	if rd.st == stRows {
		row = rd.count + 1
	}
	switch e := err.(type) {
	case *SyntaxError:
		if e.Format == "" {
			e.Format = rd.formatName()
		}
		if e.Row == 0 {
			e.Row = row
		}
		if rd.spool != nil && s != nil && s == rd.spool.sc {
			e.Offset = rd.spool.mainOffset(e.Offset)
		}
	case *ReadError:
		if e.Row == 0 {
			e.Row = row
		}
		if s != nil && s != rd.main { // the spool file failed, not the download
			e.Offset = rd.cnt.n
		}
	}
	rd.err = err
	rd.st = stDone
	rd.closeSpool()
}

// start detects the format on first use.
func (rd *Reader) start() bool {
	if rd.started {
		return rd.err == nil
	}
	rd.started = true
	switch rd.format {
	case "", "csv", "json_detail", "json_detail_lite_stream", "json", "json_label", "inline_json":
	default:
		rd.err = fmt.Errorf("rows: unsupported format %q (want json_detail, json_detail_lite_stream, json, json_label, inline_json or csv)", rd.format)
		return false
	}
	s := newScanner(&rd.cnt, bufSize)
	for s.w < 3 && s.more() {
	}
	if bytes.HasPrefix(s.buf[:s.w], []byte("\xEF\xBB\xBF")) {
		s.r = 3
	}
	if rd.format == "csv" {
		rd.startCSV(s)
		return rd.err == nil
	}
	// Find the first non-space byte without consuming anything (csv keeps leading spaces).
	j := s.r
	for {
		for j < s.w && isSpace(s.buf[j]) {
			j++
		}
		if j < s.w {
			break
		}
		rel := j - s.r
		if !s.more() {
			break
		}
		j = s.r + rel
	}
	if j >= s.w {
		if s.rerr != nil && s.rerr != io.EOF {
			rd.fail(s.eof(), s)
			return false
		}
		if rd.format == "" { // empty input: no fields, no rows
			rd.mode, rd.fieldsKnown, rd.st = modeCSV, true, stDone
			return true
		}
		rd.mode = modeDetail
		if rd.format == "json" || rd.format == "json_label" || rd.format == "inline_json" {
			rd.mode = modeArray
		}
		rd.fail(s.eof(), s)
		return false
	}
	rd.main, rd.cur = s, s
	switch s.buf[j] {
	case '{':
		rd.mode, rd.st = modeDetail, stTop
	case '[':
		rd.mode, rd.st, rd.first = modeArray, stRows, true
	default:
		if rd.format == "" {
			rd.startCSV(s)
			return rd.err == nil
		}
		rd.fail(s.syntax(j, "%s, expected a JSON object or array", unexpected(s.buf[j])), s)
		return false
	}
	s.r = j + 1
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// top reads top-level json_detail members until the rows start, the fields are known (when
// stopAtFields), spooled data must be replayed, the document ends or an error.
func (rd *Reader) top(stopAtFields bool) {
	s := rd.main
	for {
		c, ok := s.peek()
		if !ok {
			rd.fail(s.eof(), s)
			return
		}
		if c == '}' {
			s.r++
			rd.endTop()
			return
		}
		if rd.topComma {
			if c != ',' {
				rd.fail(s.syntax(s.r, "%s after a top-level value, expected ',' or '}'", unexpected(c)), s)
				return
			}
			s.r++
			if c, ok = s.peek(); !ok {
				rd.fail(s.eof(), s)
				return
			}
		}
		if c != '"' {
			rd.fail(s.syntax(s.r, "%s, expected a key", unexpected(c)), s)
			return
		}
		key, err := rd.topKey(s)
		if err == nil {
			err = s.expect(':')
		}
		if err != nil {
			rd.fail(err, s)
			return
		}
		rd.topComma = true
		if c, ok = s.peek(); !ok {
			rd.fail(s.eof(), s)
			return
		}
		switch {
		case key == "fields" && !rd.fieldsKnown:
			if !rd.readFields(s) {
				return
			}
			if rd.spool != nil {
				rd.startReplay()
				return
			}
			if stopAtFields {
				return
			}
		case key == "data" && c == '[':
			if rd.fieldsKnown {
				s.r++
				rd.st, rd.cur, rd.first = stRows, s, true
				return
			}
			if !rd.spoolData(s) {
				return
			}
		case key == "data" && c != 'n':
			rd.fail(s.syntax(s.r, "%s: data must be an array", unexpected(c)), s)
			return
		case key == "pivots" && c == '[':
			if !rd.readPivots(s) {
				return
			}
		case key == "ran_at" && c == '"':
			var err error
			if rd.scratch, err = s.appendStr(rd.scratch[:0]); err != nil {
				rd.fail(err, s)
				return
			}
			rd.ranAt, rd.ranAtOK = parseTime(string(rd.scratch))
		default:
			if err := s.skip(); err != nil {
				rd.fail(err, s)
				return
			}
		}
	}
}

// topKey reads a top-level key, returning it when it is one the Reader uses and "" else.
func (rd *Reader) topKey(s *scanner) (string, error) {
	start, end, esc, err := s.str()
	if err != nil {
		return "", err
	}
	k := s.buf[start:end]
	if esc {
		var bad int
		if rd.keybuf, bad = unescape(rd.keybuf[:0], k); bad >= 0 {
			return "", s.syntax(start+bad, "invalid escape in string")
		}
		k = rd.keybuf
	}
	switch string(k) {
	case "fields":
		return "fields", nil
	case "data":
		return "data", nil
	case "pivots":
		return "pivots", nil
	case "ran_at":
		return "ran_at", nil
	}
	return "", nil
}

// endTop handles the end of the top-level object.
func (rd *Reader) endTop() {
	rd.topEnded = true
	if !rd.checkTrailing(rd.main) {
		return
	}
	rd.fieldsKnown = true
	if rd.spool != nil {
		rd.startReplay()
		return
	}
	rd.st = stDone
}

// checkTrailing allows only whitespace after the document. A read error there is ignored:
// the document is complete (as the Node hub ignores ECONNRESET after the body).
func (rd *Reader) checkTrailing(s *scanner) bool {
	if c, ok := s.peek(); ok {
		rd.st = stDone
		rd.fail(s.syntax(s.r, "%s after the end of the document", unexpected(c)), s)
		return false
	}
	return true
}

// capture reads the next value into rd.scratch (bounded by maxCaptureSize).
func (rd *Reader) capture(s *scanner) (start int64, ok bool) {
	start = s.offset(s.r)
	rd.scratch = rd.scratch[:0]
	s.capture, s.capMax, s.sink = &rd.scratch, maxCaptureSize, true
	err := s.skip()
	s.capture, s.sink = nil, false
	if err == nil && s.serr != nil {
		err = &SyntaxError{Offset: start, Msg: fmt.Sprintf("section larger than %d bytes", maxCaptureSize)}
		s.serr = nil
	}
	if err != nil {
		rd.fail(err, s)
		return start, false
	}
	return start, true
}

func (rd *Reader) readFields(s *scanner) bool {
	start, ok := rd.capture(s)
	if !ok {
		return false
	}
	rd.fields = Fields{}
	if err := json.Unmarshal(rd.scratch, &rd.fields); err != nil {
		rd.fail(jsonError(err, start, "fields"), s)
		return false
	}
	rd.fieldsKnown = true
	return true
}

func (rd *Reader) readPivots(s *scanner) bool {
	start, ok := rd.capture(s)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(rd.scratch))
	dec.UseNumber()
	var p []Pivot
	if err := dec.Decode(&p); err != nil {
		rd.fail(jsonError(err, start, "pivots"), s)
		return false
	}
	rd.pivots = p
	return true
}

func jsonError(err error, start int64, what string) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{Offset: start + se.Offset, Msg: what + ": " + se.Error()}
	}
	return &SyntaxError{Offset: start, Msg: what + ": " + strings.TrimPrefix(err.Error(), "json: ")}
}

// parseTime parses ran_at: ISO 8601 with an offset (2017-07-28T02:25:19+00:00), tolerating
// a few variants Looker versions have used.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// nextJSON parses the next row (json_detail or JSON array).
func (rd *Reader) nextJSON() bool {
	for rd.err == nil {
		switch rd.st {
		case stTop:
			rd.top(false)
		case stReplay:
			rd.replayNext()
		case stDone:
			return false
		case stRows:
			s := rd.cur
			c, ok := s.peek()
			if !ok {
				rd.fail(s.eof(), s)
				return false
			}
			if c == ']' {
				s.r++
				rd.endArray()
				continue
			}
			if !rd.first {
				if c != ',' {
					rd.fail(s.syntax(s.r, "%s after a row, expected ',' or ']'", unexpected(c)), s)
					return false
				}
				s.r++
				if c, ok = s.peek(); !ok {
					rd.fail(s.eof(), s)
					return false
				}
			}
			if c != '{' {
				rd.fail(s.syntax(s.r, "%s: a row must be an object", unexpected(c)), s)
				return false
			}
			rd.first = false
			if rd.fastPause > 0 {
				rd.fastPause--
			} else {
				rd.row.begin(rd.count + 1)
				switch rd.fastRow(s) {
				case fastOK:
					return true
				case fastNo:
					rd.fastPause = fastPause
				}
			}
			if err := rd.parseRow(s); err != nil {
				rd.fail(err, s)
				return false
			}
			if !rd.fieldsKnown {
				rd.fieldsFromRow()
			}
			return true
		}
	}
	return false
}

// endArray handles the end of a data array.
func (rd *Reader) endArray() {
	switch {
	case rd.spool != nil && rd.cur == rd.spool.sc:
		rd.st = stReplay
	case rd.mode == modeArray:
		if rd.checkTrailing(rd.main) {
			rd.fieldsKnown = true
			rd.st = stDone
		}
	default:
		rd.st = stTop
	}
}

// fieldsFromRow makes the fields of a JSON array from its first row's keys.
func (rd *Reader) fieldsFromRow() {
	rd.fieldsKnown = true
	for _, n := range rd.row.names {
		rd.fields.Dimensions = append(rd.fields.Dimensions, Field{Name: n, Label: n})
	}
}

// intern returns b as a string shared between rows.
func (rd *Reader) intern(b []byte) string {
	if s, ok := rd.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if rd.names == nil {
		rd.names = make(map[string]string)
	}
	if len(rd.names) < maxNames {
		rd.names[s] = s
	}
	return s
}

// key returns the string at s.r (a key), unescaped; the bytes are valid until the next read.
func (rd *Reader) key(s *scanner) ([]byte, error) {
	start, end, esc, err := s.str()
	if err != nil {
		return nil, err
	}
	if !esc {
		return s.buf[start:end], nil
	}
	var bad int
	if rd.keybuf, bad = unescape(rd.keybuf[:0], s.buf[start:end]); bad >= 0 {
		return nil, s.syntax(start+bad, "invalid escape in string")
	}
	return rd.keybuf, nil
}

// parseRow parses the row object at s.buf[s.r] == '{' into rd.row.
func (rd *Reader) parseRow(s *scanner) error {
	row := &rd.row
	row.begin(rd.count + 1)
	s.r++
	c, ok := s.peek()
	if !ok {
		return s.eof()
	}
	if c == '}' {
		s.r++
		row.finish()
		return nil
	}
	for i := 0; ; i++ {
		if c != '"' {
			return s.syntax(s.r, "%s, expected a field name", unexpected(c))
		}
		// Fast path: the same name as the previous row's cell i, matched in place.
		var name string
		matched := false
		if i < len(row.names) && row.plain[i] {
			n := row.names[i]
			if e := s.r + 1 + len(n); e < s.w && s.buf[e] == '"' && string(s.buf[s.r+1:e]) == n {
				name, matched = n, true
				s.r = e + 1
			}
		}
		if !matched {
			k, err := rd.key(s)
			if err != nil {
				return err
			}
			if i < len(row.names) && row.names[i] == string(k) {
				name = row.names[i]
			} else {
				name = rd.intern(k)
			}
		}
		row.setName(i, name)
		if err := s.expect(':'); err != nil {
			return err
		}
		if c, ok = s.peek(); !ok {
			return s.eof()
		}
		var cell Cell
		var err error
		if c == '{' {
			cell, err = rd.parseCell(s)
		} else {
			cell.Value, err = rd.scalar(s, c)
		}
		if err != nil {
			return err
		}
		row.cells = append(row.cells, cell)
		if c, ok = s.peek(); !ok {
			return s.eof()
		}
		if c == '}' {
			s.r++
			break
		}
		if c != ',' {
			return s.syntax(s.r, "%s after a cell, expected ',' or '}'", unexpected(c))
		}
		s.r++
		if c, ok = s.peek(); !ok {
			return s.eof()
		}
	}
	row.finish()
	return nil
}

// isCellMeta reports the keys of a json_detail cell other than "value".
func isCellMeta(k []byte) bool {
	switch string(k) {
	case "rendered", "html", "links", "filterable_value":
		return true
	}
	return false
}

// valueKey is how a json_detail_lite_stream cell starts; matched in place as a fast path.
const valueKey = `{"value":`

// parseCell parses a cell object at s.buf[s.r] == '{': a plain cell {"value": x, ...} or a
// pivoted measure {"<pivot key>": {cell} | scalar, ...}. An object with a "value" member is
// a plain cell; without one, its other members (besides rendered, html, links and
// filterable_value) are the pivot columns, in stream order.
func (rd *Reader) parseCell(s *scanner) (Cell, error) {
	row := &rd.row
	var cell Cell
	pvFrom := len(row.pv)
	seen, err := rd.cellStart(s, &cell.Value)
	if err != nil {
		return cell, err
	}
	for needComma := seen; ; needComma = true {
		c, ok := s.peek()
		if !ok {
			return cell, s.eof()
		}
		if c == '}' {
			s.r++
			break
		}
		if needComma {
			if c != ',' {
				return cell, s.syntax(s.r, "%s in a cell, expected ',' or '}'", unexpected(c))
			}
			s.r++
			if c, ok = s.peek(); !ok {
				return cell, s.eof()
			}
		}
		if c != '"' {
			return cell, s.syntax(s.r, "%s, expected a key", unexpected(c))
		}
		k, err := rd.key(s)
		if err != nil {
			return cell, err
		}
		isValue := string(k) == "value"
		var pkey string
		pivot := !isValue && !seen && !isCellMeta(k)
		if pivot {
			n := len(row.pv)
			if n < cap(row.pv) && row.pv[:n+1][n].Key == string(k) {
				pkey = row.pv[:n+1][n].Key
			} else {
				pkey = rd.intern(k)
			}
		}
		if err := s.expect(':'); err != nil {
			return cell, err
		}
		if c, ok = s.peek(); !ok {
			return cell, s.eof()
		}
		switch {
		case isValue:
			cell.Value, err = rd.scalar(s, c)
			seen = true
			row.pv = row.pv[:pvFrom]
		case pivot && c == '{':
			var v Value
			v, err = rd.subCell(s)
			row.pv = append(row.pv, PivotValue{Key: pkey, Value: v})
		case pivot && c != '[':
			var v Value
			v, err = rd.scalar(s, c)
			row.pv = append(row.pv, PivotValue{Key: pkey, Value: v})
		default:
			err = s.skip()
		}
		if err != nil {
			return cell, err
		}
	}
	if !seen && len(row.pv) > pvFrom {
		cell.Pivoted = row.pv[pvFrom:len(row.pv):len(row.pv)]
	}
	return cell, nil
}

// cellStart consumes the '{' of a cell at s.r. When the cell starts with "value" (as every
// json_detail_lite_stream cell does) it is matched in place and the value parsed into v.
func (rd *Reader) cellStart(s *scanner, v *Value) (seen bool, err error) {
	if s.w-s.r > len(valueKey) && string(s.buf[s.r:s.r+len(valueKey)]) == valueKey {
		s.r += len(valueKey)
		c, ok := s.peek()
		if !ok {
			return false, s.eof()
		}
		*v, err = rd.scalar(s, c)
		return true, err
	}
	s.r++
	return false, nil
}

// subCell parses the cell of one pivot column: its "value", the rest skipped.
func (rd *Reader) subCell(s *scanner) (Value, error) {
	var v Value
	seen, err := rd.cellStart(s, &v)
	if err != nil {
		return v, err
	}
	for needComma := seen; ; needComma = true {
		c, ok := s.peek()
		if !ok {
			return v, s.eof()
		}
		if c == '}' {
			s.r++
			return v, nil
		}
		if needComma {
			if c != ',' {
				return v, s.syntax(s.r, "%s in a cell, expected ',' or '}'", unexpected(c))
			}
			s.r++
			if c, ok = s.peek(); !ok {
				return v, s.eof()
			}
		}
		if c != '"' {
			return v, s.syntax(s.r, "%s, expected a key", unexpected(c))
		}
		key, err := rd.key(s)
		if err != nil {
			return v, err
		}
		isValue := string(key) == "value"
		if err := s.expect(':'); err != nil {
			return v, err
		}
		if c, ok = s.peek(); !ok {
			return v, s.eof()
		}
		if isValue {
			v, err = rd.scalar(s, c)
		} else {
			err = s.skip()
		}
		if err != nil {
			return v, err
		}
	}
}

// scalar parses the value starting with c at s.r into the row arena. Objects and arrays are
// kept as raw JSON (kind JSON).
func (rd *Reader) scalar(s *scanner, c byte) (Value, error) {
	row := &rd.row
	a := len(row.arena)
	if a > maxRowSize {
		return Value{}, s.syntax(s.r, "row larger than %d bytes", maxRowSize)
	}
	var err error
	var k Kind
	switch {
	case c == '"':
		row.arena, err = s.appendStr(row.arena)
		k = String
	case c == '-' || (c >= '0' && c <= '9'):
		var i, j int
		if i, j, err = s.number(); err == nil {
			row.arena = append(row.arena, s.buf[i:j]...)
		}
		k = Number
	case c == 't':
		if err = s.literal("true"); err == nil {
			row.arena = append(row.arena, "true"...)
		}
		k = Bool
	case c == 'f':
		if err = s.literal("false"); err == nil {
			row.arena = append(row.arena, "false"...)
		}
		k = Bool
	case c == 'n':
		return Value{}, s.literal("null")
	case c == '{' || c == '[':
		off := s.offset(s.r)
		s.capture, s.capMax, s.sink = &row.arena, a+MaxValueSize, true
		err = s.skip()
		s.capture, s.sink = nil, false
		if err == nil && s.serr != nil {
			err = &SyntaxError{Offset: off, Msg: fmt.Sprintf("a single value is larger than %d bytes", MaxValueSize)}
			s.serr = nil
		}
		if err == nil && !json.Valid(row.arena[a:]) {
			err = &SyntaxError{Offset: off, Msg: "invalid JSON object or array"}
		}
		k = JSON
	default:
		return Value{}, s.syntax(s.r, "%s looking for a value", unexpected(c))
	}
	if err != nil {
		return Value{}, err
	}
	return row.value(k, a), nil
}

// spool holds a data section that arrived before the fields.
type spool struct {
	f    *os.File
	w    *bufio.Writer
	sc   *scanner
	segs []spoolSeg
	gone bool // the file is already unlinked
}

type spoolSeg struct{ spoolOff, mainOff int64 }

func (sp *spool) mainOffset(off int64) int64 {
	for i := len(sp.segs) - 1; i >= 0; i-- {
		if off >= sp.segs[i].spoolOff {
			return sp.segs[i].mainOff + off - sp.segs[i].spoolOff
		}
	}
	return off
}

// spoolData copies the data array at s.r to the spool file, checking its brackets.
func (rd *Reader) spoolData(s *scanner) bool {
	if rd.spool == nil {
		f, err := os.CreateTemp("", "actionhub-rows-*.json")
		if err != nil {
			rd.fail(fmt.Errorf("rows: data arrived before fields and could not be spooled: %w", err), s)
			return false
		}
		sp := &spool{f: f, w: bufio.NewWriterSize(f, bufSize)}
		// Unlink at once where the OS allows it, so nothing is left behind whatever happens.
		sp.gone = os.Remove(f.Name()) == nil
		rd.spool = sp
		s.outN = 0
	}
	rd.spool.segs = append(rd.spool.segs, spoolSeg{spoolOff: s.outN, mainOff: s.offset(s.r)})
	s.out, s.sink = rd.spool.w, true
	err := s.skip()
	s.out, s.sink = nil, false
	if err == nil && s.serr != nil {
		err = fmt.Errorf("rows: spooling data that arrived before fields: %w", s.serr)
		s.serr = nil
	}
	if err != nil {
		rd.fail(err, s)
		return false
	}
	return true
}

// startReplay switches to reading the spooled rows.
func (rd *Reader) startReplay() {
	sp := rd.spool
	if err := sp.w.Flush(); err != nil {
		rd.fail(fmt.Errorf("rows: spooling data that arrived before fields: %w", err), nil)
		return
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		rd.fail(fmt.Errorf("rows: replaying spooled data: %w", err), nil)
		return
	}
	sp.sc = newScanner(sp.f, bufSize)
	rd.st = stReplay
}

// replayNext starts the next spooled array, or ends the replay.
func (rd *Reader) replayNext() {
	s := rd.spool.sc
	c, ok := s.peek()
	if !ok {
		if s.rerr != io.EOF {
			rd.fail(s.eof(), s)
			return
		}
		rd.closeSpool()
		rd.cur = rd.main
		if rd.topEnded {
			rd.st = stDone
		} else {
			rd.st = stTop
		}
		return
	}
	if c != '[' {
		rd.fail(s.syntax(s.r, "%s: data must be an array", unexpected(c)), s)
		return
	}
	s.r++
	rd.st, rd.cur, rd.first = stRows, s, true
}

func (rd *Reader) closeSpool() {
	sp := rd.spool
	if sp == nil {
		return
	}
	rd.spool = nil
	sp.f.Close()
	if !sp.gone {
		os.Remove(sp.f.Name())
	}
}
