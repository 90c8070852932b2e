package benchkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func TestDelivered(t *testing.T) {
	for msg, ok := range map[string]bool{
		"Delivered 1,000 of 1,000 rows.":                true,
		"Delivered 1,000 of 1,000 rows; 15 retries.":    true,
		"Delivered 1,000 of 1,000 rows; 1,234 retries.": true,
		"Delivered 999 of 1,000 rows.":                  false,
		"Delivered 1,000 of 1,000 rows; 2 rejected.":    false,
		"Delivered 1,000 of 1,000 rows; retries.":       false,
		"Delivered 1,000 of 1,000 rows":                 false,
		"Delivered 1,000 of 1,000 rows. Stopped: x.":    false,
	} {
		if err := Delivered(&Envelope{Success: true, Message: msg}, 1000); (err == nil) != ok {
			t.Errorf("%q: %v", msg, err)
		}
	}
	if Delivered(&Envelope{Success: false, Message: "Delivered 1,000 of 1,000 rows."}, 1000) == nil {
		t.Error("success=false accepted")
	}
}

func TestSizes(t *testing.T) {
	for n, want := range map[int64]string{1 << 30: "1 GiB", 16 << 20: "16 MiB", 1536: "1536 B", 2048: "2 KiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q", n, got)
		}
	}
	if Group(1234567) != "1,234,567" || Group(12) != "12" {
		t.Error(Group(1234567))
	}
}

func TestDownloadsOneTime(t *testing.T) {
	d, err := NewDownloads()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := d.Add(Bytes(3 << 20))
	n, err := Fetch(http.DefaultClient, u)
	if err != nil || n != 3<<20 {
		t.Fatalf("%d %v", n, err)
	}
	if _, err := Fetch(http.DefaultClient, u); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("second use: %v", err)
	}
	if _, err := Fetch(http.DefaultClient, d.URL+"/download/nope"); err == nil {
		t.Fatal("unknown token served")
	}
	// A generator that fails cuts the stream: the reader sees an error, not a short body.
	u = d.Add(func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("boom")
	})
	if _, err := Fetch(http.DefaultClient, u); err == nil {
		t.Fatal("a cut download read as complete")
	}
	if d.Served() != 2 || d.Cut() != 1 || d.PeakActive() != 1 {
		t.Fatalf("served %d cut %d peak %d", d.Served(), d.Cut(), d.PeakActive())
	}
	// Rows are generated, not stored: the same options give the same bytes.
	opts := rowsgen.Options{Rows: 1000}
	var want bytes.Buffer
	rowsgen.JSONDetail(&want, opts)
	resp, err := http.Get(d.Add(Rows(opts)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, want.Bytes()) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatal("rows download differs from rowsgen")
	}
}

func TestPattern(t *testing.T) {
	var a, b bytes.Buffer
	n, err := NewPattern(5<<20 + 7).WriteTo(&a)
	if err != nil || n != 5<<20+7 {
		t.Fatal(n, err)
	}
	io.CopyBuffer(&b, struct{ io.Reader }{NewPattern(5<<20 + 7)}, make([]byte, 1000)) // Read path
	if !bytes.Equal(a.Bytes(), b.Bytes()) || bytes.Count(a.Bytes(), []byte{0}) != 0 {
		t.Fatal("Read and WriteTo differ")
	}
}

func TestT(t *testing.T) {
	tt := NewT("x")
	var order []int
	tt.Cleanup(func() { order = append(order, 1) })
	tt.Cleanup(func() { order = append(order, 2) })
	tt.Errorf("e %d", 1)
	if !tt.Failed() || tt.Errors()[0] != "e 1" || tt.Name() != "x" {
		t.Fatal(tt.Errors())
	}
	func() {
		defer func() {
			if f, ok := recover().(Failure); !ok || f.Error() != "bad 7" {
				t.Fatalf("recovered %v", f)
			}
		}()
		tt.Fatalf("bad %d", 7)
	}()
	tt.Close()
	if len(order) != 2 || order[0] != 2 {
		t.Fatalf("cleanups ran %v", order)
	}
}

func TestLoadAndPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if Percentile(d, 50) != 5 || Percentile(d, 99) != 10 || Percentile(nil, 50) != 0 || Percentile(d[:1], 99) != 1 {
		t.Fatal(Percentile(d, 50), Percentile(d, 99))
	}
	var calls atomic.Int64
	l := Load(context.Background(), 4, 100*time.Millisecond, func(ctx context.Context) error {
		if calls.Add(1)%10 == 0 {
			return errors.New("every tenth fails")
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	if l.Requests <= 0 || l.Errors <= 0 || l.P50 < time.Millisecond || l.P99 < l.P50 || l.PerSecond <= 0 {
		t.Fatalf("%+v", l)
	}
}

func TestMachine(t *testing.T) {
	m := ThisMachine()
	if m.Cores <= 0 || m.CPU == "" || m.Go == "" {
		t.Fatalf("%+v", m)
	}
}
