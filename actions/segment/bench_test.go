package segment

import (
	"io"
	"testing"

	"github.com/actionhub/actionhub/internal/benchrows"
	segmentfake "github.com/actionhub/actionhub/internal/fakes/segment"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkEndToEnd sends json_detail_lite_stream rows from a one-time download URL
// through the real HTTP server (hubtest) to the fake Segment, which answers at once and
// only counts (Light mode). It reports rows/s, the peak Go heap and the peak RSS of the
// process during the run. Run it alone, on one core:
//
//	go test -run '^$' -bench EndToEnd -benchtime 1x -cpu 1 ./actions/segment/
func BenchmarkEndToEnd(b *testing.B) { benchrows.PerSize(b, benchEndToEnd) }

func benchEndToEnd(b *testing.B, n int) {
	fake := segmentfake.New(b, segmentfake.Options{WriteKey: testKey, Light: true})
	h := newHub(b, fake, Options{})
	opts := rowsgen.Options{Rows: n}
	var tot benchrows.Totals
	b.StopTimer()
	b.ResetTimer() // the setup is not timed
	for i := 0; i < b.N; i++ {
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		tot.Deliver(b, h, NameIdentify, executeBody(dl, map[string]any{}), n)
	}
	if got, want := fake.Received(), int64(n)*int64(b.N); got != want {
		b.Fatalf("the fake received %d messages, want %d", got, want)
	}
	if p := fake.Problems(); len(p) > 0 {
		b.Fatalf("the fake refused: %v", p)
	}
	if fake.SampledBatches() == 0 {
		b.Fatal("no batch was fully validated")
	}
	tot.Report(b, int64(n)*int64(b.N))
	b.ReportMetric(float64(fake.Requests())/float64(b.N), "requests/op")
}
