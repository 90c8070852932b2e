package rows

import (
	"encoding/json"
	"unicode/utf8"
)

// Kind is the JSON type of a cell value.
type Kind uint8

// Value kinds. CSV cells are always String.
const (
	Null   Kind = iota // JSON null, or a missing "value"
	String             // a JSON string (Bytes holds it unescaped)
	Number             // a JSON number (Bytes holds its literal text, e.g. "1.5e3")
	Bool               // true or false
	JSON               // an object or array value, kept as raw JSON text
)

// String returns the kind's name: "null", "string", "number", "bool" or "json".
func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	case JSON:
		return "json"
	}
	return "invalid"
}

// Value is one cell value. Its bytes belong to the Reader and are valid until the next call
// to Reader.Next; copy them (String does) to keep them. The zero Value is null.
type Value struct {
	b []byte
	k Kind
}

// Kind returns the value's JSON type.
func (v Value) Kind() Kind { return v.k }

// IsNull reports whether the value is null (or absent).
func (v Value) IsNull() bool { return v.k == Null }

// String returns the value's text: the unescaped string, the number or boolean literal, the
// raw JSON of an object or array, and "" for null. It allocates a copy.
func (v Value) String() string {
	if v.k == Null {
		return ""
	}
	return string(v.b)
}

// Bytes returns the same text as String without allocating. The slice is only valid until
// the next Reader.Next and must not be modified. It is nil for null.
func (v Value) Bytes() []byte {
	if v.k == Null {
		return nil
	}
	return v.b
}

// AppendJSON appends the value as a JSON literal: strings quoted and escaped (invalid UTF-8
// replaced by U+FFFD, no HTML escaping, like JSON.stringify), numbers, booleans and raw
// objects/arrays as they arrived, null as null.
func (v Value) AppendJSON(dst []byte) []byte {
	switch v.k {
	case String:
		return AppendQuoted(dst, v.b)
	case Number, Bool, JSON:
		return append(dst, v.b...)
	}
	return append(dst, "null"...)
}

// Interface returns the value as a Go value for generic encoders: nil, string, json.Number,
// bool or json.RawMessage (copied). It allocates.
func (v Value) Interface() any {
	switch v.k {
	case String:
		return string(v.b)
	case Number:
		return json.Number(v.b)
	case Bool:
		return len(v.b) == 4 // "true"
	case JSON:
		return json.RawMessage(append([]byte(nil), v.b...))
	}
	return nil
}

// PivotValue is one pivot column of a pivoted measure cell.
type PivotValue struct {
	Key   string // the pivot key, as in Reader.Pivots()[i].Key
	Value Value
}

// Cell is one field of a row. Pivoted is non-nil for a pivoted measure: one entry per pivot
// key, in stream order; Value is then null.
type Cell struct {
	Value   Value
	Pivoted []PivotValue
}

const hexDigits = "0123456789abcdef"

// safeASCII[c] is true for ASCII bytes that need no escaping inside a JSON string.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendQuoted appends s as a quoted JSON string: '"' and '\' escaped, control characters
// as \n, \r, \t, \b, \f or \u00XX, U+2028 and U+2029 escaped, invalid UTF-8 replaced by
// \ufffd. The result is always valid JSON.
func AppendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// unescape appends the JSON string body s (without quotes, containing at least one
// backslash) to dst with its escapes decoded. Lone surrogates become U+FFFD, as in
// encoding/json. It returns the offset in s of a bad escape, or -1.
func unescape(dst, s []byte) ([]byte, int) {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(s) {
			return dst, i
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				return dst, i
			}
			i += 6
			if r >= 0xD800 && r < 0xDC00 {
				// High surrogate: combine with a following low surrogate if there is one.
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2, ok := hex4(s[i+2:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						dst = utf8.AppendRune(dst, (r-0xD800)<<10|(r2-0xDC00)+0x10000)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, i
		}
		i += 2
	}
	return dst, -1
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
