package rows

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

const (
	// bufSize is the scanner's read buffer: memory per Reader is this plus the largest row.
	bufSize = 64 << 10
	// MaxValueSize bounds a single JSON token (a string or number) and a captured object or
	// array value; the buffer grows up to this for one huge value, then reading fails.
	MaxValueSize = 256 << 20
	// maxCaptureSize bounds the "fields" and "pivots" sections, which are materialised.
	maxCaptureSize = 64 << 20
	// maxDepth bounds the nesting of skipped values (checked, never recursed).
	maxDepth = 10000
)

var errTooLarge = errors.New("value too large")

// scanner is an incremental JSON tokenizer over a growable buffer. Tokens (strings and
// numbers) are made contiguous in buf; everything before s.r may be discarded on refill.
type scanner struct {
	src  io.Reader
	buf  []byte
	r, w int
	base int64 // input offset of buf[0]
	rerr error // sticky error from src (io.EOF at the end)

	// sinks for skip: bytes of skipped values are appended to capture and/or written to out.
	capture *[]byte
	capMax  int
	out     io.Writer
	outN    int64
	serr    error // sink failure
	sink    bool  // capture or out is set

	stack []byte // bracket stack for skip
}

func newScanner(src io.Reader, size int) *scanner {
	return &scanner{src: src, buf: make([]byte, size)}
}

// offset returns the input offset of buf[i].
func (s *scanner) offset(i int) int64 { return s.base + int64(i) }

// more reads more input, keeping buf[s.r:], compacting or growing the buffer as needed. It
// returns false when no byte was added (end of input or a read error, kept in s.rerr).
func (s *scanner) more() bool {
	if s.rerr != nil {
		return false
	}
	if s.r > 0 {
		n := copy(s.buf, s.buf[s.r:s.w])
		s.base += int64(s.r)
		s.w = n
		s.r = 0
	}
	if s.w == len(s.buf) {
		if len(s.buf) >= MaxValueSize {
			s.rerr = errTooLarge
			return false
		}
		nb := make([]byte, min(2*len(s.buf), MaxValueSize))
		copy(nb, s.buf[:s.w])
		s.buf = nb
	}
	for range 100 {
		n, err := s.src.Read(s.buf[s.w:])
		if n < 0 || n > len(s.buf)-s.w {
			s.rerr = errors.New("invalid Read count")
			return false
		}
		s.w += n
		if err != nil {
			s.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	s.rerr = io.ErrNoProgress
	return false
}

// SyntaxError is malformed input: what was wrong and where.
type SyntaxError struct {
	Format string // "json_detail", "json" (any JSON array format) or "csv"
	Offset int64  // byte offset in the input where the problem was found
	Row    int64  // 1-based number of the row being read, 0 outside the rows
	Line   int    // CSV only: 1-based line
	Msg    string
}

func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("at byte %d", e.Offset)
	if e.Line > 0 {
		where += fmt.Sprintf(", line %d", e.Line)
	}
	if e.Row > 0 {
		where += fmt.Sprintf(" (row %d)", e.Row)
	}
	return fmt.Sprintf("rows: malformed %s %s: %s", e.Format, where, e.Msg)
}

// ReadError is a failure of the underlying reader (for a download, an *sdk.DownloadError
// that errors.As finds through Unwrap).
type ReadError struct {
	Offset int64 // bytes successfully read before the failure
	Row    int64 // 1-based number of the row being read, 0 outside the rows
	Err    error
}

func (e *ReadError) Error() string {
	if e.Row > 0 {
		return fmt.Sprintf("rows: reading the data failed at byte %d (row %d): %v", e.Offset, e.Row, e.Err)
	}
	return fmt.Sprintf("rows: reading the data failed at byte %d: %v", e.Offset, e.Err)
}

// Unwrap returns the reader's error.
func (e *ReadError) Unwrap() error { return e.Err }

// syntax returns a SyntaxError at buf[i]; the Reader fills in format and row.
func (s *scanner) syntax(i int, format string, args ...any) error {
	return &SyntaxError{Offset: s.offset(i), Msg: fmt.Sprintf(format, args...)}
}

// eof is the error for input that ended (or failed) where more was needed.
func (s *scanner) eof() error {
	switch {
	case s.rerr == nil, s.rerr == io.EOF:
		return &SyntaxError{Offset: s.offset(s.w), Msg: "unexpected end of input"}
	case s.rerr == errTooLarge:
		return &SyntaxError{Offset: s.offset(s.w), Msg: fmt.Sprintf("a single value is larger than %d bytes", MaxValueSize)}
	}
	return &ReadError{Offset: s.offset(s.w), Err: s.rerr}
}

// unexpected describes byte c for an error message without quoting any data.
func unexpected(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("invalid character %q", c)
	}
	return fmt.Sprintf("invalid byte 0x%02x", c)
}

// peek skips whitespace and returns the next byte without consuming it; false at the end
// of input or on a read error.
func (s *scanner) peek() (byte, bool) {
	if r := s.r; r < s.w && s.buf[r] > ' ' {
		return s.buf[r], true
	}
	return s.peekSlow()
}

func (s *scanner) peekSlow() (byte, bool) {
	for {
		for s.r < s.w {
			switch c := s.buf[s.r]; c {
			case ' ', '\n', '\r', '\t':
				s.r++
			default:
				return c, true
			}
		}
		if !s.more() {
			return 0, false
		}
	}
}

// expect consumes byte c after optional whitespace.
func (s *scanner) expect(c byte) error {
	d, ok := s.peek()
	if !ok {
		return s.eof()
	}
	if d != c {
		return s.syntax(s.r, "%s, expected %q", unexpected(d), c)
	}
	s.r++
	return nil
}

// str scans the string whose opening quote is at s.buf[s.r], advancing s.r past the
// closing quote. It returns the raw body as buf[start:end] (valid until the next refill)
// and whether it contains escapes.
func (s *scanner) str() (start, end int, esc bool, err error) {
	// Fast path for short strings without escapes, the usual keys and values: a plain loop
	// beats IndexByte's setup.
	if lim := min(s.w, s.r+33); true {
		for i := s.r + 1; i < lim; i++ {
			if c := s.buf[i]; c == '"' {
				start, end = s.r+1, i
				s.r = i + 1
				return start, end, false, nil
			} else if c == '\\' {
				break
			}
		}
	}
	return s.strSlow()
}

func (s *scanner) strSlow() (start, end int, esc bool, err error) {
	j := 1 // relative to s.r: where to search for the closing quote
	for {
		i := bytes.IndexByte(s.buf[s.r+j:s.w], '"')
		if i < 0 {
			j = s.w - s.r
			if !s.more() {
				return 0, 0, false, s.eof()
			}
			continue
		}
		q := s.r + j + i
		k := q - 1
		for k > s.r && s.buf[k] == '\\' {
			k--
		}
		if (q-1-k)&1 == 1 { // odd number of backslashes: an escaped quote
			j = q - s.r + 1
			continue
		}
		start, end = s.r+1, q
		esc = bytes.IndexByte(s.buf[start:end], '\\') >= 0
		s.r = q + 1
		return start, end, esc, nil
	}
}

// appendStr scans a string (at s.buf[s.r] == '"') and appends its unescaped body to dst.
func (s *scanner) appendStr(dst []byte) ([]byte, error) {
	start, end, esc, err := s.str()
	if err != nil {
		return dst, err
	}
	if !esc {
		return append(dst, s.buf[start:end]...), nil
	}
	dst, bad := unescape(dst, s.buf[start:end])
	if bad >= 0 {
		return dst, s.syntax(start+bad, "invalid escape in string")
	}
	return dst, nil
}

var numChar = func() (t [256]bool) {
	for _, c := range []byte("0123456789+-.eE") {
		t[c] = true
	}
	return t
}()

// number scans a number starting at s.buf[s.r], returning it as buf[start:end].
func (s *scanner) number() (start, end int, err error) {
	j := 0
	for {
		for s.r+j < s.w && numChar[s.buf[s.r+j]] {
			j++
		}
		if s.r+j < s.w || !s.more() {
			break
		}
	}
	if s.rerr != nil && s.rerr != io.EOF && s.r+j == s.w {
		return 0, 0, s.eof()
	}
	start, end = s.r, s.r+j
	if !validNumber(s.buf[start:end]) {
		if end == s.w { // cut short by the end of input ("1.", "-")
			return 0, 0, s.eof()
		}
		return 0, 0, s.syntax(start, "invalid number")
	}
	s.r = end
	return start, end, nil
}

// validNumber checks the JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return false
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(b)
}

// literal consumes lit (true, false or null) at s.r.
func (s *scanner) literal(lit string) error {
	for s.w-s.r < len(lit) {
		if !s.more() {
			if string(s.buf[s.r:s.w]) == lit[:s.w-s.r] {
				return s.eof()
			}
			return s.syntax(s.r, "invalid literal, expected %s", lit)
		}
	}
	if string(s.buf[s.r:s.r+len(lit)]) != lit {
		return s.syntax(s.r, "invalid literal, expected %s", lit)
	}
	s.r += len(lit)
	return nil
}

// emit passes skipped bytes to the sinks.
func (s *scanner) emit(p []byte) {
	if !s.sink || len(p) == 0 || s.serr != nil {
		return
	}
	if s.capture != nil {
		if len(*s.capture)+len(p) > s.capMax {
			s.serr = errTooLarge
			return
		}
		*s.capture = append(*s.capture, p...)
	}
	if s.out != nil {
		n, err := s.out.Write(p)
		s.outN += int64(n)
		if err != nil {
			s.serr = err
		}
	}
}

// skip consumes the value that starts at the next non-space byte, passing its bytes to the
// sinks. Strings and brackets are checked (balanced, terminated); scalars are validated.
// Nothing is recursed and only the current chunk is held, whatever the value's size.
func (s *scanner) skip() error {
	c, ok := s.peek()
	if !ok {
		return s.eof()
	}
	switch {
	case c == '"':
		return s.skipString()
	case c == '{' || c == '[':
		return s.skipNested()
	case c == '-' || (c >= '0' && c <= '9'):
		start, end, err := s.number()
		if err != nil {
			return err
		}
		s.emit(s.buf[start:end])
		return nil
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		if err := s.literal(lit); err != nil {
			return err
		}
		s.emit(s.buf[s.r-len(lit) : s.r])
		return nil
	}
	return s.syntax(s.r, "%s looking for a value", unexpected(c))
}

// skipString skips the string at s.buf[s.r] without requiring it to fit in the buffer.
func (s *scanner) skipString() error {
	i := s.r + 1
	for lim := min(s.w, i+32); i < lim; i++ { // short strings without escapes
		if c := s.buf[i]; c == '"' {
			i++
			if s.sink {
				s.emit(s.buf[s.r:i])
			}
			s.r = i
			return nil
		} else if c == '\\' {
			break
		}
	}
	esc := false
	q := -1 // position of the next quote at or after i, when known
	for {
		if i >= s.w {
			s.emit(s.buf[s.r:i])
			s.r = i
			if !s.more() {
				return s.eof()
			}
			i, q = s.r, -1
			continue
		}
		if esc {
			esc = false
			i++
			continue
		}
		if q < i {
			q = bytes.IndexByte(s.buf[i:s.w], '"')
			if q < 0 {
				q = s.w // none in the buffer
			} else {
				q += i
			}
		}
		if b := bytes.IndexByte(s.buf[i:q], '\\'); b >= 0 {
			i += b + 1
			esc = true
			continue
		}
		if q < s.w {
			i = q + 1
			s.emit(s.buf[s.r:i])
			s.r = i
			return nil
		}
		i = s.w
	}
}

var nestChar = [256]bool{'{': true, '}': true, '[': true, ']': true, '"': true}

// skipNested skips the object or array at s.buf[s.r], checking that brackets match.
func (s *scanner) skipNested() error {
	stack := s.stack[:0]
	defer func() { s.stack = stack[:0] }()
	i := s.r
	for {
		if i >= s.w {
			s.emit(s.buf[s.r:i])
			s.r = i
			if !s.more() {
				return s.eof()
			}
			i = s.r
			continue
		}
		c := s.buf[i]
		if !nestChar[c] {
			i++
			continue
		}
		switch c {
		case '{', '[':
			if len(stack) >= maxDepth {
				return s.syntax(i, "nesting deeper than %d levels", maxDepth)
			}
			stack = append(stack, c)
		case '}', ']':
			open := byte('{')
			if c == ']' {
				open = '['
			}
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return s.syntax(i, "%s: mismatched bracket", unexpected(c))
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				i++
				s.emit(s.buf[s.r:i])
				s.r = i
				return nil
			}
		case '"':
			s.emit(s.buf[s.r:i])
			s.r = i
			if err := s.skipString(); err != nil {
				return err
			}
			i = s.r
			continue
		}
		i++
	}
}
