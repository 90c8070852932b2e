package marketo

import (
	"io"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/benchrows"
	marketofake "github.com/actionhub/actionhub/internal/fakes/marketo"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkExecute1M sends 1,000,000 rows of json_detail_lite_stream through a download
// URL and the real HTTP server to the fake Marketo (lead sync only), which answers at
// once. The limits are lifted through Module's tune hook (Limits.Rate = 0 and no
// concurrency cap; in a deployment MARKETO_RATE_LIMIT=0 lifts the rate) and the fake's
// own limits are off. It reports rows/s (wall time), rows per CPU-second of the whole
// process, the peak Go heap and the peak RSS of the whole test process (hub, fake vendor
// and data generator together), and fails if a row is lost or duplicated:
//
//	taskset -c 0 go test -run '^$' -bench Execute1M -benchtime 1x -cpu 1 ./actions/marketo
func BenchmarkExecute1M(b *testing.B) {
	const n = 1_000_000
	opts := mapped(n)
	tot := benchrows.Totals{Period: 5 * time.Millisecond}
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		fake := marketofake.New(b, marketofake.Options{ClientID: clientID, ClientSecret: secret, Fast: true,
			RateLimit: -1, Concurrency: -1})
		h := hubtest.New(b, hubtest.Options{
			Actions: []sdk.Module{Module(func(l *Limits) { l.Rate, l.Concurrency = 0, 0 })},
		})
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		tot.Deliver(b, h, "marketo", map[string]any{
			"type": "query", "data": map[string]any{"url": fake.URL, "clientID": clientID, "clientSecret": secret},
			"form_params":    map[string]any{"lookupField": "email", "subaction": "none"},
			"scheduled_plan": map[string]any{"download_url": dl},
		}, n)
		if distinct, repeated := fake.Seen(); distinct != n || repeated != 0 {
			b.Fatalf("fake saw %d distinct leads and %d repeats, want %d and 0", distinct, repeated, n)
		}
	}
	tot.Report(b, int64(n)*int64(b.N))
}
