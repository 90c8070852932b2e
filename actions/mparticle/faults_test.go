package mparticle

import (
	"context"
	"strings"
	"testing"
	"time"

	mparticlefake "github.com/actionhub/actionhub/internal/fakes/mparticle"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

// genColumns are the generated query's fields: two identities and two attributes.
var genColumns = []rowsgen.Column{
	{Name: "users.id", Tags: []string{"mp_customer_id"}, Kind: rowsgen.Int},
	{Name: "users.email", Tags: []string{"mp_email"}, Kind: rowsgen.Email},
	{Name: "users.name", Tags: []string{"mp_user_attribute"}, Kind: rowsgen.String},
	{Name: "orders.total", Tags: []string{"mp_custom_attribute"}, Kind: rowsgen.Float, Measure: true},
}

// Every row is delivered and counted once under 429 with Retry-After, 5xx, a hang past the
// client's timeout and connections dropped before and after commit. mParticle has no
// idempotency key: a request whose answer was lost is re-sent and mParticle may ingest its
// batches twice. The fake shows those copies (same source_request_id), the report counts
// each row once, and the distinct batches are exactly the rows.
func TestFaultsDeliveredOnceReportedExactly(t *testing.T) {
	cfg := fastHTTP
	cfg.Timeout = attemptTimeout()
	cfg.MaxRetries = 8
	h := newHarness(t, mparticlefake.Options{}, cfg, 4)
	faults := []mparticlefake.Fault{
		{Kind: mparticlefake.TooMany, RetryAfter: "1"},
		{Kind: mparticlefake.ServerError, Status: 503},
		{Kind: mparticlefake.DropAfterCommit},
		{Kind: mparticlefake.Hang},
		{Kind: mparticlefake.DropBeforeCommit},
		{Kind: mparticlefake.ServerError, Status: 500},
		{Kind: mparticlefake.DropAfterCommit},
		{Kind: mparticlefake.TooMany},
	}
	h.fake.Inject(faults...)
	const n = 3000
	opts := rowsgen.Options{Rows: n, Columns: genColumns}
	start := time.Now()
	resp, err := h.exec(t, request(t, rowsgen.Bytes(opts), EventData))
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	if time.Since(start) < time.Second {
		t.Error("Retry-After: 1 was not honoured")
	}
	snap := resp.Report.Snapshot()
	if snap.Read != n || snap.Delivered != n || snap.Retries != int64(len(faults)) || snap.Batches != n/MaxBatchesPerRequest {
		t.Errorf("report %+v", snap)
	}
	batches := h.fake.Batches()
	if len(batches) != n {
		t.Fatalf("%d distinct batches, want %d", len(batches), n)
	}
	if h.fake.Duplicates() != 2*MaxBatchesPerRequest || h.fake.Received() != n+2*MaxBatchesPerRequest {
		t.Errorf("duplicates %d, received %d: want the two dropped-after-commit requests re-sent whole",
			h.fake.Duplicates(), h.fake.Received())
	}
	seen := map[string]bool{}
	for _, b := range batches {
		ids := b["user_identities"].(map[string]any)
		id := ids["customerid"].(string)
		if seen[id] {
			t.Fatalf("customer %s twice", id)
		}
		seen[id] = true
	}
	for i := 1; i <= n; i++ {
		if id, _ := opts.Text(i, 0, 0); !seen[id] {
			t.Fatalf("row %d missing", i)
		}
	}
	if h.fake.MaxBatchesSeen() > MaxBatchesPerRequest {
		t.Errorf("a request held %d batches", h.fake.MaxBatchesSeen())
	}
}

// A request that still fails after the retries is reported row by row.
func TestFaultsBeyondRetriesAreReported(t *testing.T) {
	cfg := fastHTTP
	cfg.MaxRetries = 1
	h := newHarness(t, mparticlefake.Options{}, cfg, 1)
	h.fake.Inject(mparticlefake.Fault{Kind: mparticlefake.ServerError, Status: 503},
		mparticlefake.Fault{Kind: mparticlefake.ServerError, Status: 503})
	const n = 250
	resp, err := h.exec(t, request(t, rowsgen.Bytes(rowsgen.Options{Rows: n, Columns: genColumns}), UserData))
	if err != nil {
		t.Fatal(err)
	}
	snap := resp.Report.Snapshot()
	if resp.Success || snap.Rejected != MaxBatchesPerRequest || snap.Delivered != n-MaxBatchesPerRequest ||
		len(h.fake.Batches()) != n-MaxBatchesPerRequest {
		t.Fatalf("%+v", snap)
	}
	if r := snap.Rejections[0]; r.Row != 1 || !strings.Contains(r.Reason, "mparticle: HTTP 503") {
		t.Errorf("%+v", r)
	}
}

// Requests stay within mParticle's limits: at most 100 batches and under 256 KB, with
// larger rows splitting requests by size and a row over 128 KB rejected alone.
func TestRequestLimits(t *testing.T) {
	h := newHarness(t, mparticlefake.Options{}, fastHTTP, 2)
	cols := []rowsgen.Column{{Name: "u.id", Tags: []string{"mp_customer_id"}, Kind: rowsgen.Int}, {Name: "u.blob", Kind: rowsgen.String}}
	doc := string(rowsgen.Bytes(rowsgen.Options{Rows: 400, Columns: cols}))
	// Make every value of u.blob about 10 KB, and the 7th about 130 KB.
	doc = strings.NewReplacer(`"Name 7"`, `"`+strings.Repeat("x", 130_000)+`"`, `"Name `, `"`+strings.Repeat("y", 10_000)).Replace(doc)
	resp, err := h.exec(t, request(t, []byte(doc), UserData))
	if err != nil {
		t.Fatal(err)
	}
	snap := resp.Report.Snapshot()
	if snap.Delivered != 399 || snap.Rejected != 1 || snap.Rejections[0].Row != 7 || !strings.Contains(snap.Rejections[0].Reason, "128000") {
		t.Fatalf("%+v", snap)
	}
	if h.fake.MaxBatchesSeen() > 25 || snap.Batches < 16 {
		t.Errorf("largest request %d batches, %d requests: requests were not split by size", h.fake.MaxBatchesSeen(), snap.Batches)
	}
}

// attemptTimeout is long enough for any real answer (the Hang fault waits it out).
func attemptTimeout() time.Duration {
	if raceEnabled {
		return 30 * time.Second
	}
	return 2 * time.Second
}

// MPARTICLE_RATE_LIMIT paces the batches per API key (virtual time: no wall-clock wait).
func TestRateLimit(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	start := clock.Now()
	fake := mparticlefake.New(t, mparticlefake.Options{APIKey: "rate-key", APISecret: testSecret})
	vars := map[string]string{"ACTION_HUB_VENDOR_URL_MPARTICLE": fake.URL, EnvRateLimit: "300"}
	env := &sdk.Env{Getenv: func(k string) string { return vars[k] }}
	a, err := New(env, Options{HTTP: vendorhttp.Config{Clock: clock}})
	if err != nil {
		t.Fatal(err)
	}
	req := request(t, rowsgen.Bytes(rowsgen.Options{Rows: 3000, Columns: genColumns}), UserData)
	req.Params[ParamAPIKey] = "rate-key"
	req.Env = env
	resp, err := a.Execute(context.Background(), req)
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	// 30 requests of 100 batches at 300 batches/s (3 requests/s, burst 1): about 9.7s.
	if waited := clock.Now().Sub(start); waited < 9600*time.Millisecond {
		t.Errorf("virtual time advanced %s, want about 9.7s", waited)
	}
}
