package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/internal/benchkit"
)

// TestQuickRun runs `bench -quick -json`, then prints the same result as the table, and
// checks that every row is there with positive figures.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hub binary")
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-quick", "-json", "-q"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	var res benchkit.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res.Date.IsZero() || res.Machine.Cores <= 0 || res.Machine.CPU == "" || res.Hub == "" || !strings.Contains(res.RSS, "VmHWM") {
		t.Fatalf("header: %+v", res)
	}
	q := benchkit.QuickOptions()
	type key struct{ kind, name, size string }
	want := []key{}
	for _, n := range q.SegmentRows {
		size := benchkit.Group(int64(n)) + " rows"
		want = append(want, key{benchkit.KindReference, "reference (segment data)", size}, key{benchkit.KindDelivery, "segment_event (Identify)", size})
	}
	for _, n := range q.BrazeRows {
		size := benchkit.Group(int64(n)) + " rows"
		want = append(want, key{benchkit.KindReference, "reference (braze data)", size}, key{benchkit.KindDelivery, "braze", size})
	}
	s3 := benchkit.Size(q.S3Bytes)
	want = append(want, key{benchkit.KindReference, "reference (bytes)", s3}, key{benchkit.KindDelivery, "amazon_s3", s3},
		key{benchkit.KindLatency, "action list (POST /)", "64 clients"}, key{benchkit.KindLatency, "form (braze)", "64 clients"})
	if len(res.Rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(res.Rows), len(want), res.Rows)
	}
	for i, w := range want {
		r := res.Rows[i]
		if (key{r.Kind, r.Name, r.Size}) != w {
			t.Errorf("row %d is %q %q %q, want %q", i, r.Kind, r.Name, r.Size, w)
			continue
		}
		switch r.Kind {
		case benchkit.KindLatency:
			if r.P50ms <= 0 || r.P99ms < r.P50ms || r.ReqPerSec <= 0 || r.Requests <= 0 || r.PeakRSSMB <= 0 {
				t.Errorf("%s: %+v", r.Name, r)
			}
		default:
			if r.Seconds <= 0 || r.Bytes <= 0 || r.MBPerSec <= 0 || (r.Rows > 0) != (r.RowsPerSec > 0) {
				t.Errorf("%s %s: %+v", r.Name, r.Size, r)
			}
			if strings.HasSuffix(r.Size, " rows") && (r.Rows <= 0 || r.RowsPerSec <= 0) {
				t.Errorf("%s %s: no rows/s", r.Name, r.Size)
			}
			if (r.Kind == benchkit.KindDelivery) != (r.PeakRSSMB > 0) {
				t.Errorf("%s %s: peak RSS %v", r.Name, r.Size, r.PeakRSSMB)
			}
		}
	}
	// The table has the same rows, each with its figures.
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	text := table.String()
	for _, w := range []string{"Action Hub bench, ", "Machine: " + res.Machine.CPU, "Peak RSS: VmHWM", "Rows/s", "p99 (ms)"} {
		if !strings.Contains(text, w) {
			t.Errorf("table lacks %q:\n%s", w, text)
		}
	}
	lines := strings.Split(text, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			rest, ok := strings.CutPrefix(l, w.name+" ")
			if !ok {
				continue
			}
			rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " "), w.size+" ")
			if !ok {
				continue
			}
			found = true
			figures := 0
			for _, f := range strings.Fields(rest) {
				if v, err := strconv.ParseFloat(f, 64); err == nil && v > 0 {
					figures++
				} else if f != "-" {
					t.Errorf("table cell %q in %q", f, l)
				}
			}
			// time, rows/s (row counts only), MB/s and peak RSS (deliveries only); or time,
			// peak RSS, p50, p99 and requests/s
			want := 2
			if strings.HasSuffix(w.size, " rows") {
				want++
			}
			if w.kind != benchkit.KindReference {
				want++
			}
			if w.kind == benchkit.KindLatency {
				want = 5
			}
			if figures != want {
				t.Errorf("table row %q has %d figures, want %d", l, figures, want)
			}
		}
		if !found {
			t.Errorf("table lacks %s %s:\n%s", w.name, w.size, text)
		}
	}
}

func TestFlags(t *testing.T) {
	var out, errs bytes.Buffer
	for _, args := range [][]string{{"-segment", "x"}, {"-s3", "lots"}, {"-braze", "0"}, {"extra"}} {
		errs.Reset()
		if code := run(context.Background(), args, &out, &errs); code != 2 || errs.Len() == 0 {
			t.Errorf("%v: exit %d, %q", args, code, errs.String())
		}
	}
	if n, err := counts("100_000, 1000000"); err != nil || len(n) != 2 || n[0] != 100000 || n[1] != 1000000 {
		t.Errorf("counts: %v %v", n, err)
	}
	for in, want := range map[string]int64{"1G": 1 << 30, "256M": 256 << 20, "512MiB": 512 << 20, "1000": 1000, "0": 0} {
		if got, err := benchkit.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
}
