package segment

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	segmentfake "github.com/actionhub/actionhub/internal/fakes/segment"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

func faultHarness(t *testing.T, httpCfg vendorhttp.Config, inFlight int) *harness {
	t.Helper()
	h := &harness{fake: segmentfake.New(t, segmentfake.Options{WriteKey: testKey})}
	h.vars = map[string]string{"ACTION_HUB_VENDOR_URL_SEGMENT": h.fake.URL}
	h.env = &sdk.Env{Getenv: func(k string) string { return h.vars[k] }}
	a, err := New(h.env, Identify, Options{HTTP: httpCfg, MaxInFlight: inFlight})
	if err != nil {
		t.Fatal(err)
	}
	h.act = a
	return h
}

// Every row arrives exactly once and the report is exact under every kind of fault: 429 with
// Retry-After, 5xx, a hang past the client's timeout, and connections dropped before and
// after the batch was committed (the re-sent batch is deduplicated on messageId).
func TestFaultsExactlyOnce(t *testing.T) {
	cfg := fastHTTP
	cfg.Timeout = attemptTimeout()
	cfg.MaxRetries = 8
	h := faultHarness(t, cfg, 4)
	faults := []segmentfake.Fault{
		{Kind: segmentfake.TooMany, RetryAfter: "1"},
		{Kind: segmentfake.ServerError, Status: 500},
		{Kind: segmentfake.DropAfterCommit},
		{Kind: segmentfake.Hang},
		{Kind: segmentfake.DropBeforeCommit},
		{Kind: segmentfake.ServerError, Status: 503},
		{Kind: segmentfake.DropAfterCommit},
		{Kind: segmentfake.TooMany, RetryAfter: "0"},
		{Kind: segmentfake.ServerError, Status: 502},
	}
	h.fake.Inject(faults...)
	const n = 20_000
	opts := rowsgen.Options{Rows: n}
	start := time.Now()
	resp := h.exec(t, queryRequest(t, rowsgen.Bytes(opts)))
	if !resp.Success {
		t.Fatalf("not a success: %s", resp.Message)
	}
	if time.Since(start) < time.Second {
		t.Error("Retry-After: 1 was not honoured")
	}
	snap := resp.Report.Snapshot()
	if snap.Read != n || snap.Delivered != n || snap.Rejected != 0 || snap.Retries != int64(len(faults)) {
		t.Errorf("report %+v", snap)
	}
	if h.fake.PendingFaults() != 0 || h.fake.Faulted() != int64(len(faults)) {
		t.Errorf("faults applied %d, pending %d", h.fake.Faulted(), h.fake.PendingFaults())
	}
	msgs := h.fake.Messages()
	if len(msgs) != n {
		t.Fatalf("%d distinct messages, want %d", len(msgs), n)
	}
	if h.fake.Duplicates() == 0 || h.fake.Received() != int64(n)+h.fake.Duplicates() {
		t.Errorf("received %d with %d duplicates: the dropped-after-commit batches were not re-sent whole",
			h.fake.Received(), h.fake.Duplicates())
	}
	seen := make([]bool, n+1)
	for _, m := range msgs {
		id, _ := strconv.Atoi(m["userId"].(string))
		if id < 1 || id > n || seen[id] {
			t.Fatalf("unexpected or repeated userId %v", m["userId"])
		}
		seen[id] = true
		traits := m["traits"].(map[string]any)
		email, _ := opts.Text(id, 1, 0)
		name, _ := opts.Text(id, 2, 0)
		if traits["email"] != email || traits["users.name"] != name {
			t.Fatalf("row %d: traits %v", id, traits)
		}
	}
	if !strings.HasPrefix(resp.Message, "Delivered 20,000 of 20,000 rows; 9 retries") {
		t.Errorf("message %q", resp.Message)
	}
}

// A batch that still fails after the retries is reported row by row, with the vendor's
// redacted reason; the other batches are delivered.
func TestFaultsBeyondRetriesAreReported(t *testing.T) {
	cfg := fastHTTP
	cfg.MaxRetries = 1
	h := faultHarness(t, cfg, 1)
	h.fake.Inject(segmentfake.Fault{Kind: segmentfake.ServerError, Status: 503},
		segmentfake.Fault{Kind: segmentfake.ServerError, Status: 503})
	const n = 6_000 // about two batches
	resp := h.exec(t, queryRequest(t, rowsgen.Bytes(rowsgen.Options{Rows: n})))
	snap := resp.Report.Snapshot()
	if resp.Success || snap.Read != n || snap.Rejected == 0 || snap.Delivered+snap.Rejected != n {
		t.Fatalf("report %+v", snap)
	}
	if got := int64(len(h.fake.Messages())); got != snap.Delivered {
		t.Errorf("fake holds %d messages, report says %d delivered", got, snap.Delivered)
	}
	if r := snap.Rejections[0]; r.Row != 1 || !strings.Contains(r.Reason, "segment: HTTP 503") || strings.Contains(r.Reason, testKey) {
		t.Errorf("first rejection %+v", r)
	}
}

// Cancelling the execute (Looker hung up) stops reading and sending; the report says so.
func TestCancelledExecute(t *testing.T) {
	h := faultHarness(t, fastHTTP, 1)
	h.fake.Inject(segmentfake.Fault{Kind: segmentfake.Hang, Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req := queryRequest(t, rowsgen.Bytes(rowsgen.Options{Rows: 10_000}))
	req.Env = h.env
	resp, err := h.act.Execute(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	snap := resp.Report.Snapshot()
	if resp.Success || snap.Fatal == "" || snap.Delivered+snap.Rejected >= snap.Read {
		t.Fatalf("report %+v", snap)
	}
}

// attemptTimeout is long enough for any real answer (the Hang fault waits it out).
func attemptTimeout() time.Duration {
	if raceEnabled {
		return 30 * time.Second
	}
	return 2 * time.Second
}

// SEGMENT_RATE_LIMIT paces the requests per write key (virtual time: no wall-clock wait).
func TestRateLimit(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	start := clock.Now()
	fake := segmentfake.New(t, segmentfake.Options{WriteKey: "rate-key", Light: true, SampleEvery: 1000})
	vars := map[string]string{"ACTION_HUB_VENDOR_URL_SEGMENT": fake.URL, EnvRateLimit: "10"}
	env := &sdk.Env{Getenv: func(k string) string { return vars[k] }}
	a, err := New(env, Identify, Options{HTTP: vendorhttp.Config{Clock: clock}})
	if err != nil {
		t.Fatal(err)
	}
	req := queryRequest(t, rowsgen.Bytes(rowsgen.Options{Rows: 20_000}))
	req.Params[ParamWriteKey] = "rate-key"
	req.Env = env
	resp, err := a.Execute(context.Background(), req)
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	// n requests at 10/s with a burst of 1: (n-1)/10 seconds.
	want := time.Duration(fake.Requests()-1) * 100 * time.Millisecond
	if waited := clock.Now().Sub(start); fake.Requests() < 5 || waited < want-10*time.Millisecond {
		t.Errorf("%d requests, virtual time advanced %s, want %s", fake.Requests(), waited, want)
	}
}
