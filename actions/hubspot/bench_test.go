package hubspot

import (
	"io"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/benchrows"
	hubspotfake "github.com/actionhub/actionhub/internal/fakes/hubspot"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkExecute1M sends 1,000,000 rows of json_detail_lite_stream through a download
// URL and the real HTTP server to the fake HubSpot, which answers at once. The rate limit
// is lifted through Module's tune hook (Limits.Rate = 0; in a deployment the same is
// HUBSPOT_RATE_LIMIT=0). It reports rows/s (wall time), rows per CPU-second of the whole
// process (the figure that matters on a shared machine), the peak Go heap and the peak RSS of the
// whole test process (hub, fake vendor and data generator together), and fails if a row
// is lost or duplicated. Run alone for meaningful memory figures:
//
//	taskset -c 0 go test -run '^$' -bench Execute1M -benchtime 1x -cpu 1 ./actions/hubspot
func BenchmarkExecute1M(b *testing.B) {
	const n = 1_000_000
	opts := genOpts(n, Contacts.Tag)
	tot := benchrows.Totals{Period: 5 * time.Millisecond}
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		fake := hubspotfake.New(b, hubspotfake.Options{Token: token, Fast: true})
		h := hubtest.New(b, hubtest.Options{
			Env:     map[string]string{sdk.VendorURLVar + "HUBSPOT": fake.URL},
			Actions: []sdk.Module{Module(Contacts, func(l *Limits) { l.Rate = 0 })},
		})
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		tot.Deliver(b, h, "hubspot_contacts", map[string]any{
			"type": "query", "data": map[string]any{"hubspot_access_token": token},
			"scheduled_plan": map[string]any{"download_url": dl},
		}, n)
		if distinct, repeated := fake.Seen(); distinct != n || repeated != 0 {
			b.Fatalf("fake saw %d distinct ids and %d repeats, want %d and 0", distinct, repeated, n)
		}
	}
	tot.Report(b, int64(n)*int64(b.N))
}
