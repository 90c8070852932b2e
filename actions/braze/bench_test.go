package braze

import (
	"io"
	"testing"

	"github.com/actionhub/actionhub/internal/benchrows"
	brazefake "github.com/actionhub/actionhub/internal/fakes/braze"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkEndToEnd sends json_detail_lite_stream rows from a one-time download URL
// through the real HTTP server (hubtest) to the fake Braze, which answers at once and only
// counts (Light mode). The hub's own rate limit is off (BRAZE_RATE_LIMIT=0): with it on,
// Braze's 3,000 requests per 3 s of 75 objects cap an export at about 67,500 rows/s. It
// reports rows/s, the peak Go heap and the peak RSS. Run it alone, on one core:
//
//	go test -run '^$' -bench EndToEnd -benchtime 1x -cpu 1 ./actions/braze/
func BenchmarkEndToEnd(b *testing.B) { benchrows.PerSize(b, benchEndToEnd) }

func benchEndToEnd(b *testing.B, n int) {
	fake := brazefake.New(b, brazefake.Options{APIKey: testKey, Light: true})
	h := newHub(b, fake, Options{}, nil)
	opts := rowsgen.Options{Rows: n, Columns: genColumns}
	var tot benchrows.Totals
	b.StopTimer()
	b.ResetTimer() // the setup is not timed
	for i := 0; i < b.N; i++ {
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		tot.Deliver(b, h, Name, executeBody(dl, "https://rest.iad-01.braze.com"), n)
	}
	if got, want := fake.Received(), int64(n)*int64(b.N); got != want {
		b.Fatalf("the fake received %d objects, want %d", got, want)
	}
	if p := fake.Problems(); len(p) > 0 {
		b.Fatalf("the fake refused: %v", p)
	}
	tot.Report(b, int64(n)*int64(b.N))
	b.ReportMetric(float64(fake.Requests())/float64(b.N), "requests/op")
}
