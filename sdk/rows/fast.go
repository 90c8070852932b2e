package rows

import "bytes"

// The fast path: most rows of a stream have the same field names in the same order and are
// written compactly ({"name":{"value":x},...} or {"name":x,...}). fastRow parses such a row
// entirely inside the buffer with local indexes, matching the names against the previous
// row's in place. Anything else — a different name, whitespace, a cell with more than
// "value", a row cut by the end of the buffer, anything malformed — makes it give up, and
// the general parser (which alone reports errors) parses the row from its start. The fuzz
// targets check that both give identical results.

type fastResult uint8

const (
	fastOK    fastResult = iota
	fastRetry            // names changed or the row crosses the buffer end: try again next row
	fastNo               // a shape the fast path does not handle: pause it for a while
)

// fastPause is how many rows the fast path is skipped after a fastNo.
const fastPause = 256

// fastRow parses the row at s.buf[s.r] == '{'. On failure only rd.row's cells, arena and pv
// have changed, and row.begin resets them.
func (rd *Reader) fastRow(s *scanner) fastResult {
	row := &rd.row
	buf := s.buf[s.r:s.w]
	names, plain := row.names, row.plain
	i := 1
	for n := 0; ; n++ {
		if n >= len(names) || !plain[n] {
			return fastRetry
		}
		name := names[n]
		e := i + 1 + len(name)
		if e+1 >= len(buf) {
			return fastRetry
		}
		if buf[i] != '"' || buf[e] != '"' || buf[e+1] != ':' || string(buf[i+1:e]) != name {
			return fastRetry
		}
		i = e + 2
		if i >= len(buf) {
			return fastRetry
		}
		var v Value
		var r fastResult
		if buf[i] == '{' {
			if len(buf)-i <= len(valueKey) {
				return fastRetry
			}
			if string(buf[i:i+len(valueKey)]) != valueKey {
				return fastNo
			}
			if v, i, r = rd.fastValue(buf, i+len(valueKey)); r != fastOK {
				return r
			}
			if i >= len(buf) {
				return fastRetry
			}
			if buf[i] != '}' {
				return fastNo
			}
			i++
		} else if v, i, r = rd.fastValue(buf, i); r != fastOK {
			return r
		}
		row.cells = append(row.cells, Cell{Value: v})
		if i >= len(buf) {
			return fastRetry
		}
		switch buf[i] {
		case ',':
			i++
		case '}':
			s.r += i + 1
			row.finish()
			return fastOK
		default:
			return fastNo
		}
	}
}

// fastValue parses the scalar at buf[i] into the arena, returning the index after it.
func (rd *Reader) fastValue(buf []byte, i int) (Value, int, fastResult) {
	if i >= len(buf) {
		return Value{}, i, fastRetry
	}
	row := &rd.row
	a := len(row.arena)
	switch c := buf[i]; {
	case c == '"':
		j := i + 1
		for lim := min(len(buf), j+32); j < lim && buf[j] != '"' && buf[j] != '\\'; j++ {
		}
		if j < len(buf) && buf[j] == '"' {
			row.arena = append(row.arena, buf[i+1:j]...)
			return row.value(String, a), j + 1, fastOK
		}
		// Long or escaped: find the closing quote (not preceded by an odd run of backslashes).
		for {
			q := bytes.IndexByte(buf[j:], '"')
			if q < 0 {
				return Value{}, i, fastRetry
			}
			j += q
			k := j - 1
			for k > i && buf[k] == '\\' {
				k--
			}
			if (j-1-k)&1 == 0 {
				break
			}
			j++
		}
		body := buf[i+1 : j]
		if bytes.IndexByte(body, '\\') < 0 {
			row.arena = append(row.arena, body...)
		} else {
			var bad int
			if row.arena, bad = unescape(row.arena, body); bad >= 0 {
				return Value{}, i, fastNo
			}
		}
		return row.value(String, a), j + 1, fastOK
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(buf) && numChar[buf[j]] {
			j++
		}
		if j >= len(buf) {
			return Value{}, i, fastRetry
		}
		if !validNumber(buf[i:j]) {
			return Value{}, i, fastNo
		}
		row.arena = append(row.arena, buf[i:j]...)
		return row.value(Number, a), j, fastOK
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		if len(buf)-i < len(lit) {
			return Value{}, i, fastRetry
		}
		if string(buf[i:i+len(lit)]) != lit {
			return Value{}, i, fastNo
		}
		if c == 'n' {
			return Value{}, i + 4, fastOK
		}
		row.arena = append(row.arena, lit...)
		return row.value(Bool, a), i + len(lit), fastOK
	}
	return Value{}, i, fastNo
}
