package airtable

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/benchrows"
	airtablefake "github.com/actionhub/actionhub/internal/fakes/airtable"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkExecute100K sends 100,000 rows of json_detail_lite_stream through a download
// URL and the real HTTP server to the fake Airtable, which answers at once. Airtable
// takes 10 records per request, so this is 10,000 requests: 100,000 rows is the size
// that matters here (an Airtable base holds at most 125,000 records on its largest plan
// below Enterprise), and the per-request cost dominates. The rate limit is lifted through
// Module's tune hook (Limits.Rate = 0, 8 requests in flight; in a deployment
// AIRTABLE_RATE_LIMIT=0 lifts the rate). It reports rows/s (wall time), rows per
// CPU-second of the whole process, the peak Go heap and the peak RSS of the whole test
// process (hub, fake vendor and data generator together), and fails if a row is lost or
// duplicated:
//
//	taskset -c 0 go test -run '^$' -bench Execute100K -benchtime 1x -cpu 1 ./actions/airtable
func BenchmarkExecute100K(b *testing.B) {
	const n = 100_000
	opts := numbered(n)
	tot := benchrows.Totals{Period: 5 * time.Millisecond}
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		fake := airtablefake.New(b, airtablefake.Options{ClientID: clientID, ClientSecret: clientSecret,
			Tables: map[string][]string{"appBase": {"Leads"}}, FastKey: "Num"})
		access, refresh := fake.Issue()
		state, _ := json.Marshal(Tokens{AccessToken: access, RefreshToken: refresh})
		h := hubtest.New(b, hubtest.Options{
			Env: map[string]string{"AIRTABLE_CLIENT_ID": clientID, "AIRTABLE_CLIENT_SECRET": clientSecret,
				sdk.VendorURLVar + "AIRTABLE_API": fake.URL, sdk.VendorURLVar + "AIRTABLE_AUTH": fake.URL},
			Actions: []sdk.Module{Module(func(l *Limits) { l.Rate, l.MaxInFlight = 0, 8 })},
		})
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		tot.Deliver(b, h, "airtable", map[string]any{
			"type": "query", "data": map[string]any{"state_json": string(state)},
			"form_params":    map[string]any{"base": "appBase", "table": "Leads"},
			"scheduled_plan": map[string]any{"download_url": dl},
		}, n)
		if distinct, repeated := fake.Seen(); distinct != n || repeated != 0 {
			b.Fatalf("fake saw %d distinct rows and %d repeats, want %d and 0", distinct, repeated, n)
		}
	}
	tot.Report(b, int64(n)*int64(b.N))
}
