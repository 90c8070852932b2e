package webhookbatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	"github.com/actionhub/actionhub/internal/fakes/webhookrecv"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

const testSecret = "whsec-0123456789abcdef"

// genData returns n generated rows as json_detail_lite_stream.
func genData(t testing.TB, opts rowsgen.Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := rowsgen.JSONDetail(&buf, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testConfig is a client whose waits take no wall time and whose attempts give up fast
// (the receiver's stalls last until the client's timeout).
func testConfig() vendorhttp.Config {
	return vendorhttp.Config{Clock: vendorhttptest.NewFakeClock(time.Time{}), Timeout: 150 * time.Millisecond, MaxRetries: 8}
}

func newRequest(recv *webhookrecv.Receiver, data []byte, batchSize int) *sdk.Request {
	return &sdk.Request{
		Type:       sdk.TypeQuery,
		Params:     map[string]string{"url": recv.URL + "/hook", "secret": testSecret, "batch_size": strconv.Itoa(batchSize)},
		FormParams: map[string]string{},
		Attachment: &sdk.Attachment{MimeType: "application/json", Extension: "json", Data: data},
		Env:        &sdk.Env{HTTPClient: recv.Client()},
	}
}

// rowID reads users.id from a row the receiver got.
func rowID(row []byte) int {
	var r struct {
		ID int `json:"users.id"`
	}
	json.Unmarshal(row, &r)
	return r.ID
}

// checkExactlyOnce asserts that the receiver holds every id in 1..n once, except the
// rejected ones, which it must not hold. It returns the number of rows that must arrive.
func checkExactlyOnce(t *testing.T, recv *webhookrecv.Receiver, n int, rejected func(id int) bool) int {
	return checkIDs(t, recv, n, rejected, nil)
}

// checkIDs is checkExactlyOnce for data whose rows for which nullID is true have a null id.
func checkIDs(t *testing.T, recv *webhookrecv.Receiver, n int, rejected, nullID func(id int) bool) int {
	t.Helper()
	ids, err := recv.IDs("users.id")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for id := 1; id <= n; id++ {
		c := ids[strconv.Itoa(id)]
		if nullID != nil && nullID(id) {
			want++
			continue
		}
		if rejected(id) {
			if c != 0 {
				t.Errorf("rejected row %d received %d times", id, c)
			}
			continue
		}
		want++
		if c != 1 {
			t.Errorf("row %d received %d times", id, c)
		}
	}
	if len(recv.Rows()) != want {
		t.Errorf("receiver holds %d rows, want %d", len(recv.Rows()), want)
	}
	return want
}

func TestDeliversEveryRow(t *testing.T) {
	const n = 2345
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	opts := rowsgen.Options{Rows: n, NullEvery: 7}
	a := New(&sdk.Env{HTTPClient: recv.Client()}, testConfig())
	resp, err := a.Execute(context.Background(), newRequest(recv, genData(t, opts), 100))
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Success || resp.Message != "Delivered 2,345 of 2,345 rows." {
		t.Fatalf("response %+v", resp)
	}
	s := recv.Stats()
	if s.Batches != 24 || s.Calls != 24 || s.BadSignatures != 0 || s.BadRequests != 0 {
		t.Fatalf("receiver %+v", s)
	}
	nullID := func(id int) bool { return id%7 == 0 }
	checkIDs(t, recv, n, func(int) bool { return false }, nullID)
	ids, _ := recv.IDs("users.id")
	if ids["null"] != n/7 {
		t.Errorf("%d rows with a null id, want %d", ids["null"], n/7)
	}
	// Every value as Looker sent it, under its field name.
	cols := rowsgen.DefaultColumns()
	for _, row := range recv.Rows() {
		var got map[string]any
		dec := json.NewDecoder(bytes.NewReader(row))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		id := rowID(row)
		if id == 0 && got["users.id"] != nil {
			t.Fatalf("row without id: %s", row)
		}
		if len(got) != len(cols) {
			t.Fatalf("row %s has %d fields", row, len(got))
		}
		for c, col := range cols {
			n := id
			if n == 0 {
				continue // users.id itself was null: checked by count below
			}
			text, null := opts.Text(n, c, 0)
			v := got[col.Name]
			if null != (v == nil) || (!null && fmt.Sprint(v) != text) {
				t.Fatalf("row %d %s = %v, want %q (null %v): %s", n, col.Name, v, text, null, row)
			}
		}
	}
}

func TestHiddenAndPivoted(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	opts := rowsgen.Options{Rows: 3, Pivots: []string{"complete", "pending"}}
	req := newRequest(recv, genData(t, opts), 10)
	req.ScheduledPlan = &sdk.ScheduledPlan{Query: &sdk.Query{VisConfig: map[string]any{"hidden_fields": []any{"users.name"}}}}
	resp, err := New(req.Env, testConfig()).Execute(context.Background(), req)
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	got := string(recv.Rows()[1])
	// users.name is hidden; the pivoted measure is an object of pivot key → value.
	want := `{"users.id":2,"users.email":"user2@example.com","users.created":"2026-03-03","orders.total":{"complete":4.04,"pending":5.05}}`
	if got != want {
		t.Fatalf("row 2:\n got %s\nwant %s", got, want)
	}
}

// idRule refuses rows for good and for now by id.
type idRule struct {
	mu   sync.Mutex
	seen map[int]int
}

func invalid(id int) bool { return id%50 == 0 }

func (r *idRule) reject(row []byte) string {
	if invalid(rowID(row)) {
		return "invalid email"
	}
	return ""
}

// deferFirst asks to retry rows whose id is a multiple of 7 the first time they arrive.
func (r *idRule) deferFirst(row []byte) string {
	id := rowID(row)
	if id%7 != 0 {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[int]int{}
	}
	r.seen[id]++
	if r.seen[id] == 1 {
		return "busy, try again"
	}
	return ""
}

func faultyReceiver(t *testing.T, seed uint64, p float64) (*webhookrecv.Receiver, *idRule) {
	rule := &idRule{}
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret, Reject: rule.reject, Defer: rule.deferFirst})
	recv.Faults.Func = faults.Random(seed, p, 3, faults.RateLimit, faults.ServerError, faults.TimeoutBefore,
		faults.DropBefore, faults.TimeoutAfter, faults.DropAfter)
	recv.Faults.RetryAfter = "1"
	recv.Faults.Stall = 5 * time.Second
	return recv, rule
}

func checkFaultyReport(t *testing.T, recv *webhookrecv.Receiver, n int, snap sdk.Snapshot, message string) {
	t.Helper()
	delivered := checkExactlyOnce(t, recv, n, invalid)
	rejected := n / 50
	if snap.Read != int64(n) || snap.Delivered != int64(delivered) || snap.Rejected != int64(rejected) || snap.Fatal != "" {
		t.Fatalf("report %+v, want %d delivered and %d rejected", snap, delivered, rejected)
	}
	for _, r := range snap.Rejections {
		if r.Reason != "invalid email" || !invalid(int(r.Row)) {
			t.Fatalf("rejection %+v", r)
		}
	}
	want := regexp.MustCompile(fmt.Sprintf(`^Delivered %s of %s rows; %d rejected: row \d+0: invalid email \(x%d\); \d+ retries\.$`,
		group(delivered), group(n), rejected, rejected))
	if !want.MatchString(message) {
		t.Fatalf("message %q\nwant %s", message, want)
	}
	st := recv.Stats()
	if recv.Faults.Total() == 0 || snap.Retries == 0 || !strings.Contains(message, " retries.") {
		t.Fatalf("no fault was injected or retried: %+v %+v %q", st, snap, message)
	}
	if st.BadSignatures != 0 || st.BadRequests != 0 || st.Deferred == 0 {
		t.Fatalf("receiver %+v", st)
	}
	committing := recv.Faults.Count(faults.TimeoutAfter) + recv.Faults.Count(faults.DropAfter)
	if committing > 0 && st.Duplicates == 0 {
		t.Fatalf("%d batches committed then cut, yet no repeat was acknowledged: %+v", committing, st)
	}
	t.Logf("faults injected: %d (%d after commit), receiver %+v, report retries %d", recv.Faults.Total(), committing, st, snap.Retries)
}

func group(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestExactlyOnceUnderFaults(t *testing.T) {
	const n = 3000
	recv, _ := faultyReceiver(t, 42, 0.2)
	cfg := testConfig()
	clock := cfg.Clock.(*vendorhttptest.FakeClock)
	a := New(&sdk.Env{HTTPClient: recv.Client()}, cfg)
	resp, err := a.Execute(context.Background(), newRequest(recv, genData(t, rowsgen.Options{Rows: n}), 100))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success {
		t.Fatalf("rows were rejected, yet success: %+v", resp)
	}
	checkFaultyReport(t, recv, n, resp.Report.Snapshot(), resp.Message)
	// Retry-After: 1 was honoured for each 429.
	ones := 0
	for _, d := range clock.Sleeps() {
		if d == time.Second {
			ones++
		}
	}
	if ones < recv.Faults.Count(faults.RateLimit) {
		t.Fatalf("%d waits of 1s for %d rate limits", ones, recv.Faults.Count(faults.RateLimit))
	}
}

func TestScheduledFaults(t *testing.T) {
	// One batch through each fault in turn, then a clean answer.
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	recv.Faults.Push(faults.RateLimit, faults.ServerError, faults.DropBefore, faults.DropAfter, faults.TimeoutAfter, faults.TimeoutBefore)
	recv.Faults.Stall = 5 * time.Second
	a := New(&sdk.Env{HTTPClient: recv.Client()}, testConfig())
	resp, err := a.Execute(context.Background(), newRequest(recv, genData(t, rowsgen.Options{Rows: 10}), 100))
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	st := recv.Stats()
	// Calls 1-3 and 6 commit nothing; call 4 commits, 5 and 7 are repeats.
	if st.Calls != 7 || st.Batches != 1 || st.Duplicates != 2 || st.Rows != 10 {
		t.Fatalf("receiver %+v", st)
	}
	// 6 failed calls; Go's transport itself replays a request with an Idempotency-Key
	// whose reused connection was closed before an answer, which saves one retry of ours.
	if resp.Message != "Delivered 10 of 10 rows; 6 retries." && resp.Message != "Delivered 10 of 10 rows; 5 retries." {
		t.Fatalf("message %q", resp.Message)
	}
}

func TestGivesUpWithReason(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: "another-secret"})
	a := New(&sdk.Env{HTTPClient: recv.Client()}, testConfig())
	resp, err := a.Execute(context.Background(), newRequest(recv, genData(t, rowsgen.Options{Rows: 5}), 5))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || resp.Message != "Delivered 0 of 5 rows; 5 rejected: row 1: webhook: HTTP 401 Unauthorized: bad signature (x5)." {
		t.Fatalf("%+v", resp)
	}
	if strings.Contains(resp.Message, testSecret) {
		t.Fatal("secret leaked")
	}
}

func TestReasonRedacted(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret, Reject: func(row []byte) string {
		return "bad key " + testSecret
	}})
	a := New(&sdk.Env{HTTPClient: recv.Client()}, testConfig())
	resp, _ := a.Execute(context.Background(), newRequest(recv, genData(t, rowsgen.Options{Rows: 2}), 2))
	if strings.Contains(resp.Message, testSecret) || !strings.Contains(resp.Message, "bad key [REDACTED] (x2)") {
		t.Fatalf("message %q", resp.Message)
	}
}

func TestCancelStopsSending(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	recv.Faults.Func = func(int64) faults.Kind { return faults.TimeoutBefore } // a receiver that never answers
	recv.Faults.Stall = 30 * time.Second
	cfg := testConfig()
	cfg.Timeout = time.Minute
	a := New(&sdk.Env{HTTPClient: recv.Client()}, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	go func() {
		for recv.Stats().Calls < maxInFlight {
			time.Sleep(time.Millisecond)
		}
		once.Do(cancel) // Looker hangs up
	}()
	req := newRequest(recv, genData(t, rowsgen.Options{Rows: 20_000}), 10)
	type result struct {
		resp *sdk.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := a.Execute(ctx, req)
		done <- result{resp, err}
	}()
	var resp *sdk.Response
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		resp = r.resp
	case <-time.After(10 * time.Second):
		t.Fatal("Execute still running 10s after the cancel")
	}
	calls := recv.Stats().Calls
	time.Sleep(50 * time.Millisecond)
	if got := recv.Stats().Calls; got != calls || calls > maxInFlight {
		t.Fatalf("%d calls at return, %d later; want %d", calls, got, maxInFlight)
	}
	s := resp.Report.Snapshot()
	if resp.Success || s.Delivered != 0 || s.Fatal != "delivery cancelled: context canceled" || s.Read >= 20_000 {
		t.Fatalf("report %+v", s)
	}
}

func TestRetryAfterHonouredWithClock(t *testing.T) {
	// The rate limit a receiver announces is honoured: measured on the fake clock.
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	recv.Faults.RetryAfter = "7"
	recv.Faults.Push(faults.RateLimit, faults.RateLimit)
	cfg := testConfig()
	clock := cfg.Clock.(*vendorhttptest.FakeClock)
	a := New(&sdk.Env{HTTPClient: recv.Client()}, cfg)
	resp, err := a.Execute(context.Background(), newRequest(recv, genData(t, rowsgen.Options{Rows: 3}), 10))
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	if got := clock.Sleeps(); len(got) != 2 || got[0] != 7*time.Second || got[1] != 7*time.Second {
		t.Fatalf("waits %v, want two of 7s", got)
	}
}

func TestSettings(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	a := New(&sdk.Env{HTTPClient: recv.Client()}, testConfig())
	for _, c := range []struct {
		param, value, want string
	}{
		{"url", "ftp://example.com/x", "The receiver URL must be an absolute http or https URL."},
		{"url", "/relative", "The receiver URL must be an absolute http or https URL."},
		{"batch_size", "0", "The batch size must be a whole number from 1 to 10000."},
		{"batch_size", "10001", "The batch size must be a whole number from 1 to 10000."},
		{"batch_size", "ten", "The batch size must be a whole number from 1 to 10000."},
	} {
		req := newRequest(recv, genData(t, rowsgen.Options{Rows: 1}), 1)
		req.Params[c.param] = c.value
		_, err := a.Execute(context.Background(), req)
		var se *sdk.Error
		if !errors.As(err, &se) || se.Text != c.want {
			t.Errorf("%s=%q: %v", c.param, c.value, err)
		}
	}
	if recv.Stats().Calls != 0 {
		t.Fatal("invalid settings reached the receiver")
	}
}

func TestCutDownload(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	data := genData(t, rowsgen.Options{Rows: 1000})
	a := New(&sdk.Env{HTTPClient: recv.Client()}, testConfig())
	resp, err := a.Execute(context.Background(), newRequest(recv, data[:len(data)/2], 100))
	if err != nil {
		t.Fatal(err)
	}
	s := resp.Report.Snapshot()
	if resp.Success || s.Fatal == "" || s.Delivered != s.Read || s.Read == 0 || int64(len(recv.Rows())) != s.Read {
		t.Fatalf("report %+v, %d rows received", s, len(recv.Rows()))
	}
}

// Allocations per row of a whole execute stay under the budget of 2 (about 0.3: the HTTP
// round trips of each batch, on both sides).
func TestMapRowAllocs(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret, Discard: true})
	const n = 10000
	req := newRequest(recv, genData(t, rowsgen.Options{Rows: n}), 500)
	a := New(req.Env, testConfig())
	allocs := testing.AllocsPerRun(2, func() {
		if resp, err := a.Execute(context.Background(), req); err != nil || !resp.Success {
			t.Fatalf("%+v %v", resp, err)
		}
	})
	// The whole execute, receiver included (HTTP on both sides, per batch).
	if perRow := allocs / n; perRow > 2 {
		t.Fatalf("%.2f allocations per row, want at most 2", perRow)
	} else {
		t.Logf("%.3f allocations per row (whole execute, receiver included)", perRow)
	}
}
