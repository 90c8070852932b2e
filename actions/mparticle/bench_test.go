package mparticle

import (
	"io"
	"testing"

	"github.com/actionhub/actionhub/internal/benchrows"
	mparticlefake "github.com/actionhub/actionhub/internal/fakes/mparticle"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkEndToEnd sends json_detail_lite_stream rows (event data) from a one-time
// download URL through the real HTTP server (hubtest) to the fake mParticle, which answers
// at once and only counts (Light mode). The hub's own rate limit is off
// (MPARTICLE_RATE_LIMIT=0): with it on, mParticle's default 270 batches/s is the ceiling.
// It reports rows/s, rows per CPU second, the peak Go heap and the peak RSS. Run it alone,
// on one core:
//
//	go test -run '^$' -bench EndToEnd -benchtime 1x -cpu 1 ./actions/mparticle/
func BenchmarkEndToEnd(b *testing.B) { benchrows.PerSize(b, benchEndToEnd) }

func benchEndToEnd(b *testing.B, n int) {
	fake := mparticlefake.New(b, mparticlefake.Options{APIKey: testKey, APISecret: testSecret, Light: true})
	h := newHub(b, fake, Options{})
	opts := rowsgen.Options{Rows: n, Columns: genColumns}
	var tot benchrows.Totals
	b.StopTimer()
	b.ResetTimer() // the setup is not timed
	for i := 0; i < b.N; i++ {
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		tot.Deliver(b, h, Name, executeBody(dl, EventData), n)
	}
	if got, want := fake.Received(), int64(n)*int64(b.N); got != want {
		b.Fatalf("the fake received %d batches, want %d", got, want)
	}
	if p := fake.Problems(); len(p) > 0 {
		b.Fatalf("the fake refused: %v", p)
	}
	tot.Report(b, int64(n)*int64(b.N))
	b.ReportMetric(float64(fake.Requests())/float64(b.N), "requests/op")
}
