package rows

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// repeatReader yields s n times.
func repeatReader(s string, n int) io.Reader {
	return io.LimitReader(&cycle{s: s}, int64(len(s)*n))
}

type cycle struct {
	s   string
	off int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.s[c.off:])
		n += k
		c.off = (c.off + k) % len(c.s)
	}
	return n, nil
}

func TestSkippedValuesDoNotGrowTheBuffer(t *testing.T) {
	big := strings.Repeat(`{"label":"a \" b","url":"/x"},`, 200000) // ~6 MB of links
	huge := strings.Repeat(`x\"`, 2_000_000)                        // ~6 MB sql string
	doc := `{"sql":"` + huge + `","fields":{"dimensions":[{"name":"a"}]},"data":[{"a":{"value":1,"links":[` + big + `{}]}},{"a":{"value":2}}]}`
	rd := NewReader(strings.NewReader(doc), "json_detail")
	n := 0
	for rd.Next() {
		n++
		if got := rd.Row().Value("a").String(); got != fmt.Sprint(n) {
			t.Fatalf("row %d: %q", n, got)
		}
	}
	if rd.Err() != nil || n != 2 {
		t.Fatalf("%v after %d rows", rd.Err(), n)
	}
	if len(rd.main.buf) != bufSize {
		t.Fatalf("buffer grew to %d bytes for skipped values", len(rd.main.buf))
	}
}

func TestOneHugeValueGrowsTheBuffer(t *testing.T) {
	val := strings.Repeat("é", 1<<20) // 2 MiB
	doc := `[{"a":"` + val + `","b":1},{"a":"x","b":2}]`
	rd := NewReader(strings.NewReader(doc), "json")
	if !rd.Next() || rd.Row().Value("a").String() != val || rd.Row().Value("b").String() != "1" {
		t.Fatalf("huge value: %v", rd.Err())
	}
	if len(rd.main.buf) < 2<<20 {
		t.Fatalf("buffer %d", len(rd.main.buf))
	}
	if !rd.Next() || rd.Row().Value("a").String() != "x" || rd.Next() || rd.Err() != nil {
		t.Fatal(rd.Err())
	}
}

func TestRowsDoNotAccumulate(t *testing.T) {
	// 200k rows of the same shape: the reader's memory is its buffer and one row.
	rd := NewReader(io.MultiReader(strings.NewReader(`{"fields":{},"data":[`),
		repeatReader(`{"a":{"value":"abcdefghij"},"b":{"value":12345}},`, 200000),
		strings.NewReader(`{}]}`)), "")
	for rd.Next() {
	}
	if rd.Err() != nil || rd.Count() != 200001 {
		t.Fatalf("%v after %d", rd.Err(), rd.Count())
	}
	if len(rd.main.buf) != bufSize || cap(rd.row.arena) > 64 || cap(rd.row.cells) > 8 || len(rd.names) != 2 {
		t.Fatalf("state grew: buf %d arena %d cells %d names %d", len(rd.main.buf), cap(rd.row.arena), cap(rd.row.cells), len(rd.names))
	}
}

func TestInternedNamesAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	const n = maxNames + 500
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"k%d":%d}`, i, i)
	}
	b.WriteString("]")
	rd := NewReader(strings.NewReader(b.String()), "json")
	for rd.Next() {
		i := rd.Count() - 1
		if rd.Row().Name(0) != fmt.Sprintf("k%d", i) || rd.Row().At(0).Value.String() != fmt.Sprint(i) {
			t.Fatalf("row %d: %q", i, rd.Row().Name(0))
		}
	}
	if rd.Err() != nil || rd.Count() != n || len(rd.names) != maxNames {
		t.Fatalf("%v, %d rows, %d names", rd.Err(), rd.Count(), len(rd.names))
	}
}

func TestFastPathFallsBackAndPauses(t *testing.T) {
	// Full json_detail rows (rendered, links) cannot take the fast path: it must pause
	// rather than fail on every row, and give the same values.
	var b strings.Builder
	b.WriteString(`{"data":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"a":{"value":%d,"rendered":"%d"}}`, i, i)
	}
	b.WriteString(`],"fields":{}}`)
	rd := NewReader(strings.NewReader(b.String()), "")
	for rd.Next() {
		if rd.Row().Value("a").String() != fmt.Sprint(rd.Count()-1) {
			t.Fatalf("row %d", rd.Count())
		}
		if rd.Count() == 3 && rd.fastPause != fastPause-1 {
			t.Fatalf("fast path not paused: %d", rd.fastPause)
		}
	}
	if rd.Err() != nil || rd.Count() != 1000 {
		t.Fatal(rd.Err())
	}
}
