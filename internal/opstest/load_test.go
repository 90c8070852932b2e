package opstest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/actionhub/actionhub/actions/segment"
	"github.com/actionhub/actionhub/actions/webhookbatch"
	"github.com/actionhub/actionhub/internal/benchkit"
	"github.com/actionhub/actionhub/internal/fakes/faults"
	segmentfake "github.com/actionhub/actionhub/internal/fakes/segment"
	"github.com/actionhub/actionhub/internal/fakes/webhookrecv"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

const (
	writeKey   = "opstest-segment-write-key"
	hookSecret = "opstest-webhook-signing-secret"
	// rssTarget is the hub's memory budget under the concurrent load (the Deployment's
	// memory limit).
	rssTarget = 512 << 20
)

func segmentBody(downloadURL string) map[string]any {
	return map[string]any{
		"type": "query", "data": map[string]any{"segment_write_key": writeKey}, "form_params": map[string]any{},
		"scheduled_plan": map[string]any{"title": "Users", "download_url": downloadURL},
	}
}

func webhookBody(receiver, downloadURL, batchSize string) map[string]any {
	return map[string]any{
		"type":           "query",
		"data":           map[string]any{"url": receiver + "/hook", "secret": hookSecret, "batch_size": batchSize},
		"scheduled_plan": map[string]any{"title": "Users", "download_url": downloadURL},
	}
}

// TestLoadConcurrentExecutes sends 200 executes at once to the real binary, each streaming
// its own rows (5,000 in the normal suite, 100,000 with -tags load) to the Segment fake,
// and reports the hub process's peak RSS, which must stay under 512 MiB.
func TestLoadConcurrentExecutes(t *testing.T) {
	fake := segmentfake.New(t, segmentfake.Options{WriteKey: writeKey, Light: true})
	dl := downloads(t)
	h := startHub(t, benchkit.BenchHub, map[string]string{"ACTION_HUB_VENDOR_URL_SEGMENT": fake.URL, "SEGMENT_RATE_LIMIT": "0"})
	l := benchkit.NewLooker(h.URL, h.Key, concurrentExecutes)
	opts := rowsgen.Options{Rows: rowsPerExecute}
	rss0, _ := h.RSS()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
		first  sync.Once
	)
	// Sample the hub's in-flight gauge: the executes must overlap.
	var peakInFlight atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if v, ok := metricValue(h.URL, "actionhub_executes_in_flight"); ok && int64(v) > peakInFlight.Load() {
				peakInFlight.Store(int64(v))
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	for range concurrentExecutes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env, err := l.Execute(ctx, "segment_event", segmentBody(dl.Add(benchkit.Rows(opts))))
			if err == nil {
				err = benchkit.Delivered(env, rowsPerExecute)
			}
			if err != nil {
				failed.Add(1)
				first.Do(func() { t.Errorf("execute: %v", err) })
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopSampling)
	<-sampled
	peak, err := h.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	total := int64(concurrentExecutes) * rowsPerExecute
	t.Logf("%d concurrent executes × %d rows (segment_event → Segment fake): %.1f s, %.0f rows/s; hub RSS %.1f MiB idle, peak %.1f MiB (VmHWM of the hub process); up to %d executes in flight, %d downloads streaming at once",
		concurrentExecutes, rowsPerExecute, elapsed.Seconds(), float64(total)/elapsed.Seconds(),
		float64(rss0)/(1<<20), float64(peak)/(1<<20), peakInFlight.Load(), dl.PeakActive())
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d executes failed", n, concurrentExecutes)
	}
	if got := fake.Received(); got != total {
		t.Errorf("the fake received %d messages, want %d", got, total)
	}
	if p := fake.Problems(); len(p) > 0 {
		t.Errorf("the fake refused %d requests, first: %s", len(p), p[0])
	}
	if peak > rssTarget {
		t.Errorf("peak RSS %.1f MiB is over the %d MiB target", float64(peak)/(1<<20), rssTarget>>20)
	}
	if peakInFlight.Load() < concurrentExecutes*3/4 {
		t.Errorf("at most %d executes were in flight at once: the load was not concurrent", peakInFlight.Load())
	}
}

// chaos stands in front of a webhook receiver and injects faults into about 20% of the
// requests: 429 with Retry-After, 500, connection reset before the receiver sees the
// batch, reset after it committed, a slow answer that still comes in time, and an answer
// that comes after the client's timeout (committed).
type chaos struct {
	srv    *httptest.Server
	target string
	client *http.Client
	mu     sync.Mutex
	rng    *rand.Rand
	counts map[string]int
	calls  int
}

var chaosKinds = []struct {
	name string
	p    float64
}{{"429", 0.04}, {"500", 0.04}, {"reset", 0.03}, {"reset_after_commit", 0.03}, {"slow", 0.03}, {"timeout_after_commit", 0.03}}

func newChaos(t *testing.T, target string, seed uint64) *chaos {
	c := &chaos{target: target, client: &http.Client{}, rng: rand.New(rand.NewPCG(seed, seed+1)), counts: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *chaos) pick() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	x := c.rng.Float64()
	for _, k := range chaosKinds {
		if x < k.p {
			c.counts[k.name]++
			return k.name
		}
		x -= k.p
	}
	return ""
}

func (c *chaos) stats() (calls int, counts map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts = map[string]int{}
	for k, v := range c.counts {
		counts[k] = v
	}
	return c.calls, counts
}

func (c *chaos) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	kind := c.pick()
	switch kind {
	case "429":
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":"slow down"}`)
		return
	case "500":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"injected"}`)
		return
	case "reset":
		faults.Drop(w)
		return
	case "slow":
		time.Sleep(150 * time.Millisecond) // under the client's 400 ms timeout
	}
	req, _ := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, c.target+r.URL.Path, bytes.NewReader(body))
	for _, h := range []string{"Content-Type", webhookrecv.SignatureHeader, webhookrecv.IdempotencyHeader} {
		req.Header.Set(h, r.Header.Get(h))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		faults.Drop(w)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch kind {
	case "reset_after_commit":
		faults.Drop(w)
		return
	case "timeout_after_commit":
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		faults.Drop(w)
		return
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// TestLoadVendorFaultsExactlyOnce delivers rows with webhook_batch through 20% injected
// faults and checks, at the receiver, that every row arrived exactly once.
func TestLoadVendorFaultsExactlyOnce(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: hookSecret})
	ch := newChaos(t, recv.URL, 20261124)
	fast := vendorhttp.Config{Timeout: 400 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxRetries: 12}
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{{Name: webhookbatch.Name,
		New: func(env *sdk.Env) (sdk.Action, error) { return webhookbatch.New(env, fast), nil }}}})
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, rowsgen.Options{Rows: faultRows}) })
	start := time.Now()
	res := h.Execute(t, webhookbatch.Name, webhookBody(ch.srv.URL, dl, "200"))
	elapsed := time.Since(start)
	calls, counts := ch.stats()
	injected := 0
	for _, k := range chaosKinds {
		injected += counts[k.name]
		if counts[k.name] == 0 {
			t.Errorf("no %s fault was injected", k.name)
		}
	}
	st := recv.Stats()
	t.Logf("webhook_batch, %d rows in batches of 200: %.1f s; %d requests, %d faults injected (%.0f%%): %v; receiver: %d batches committed, %d repeats of a committed batch acknowledged",
		faultRows, elapsed.Seconds(), calls, injected, 100*float64(injected)/float64(calls), counts, st.Batches, st.Duplicates)
	if res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if err := benchkit.Delivered(&benchkit.Envelope{Success: res.Looker.Success, Message: res.Looker.Message}, faultRows); err != nil {
		t.Fatal(err)
	}
	ids, err := recv.IDs("users.id")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != faultRows || st.Rows != faultRows {
		t.Fatalf("%d distinct rows, %d accepted, want %d", len(ids), st.Rows, faultRows)
	}
	for i := 1; i <= faultRows; i++ {
		if c := ids[strconv.Itoa(i)]; c != 1 {
			t.Fatalf("row %d delivered %d times", i, c)
		}
	}
	if st.Duplicates == 0 {
		t.Error("no batch was re-sent after a commit: the after-commit faults did not bite")
	}
	if frac := float64(injected) / float64(calls); frac < 0.12 || frac > 0.3 {
		t.Errorf("%.0f%% of the requests faulted, want about 20%%", 100*frac)
	}
}

// TestLoadSegmentFaultsExactlyOnce does the same with the segment action and the Segment
// fake's own faults (it dedupes on messageId, as Segment does).
func TestLoadSegmentFaultsExactlyOnce(t *testing.T) {
	const n = 30_000
	fake := segmentfake.New(t, segmentfake.Options{WriteKey: writeKey})
	// One request in five faults: 429 with Retry-After, 500, reset before and after
	// commit, and a hang past the client's timeout.
	pattern := []segmentfake.Fault{
		{Kind: segmentfake.TooMany, RetryAfter: "1"}, {}, {}, {}, {},
		{Kind: segmentfake.ServerError, Status: 500}, {}, {}, {}, {},
		{Kind: segmentfake.DropBeforeCommit}, {}, {}, {}, {},
		{Kind: segmentfake.DropAfterCommit}, {}, {}, {}, {},
		{Kind: segmentfake.Hang, Delay: 3 * time.Second}, {}, {}, {}, {},
	}
	fake.Inject(pattern...)
	fast := vendorhttp.Config{Timeout: 400 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxRetries: 10}
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_VENDOR_URL_SEGMENT": fake.URL, segment.EnvRateLimit: "0"},
		Actions: []sdk.Module{segment.Module(segment.Identify, segment.Options{HTTP: fast})}})
	// Wide rows make enough batches to go through the whole pattern.
	cols := append(rowsgen.DefaultColumns(), rowsgen.Column{Name: "users.bio", Kind: rowsgen.Unicode},
		rowsgen.Column{Name: "users.note", Kind: rowsgen.Unicode}, rowsgen.Column{Name: "users.city", Kind: rowsgen.Unicode})
	opts := rowsgen.Options{Rows: n, Columns: cols}
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
	res := h.Execute(t, segment.NameIdentify, segmentBody(dl))
	t.Logf("segment_event, %d rows: %d requests, %d faulted, %d duplicate messages dropped by messageId; %s",
		n, fake.Requests(), fake.Faulted(), fake.Duplicates(), res.Looker.Message)
	if err := benchkit.Delivered(&benchkit.Envelope{Success: res.Looker.Success, Message: res.Looker.Message}, n); err != nil {
		t.Fatalf("%v (%d %s)", err, res.Status, res.Body)
	}
	if fake.Faulted() != 5 {
		t.Fatalf("%d of the 5 faults applied: the run made too few requests", fake.Faulted())
	}
	if p := fake.Problems(); len(p) > 0 {
		t.Fatalf("the fake refused: %v", p)
	}
	users := map[string]int{}
	for _, m := range fake.Messages() {
		id, _ := m["userId"].(string)
		users[id]++
	}
	if len(users) != n {
		t.Fatalf("%d distinct users stored, want %d", len(users), n)
	}
	for i := 1; i <= n; i++ {
		id, _ := opts.Text(i, 0, 0)
		if users[id] != 1 {
			t.Fatalf("user %s stored %d times", id, users[id])
		}
	}
	if fake.Duplicates() == 0 {
		t.Error("the batch committed before the dropped connection was not re-sent")
	}
}

// metric reads one sample of the hub's /metrics.
func metric(t *testing.T, url, name string) (float64, bool) {
	t.Helper()
	v, ok := metricValue(url, name)
	return v, ok
}

func metricValue(url, name string) (float64, bool) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// TestLoadLookerHangUpCancelsVendorWork: when Looker closes the execute connection
// mid-stream, the real binary stops downloading and stops sending batches to the vendor.
func TestLoadLookerHangUpCancelsVendorWork(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: hookSecret, Discard: true})
	dl := downloads(t)
	h := startHub(t, benchkit.BenchHub, nil)
	const rows = 50_000_000 // far more than can be sent before the hang-up
	u := dl.Add(benchkit.Rows(rowsgen.Options{Rows: rows}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := benchkit.NewLooker(h.URL, h.Key, 1).Execute(ctx, webhookbatch.Name, webhookBody(recv.URL, u, "100"))
		done <- err
	}()
	eventually(t, 30*time.Second, "20 batches received", func() bool { return recv.Stats().Batches >= 20 })
	if v, _ := metric(t, h.URL, "actionhub_executes_in_flight"); v != 1 {
		t.Fatalf("in flight: %v", v)
	}
	cancel() // Looker hangs up
	hangUp := time.Now()
	if err := <-done; err == nil {
		t.Fatal("the execute finished before the hang-up")
	}
	cutAfter := eventually(t, 5*time.Second, "the download is cut", func() bool { return dl.Cut() == 1 })
	eventually(t, 5*time.Second, "the execute ends", func() bool {
		v, ok := metric(t, h.URL, "actionhub_executes_in_flight")
		return ok && v == 0
	})
	settled := time.Since(hangUp)
	time.Sleep(200 * time.Millisecond) // let answers already on the wire arrive
	calls := recv.Stats().Calls
	time.Sleep(time.Second)
	st := recv.Stats()
	t.Logf("hang-up → download cut after %s, execute ended after %s; the receiver got %d requests (%d rows of %d) and none in the next second",
		cutAfter.Round(time.Millisecond), settled.Round(time.Millisecond), st.Calls, st.Rows, rows)
	if st.Calls != calls {
		t.Errorf("the receiver got %d more requests after the execute ended", st.Calls-calls)
	}
	if st.Rows >= rows/10 {
		t.Errorf("%d rows delivered: the hang-up did not stop the work", st.Rows)
	}
}

// TestLoadSIGTERMDrainsInFlight sends SIGTERM to the real binary while 50 executes run:
// /readyz turns 503, new executes are refused, the 50 complete with success and the process
// exits 0.
func TestLoadSIGTERMDrainsInFlight(t *testing.T) {
	const n = 50
	h := startHub(t, benchkit.ProductionHub, map[string]string{"ACTION_HUB_DEBUG_ENDPOINT": "true", "ACTION_HUB_SHUTDOWN_TIMEOUT_SEC": "60"})
	l := benchkit.NewLooker(h.URL, h.Key, n+2)
	body := map[string]any{"type": "query", "form_params": map[string]any{"sleep": "4000"}}
	type result struct {
		env *benchkit.Envelope
		err error
		at  time.Time
	}
	results := make(chan result, n)
	for range n {
		go func() {
			env, err := l.Execute(context.Background(), "debug", body)
			results <- result{env, err, time.Now()}
		}()
	}
	eventually(t, 20*time.Second, "50 executes in flight", func() bool {
		v, _ := metric(t, h.URL, "actionhub_executes_in_flight")
		return v == n
	})
	if err := h.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sigterm := time.Now()
	var readyzOff time.Time
	eventually(t, 2*time.Second, "/readyz answers 503", func() bool {
		resp, err := http.Get(h.URL + "/readyz")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && json.Valid(b) {
			readyzOff = time.Now()
			return true
		}
		return false
	})
	refused, err := l.Do(context.Background(), http.MethodPost, "/actions/debug/execute", body)
	if err != nil || refused.Status != http.StatusServiceUnavailable || !json.Valid(refused.Body) {
		t.Errorf("a new execute during the drain: %+v %v", refused, err)
	}
	var last time.Time
	for range n {
		r := <-results
		if r.err != nil || !r.env.Success {
			t.Errorf("an in-flight execute: %+v %v", r.env, r.err)
		}
		if r.at.Before(readyzOff) {
			t.Errorf("an execute finished before /readyz turned 503: the drain was not observed")
		}
		if r.at.After(last) {
			last = r.at
		}
	}
	code, err := h.Wait(30 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("exit %d %v", code, err)
	}
	t.Logf("SIGTERM with %d executes in flight: /readyz 503 after %s, all %d succeeded (last %s after SIGTERM), exit 0 %s after SIGTERM",
		n, readyzOff.Sub(sigterm).Round(time.Millisecond), n, last.Sub(sigterm).Round(time.Millisecond), time.Since(sigterm).Round(time.Millisecond))
	if !strings.Contains(h.Stderr(), `"msg":"stopped"`) {
		t.Errorf("no stopped log line:\n%s", tailLines(h.Stderr(), 5))
	}
}
