package braze

import (
	"strings"
	"testing"
	"time"

	brazefake "github.com/actionhub/actionhub/internal/fakes/braze"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

// genColumns are the generated query's fields: the identifier and two attributes.
var genColumns = []rowsgen.Column{
	{Name: "users.id", Tags: []string{"braze_id"}, Kind: rowsgen.String},
	{Name: "users.email", Tags: []string{"braze[email]"}, Kind: rowsgen.Email},
	{Name: "orders.total", Tags: []string{"braze[total]"}, Kind: rowsgen.Float, Measure: true},
}

func faultHarness(t *testing.T, cfg vendorhttp.Config, inFlight int) *harness {
	t.Helper()
	h := &harness{fake: brazefake.New(t, brazefake.Options{APIKey: testKey}), vars: map[string]string{}}
	h.vars["ACTION_HUB_VENDOR_URL_BRAZE"] = h.fake.URL
	h.env = &sdk.Env{Getenv: func(k string) string { return h.vars[k] }}
	a, err := New(h.env, Options{HTTP: cfg, MaxInFlight: inFlight})
	if err != nil {
		t.Fatal(err)
	}
	h.act = a
	return h
}

// Every row arrives exactly once and the report is exact under 429 with Retry-After, 5xx,
// a hang past the client's timeout and connections dropped before and after commit.
// Braze has no idempotency key; a request re-sent after a lost answer writes the same
// attributes again (an idempotent upsert) and "add" on an array attribute keeps one copy
// of a value, so the users' state is the same as after one delivery. The fake counts the
// re-sent objects, and the report counts each row once.
func TestFaultsExactlyOnce(t *testing.T) {
	cfg := fastHTTP
	cfg.Timeout = attemptTimeout()
	cfg.MaxRetries = 8
	h := faultHarness(t, cfg, 4)
	faults := []brazefake.Fault{
		{Kind: brazefake.TooMany, RetryAfter: "1"},
		{Kind: brazefake.ServerError, Status: 500},
		{Kind: brazefake.DropAfterCommit},
		{Kind: brazefake.Hang},
		{Kind: brazefake.DropBeforeCommit},
		{Kind: brazefake.ServerError, Status: 503},
		{Kind: brazefake.DropAfterCommit},
		{Kind: brazefake.TooMany},
	}
	h.fake.Inject(faults...)
	const n = 3000
	opts := rowsgen.Options{Rows: n, Columns: genColumns}
	start := time.Now()
	resp, err := h.exec(t, request(t, rowsgen.Bytes(opts)))
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	if time.Since(start) < time.Second {
		t.Error("Retry-After: 1 was not honoured")
	}
	snap := resp.Report.Snapshot()
	if snap.Read != n || snap.Delivered != n || snap.Retries != int64(len(faults)) || snap.Batches != n/MaxObjects {
		t.Errorf("report %+v", snap)
	}
	users := h.fake.Users()
	if len(users) != n {
		t.Fatalf("%d users, want %d", len(users), n)
	}
	writes := 0
	for i := 1; i <= n; i++ {
		id, _ := opts.Text(i, 0, 0)
		u, ok := users[id]
		if !ok {
			t.Fatalf("row %d (%s) missing", i, id)
		}
		email, _ := opts.Text(i, 1, 0)
		if u.Attributes["email"] != email || len(u.Added[LookerAttribute]) != 1 {
			t.Fatalf("row %d: %+v", i, u)
		}
		writes += u.Writes
	}
	resent := int64(writes - n)
	if resent != 2*MaxObjects || h.fake.Received() != int64(writes) {
		t.Errorf("re-sent objects %d (want the 2 dropped-after-commit requests, %d), received %d",
			resent, 2*MaxObjects, h.fake.Received())
	}
	if h.fake.PendingFaults() != 0 || h.fake.MaxObjectsSeen() > MaxObjects {
		t.Errorf("pending faults %d, largest request %d", h.fake.PendingFaults(), h.fake.MaxObjectsSeen())
	}
}

// A request that still fails after the retries is reported row by row.
func TestFaultsBeyondRetriesAreReported(t *testing.T) {
	cfg := fastHTTP
	cfg.MaxRetries = 1
	h := faultHarness(t, cfg, 1)
	h.fake.Inject(brazefake.Fault{Kind: brazefake.ServerError, Status: 502}, brazefake.Fault{Kind: brazefake.ServerError, Status: 502})
	const n = 300
	resp, err := h.exec(t, request(t, rowsgen.Bytes(rowsgen.Options{Rows: n, Columns: genColumns})))
	if err != nil {
		t.Fatal(err)
	}
	snap := resp.Report.Snapshot()
	if resp.Success || snap.Rejected != MaxObjects || snap.Delivered != n-MaxObjects || len(h.fake.Users()) != n-MaxObjects {
		t.Fatalf("%+v", snap)
	}
	if r := snap.Rejections[0]; r.Row != 1 || !strings.Contains(r.Reason, "braze: HTTP 502") {
		t.Errorf("%+v", r)
	}
}

// attemptTimeout is long enough for any real answer (the Hang fault waits it out).
func attemptTimeout() time.Duration {
	if raceEnabled {
		return 30 * time.Second
	}
	return 2 * time.Second
}

// BRAZE_RATE_LIMIT paces the requests per API key (virtual time: no wall-clock wait).
func TestRateLimit(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	start := clock.Now()
	h := &harness{fake: brazefake.New(t, brazefake.Options{APIKey: "rate-key"}), vars: map[string]string{EnvRateLimit: "30"}}
	h.vars["ACTION_HUB_VENDOR_URL_BRAZE"] = h.fake.URL
	h.env = &sdk.Env{Getenv: func(k string) string { return h.vars[k] }}
	a, err := New(h.env, Options{HTTP: vendorhttp.Config{Clock: clock}})
	if err != nil {
		t.Fatal(err)
	}
	h.act = a
	req := request(t, rowsgen.Bytes(rowsgen.Options{Rows: 3000, Columns: genColumns}))
	req.Params[ParamAPIKey] = "rate-key"
	resp, err := h.exec(t, req)
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	// 40 requests at 30/s with a burst of 10: the last waits about a second.
	if waited := clock.Now().Sub(start); waited < 990*time.Millisecond {
		t.Errorf("virtual time advanced %s, want about 1s", waited)
	}
}
