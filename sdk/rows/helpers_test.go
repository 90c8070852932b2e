package rows_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/actionhub/actionhub/sdk/rows"
)

// dump reads everything and renders fields, rows, ran_at and the error canonically, so two
// readings of the same input can be compared. It also checks invariants every value must
// satisfy (AppendJSON is valid JSON, String and Bytes agree).
func dump(t testing.TB, r io.Reader, format string) string {
	t.Helper()
	rd := rows.NewReader(r, format)
	defer rd.Close()
	var b strings.Builder
	f, err := rd.Fields()
	if err != nil {
		fmt.Fprintf(&b, "fields error: %v\n", err)
	} else {
		for _, fl := range f.All() {
			fmt.Fprintf(&b, "field %q %q %v\n", fl.Name, fl.Label, fl.Tags)
		}
	}
	var js []byte
	for rd.Next() {
		row := rd.Row()
		if row.Number() != rd.Count() {
			t.Fatalf("row number %d, count %d", row.Number(), rd.Count())
		}
		fmt.Fprintf(&b, "#%d", row.Number())
		for i := 0; i < row.Len(); i++ {
			c := row.At(i)
			fmt.Fprintf(&b, " %q=", row.Name(i))
			if c.Pivoted != nil {
				b.WriteString("{")
				for _, p := range c.Pivoted {
					fmt.Fprintf(&b, "%q:%s ", p.Key, render(t, p.Value, &js))
				}
				b.WriteString("}")
				continue
			}
			b.WriteString(render(t, c.Value, &js))
		}
		b.WriteString("\n")
	}
	if t, ok := rd.RanAt(); ok {
		fmt.Fprintf(&b, "ran_at %s\n", t.UTC().Format("2006-01-02T15:04:05Z"))
	}
	for _, p := range rd.Pivots() {
		fmt.Fprintf(&b, "pivot %q %v %v\n", p.Key, p.IsTotal, p.Data)
	}
	if err := rd.Err(); err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

func render(t testing.TB, v rows.Value, js *[]byte) string {
	t.Helper()
	*js = v.AppendJSON((*js)[:0])
	if !json.Valid(*js) {
		t.Fatalf("AppendJSON gave invalid JSON %q for %s value %q", *js, v.Kind(), v.Bytes())
	}
	if v.String() != string(v.Bytes()) {
		t.Fatalf("String %q != Bytes %q", v.String(), v.Bytes())
	}
	if v.IsNull() != (v.Kind() == rows.Null) {
		t.Fatalf("IsNull disagrees with Kind")
	}
	return v.Kind().String() + ":" + string(*js)
}

// readers returns the ways of feeding data that must all give the same result.
func readers(data []byte) map[string]func() io.Reader {
	return map[string]func() io.Reader{
		"whole":   func() io.Reader { return bytes.NewReader(data) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"dataerr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
	}
}

// same checks that every way of feeding data gives the same dump, and returns it.
func same(t testing.TB, data []byte, format string) string {
	t.Helper()
	want := dump(t, bytes.NewReader(data), format)
	for name, mk := range readers(data) {
		if got := dump(t, mk(), format); got != want {
			t.Fatalf("%s reader differs:\n got: %s\nwant: %s", name, got, want)
		}
	}
	return want
}
