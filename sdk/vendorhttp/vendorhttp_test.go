package vendorhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk/vendorhttp"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

// script is a server answering each call with the next handler, the last one for ever.
type script struct {
	mu     sync.Mutex
	steps  []http.HandlerFunc
	calls  int
	keys   []string
	auth   []string
	bodies []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	i := min(s.calls, len(s.steps)-1)
	s.calls++
	s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.bodies = append(s.bodies, string(b))
	h := s.steps[i]
	s.mu.Unlock()
	h(w, r)
}

func (s *script) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

func (s *script) set(steps ...http.HandlerFunc) { s.mu.Lock(); s.steps = steps; s.mu.Unlock() }

func status(code int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func hangup(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func serve(t *testing.T, steps ...http.HandlerFunc) (*script, *httptest.Server) {
	s := &script{steps: steps}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

type countObs struct {
	mu      sync.Mutex
	calls   []int
	retries []int
}

func (o *countObs) Call(v string, st int, d time.Duration) {
	o.mu.Lock()
	o.calls = append(o.calls, st)
	o.mu.Unlock()
}
func (o *countObs) Retry(v string, st int) {
	o.mu.Lock()
	o.retries = append(o.retries, st)
	o.mu.Unlock()
}

func TestRetriesThenSucceeds(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	s, srv := serve(t, status(503, "busy"), status(500, `{"message":"oops"}`), status(200, `{"ok":true}`))
	obs := &countObs{}
	vendorhttp.SetObserver(obs)
	defer vendorhttp.SetObserver(nil)
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), Clock: clock})
	resp, err := c.Do(context.Background(), &vendorhttp.Request{Method: "POST", URL: srv.URL + "/v1/batch",
		Body: []byte(`{"a":1}`), IdempotencyKey: "batch-1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Body) != `{"ok":true}` || resp.Attempts != 3 || resp.Retries() != 2 {
		t.Fatalf("resp %+v", resp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k != "batch-1" || s.bodies[i] != `{"a":1}` {
			t.Errorf("attempt %d: key %q body %q", i, k, s.bodies[i])
		}
	}
	sleeps := clock.Sleeps()
	if len(sleeps) != 2 || sleeps[0] < vendorhttp.DefaultMinBackoff/2 || sleeps[0] > vendorhttp.DefaultMinBackoff ||
		sleeps[1] < vendorhttp.DefaultMinBackoff/2 || sleeps[1] > 2*vendorhttp.DefaultMinBackoff {
		t.Errorf("backoff sleeps %v", sleeps)
	}
	if fmt.Sprint(obs.calls) != "[503 500 200]" || fmt.Sprint(obs.retries) != "[503 500]" {
		t.Errorf("observer calls %v retries %v", obs.calls, obs.retries)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	date := clock.Now().Add(7 * time.Second).UTC().Format(http.TimeFormat)
	_, srv := serve(t,
		status(429, "", "Retry-After", "2"),
		status(503, "", "Retry-After", date),
		status(429, "", "X-RateLimit-Reset", "3"),
		status(429, "", "X-RateLimit-Reset", strconv.FormatInt(clock.Now().Add(17*time.Second).Unix(), 10)),
		status(204, ""))
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), Clock: clock})
	resp, err := c.Do(context.Background(), &vendorhttp.Request{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 5 {
		t.Fatalf("attempts %d", resp.Attempts)
	}
	want := []time.Duration{2 * time.Second, 5 * time.Second, 3 * time.Second, 7 * time.Second}
	got := clock.Sleeps()
	if len(got) != len(want) {
		t.Fatalf("sleeps %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sleeps %v, want %v", got, want)
		}
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	s, srv := serve(t, status(429, `{"error":"slow down"}`, "Retry-After", "3600"))
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), Clock: clock})
	resp, err := c.Do(context.Background(), &vendorhttp.Request{URL: srv.URL})
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) || resp == nil || resp.Status != 429 || s.count() != 1 || clock.Slept() != 0 {
		t.Fatalf("err %v resp %+v calls %d", err, resp, s.count())
	}
	if want := "acme: HTTP 429 Too Many Requests: slow down; the vendor asked to retry after 1h0m0s, longer than the 2m0s this hub waits"; err.Error() != want {
		t.Fatalf("error %q\nwant  %q", err, want)
	}
}

func TestNotRetryable(t *testing.T) {
	s, srv := serve(t, status(400, `{"errors":[{"code":"BAD","message":"email is invalid for key sk_live_123456"}]}`))
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), Clock: vendorhttptest.NewFakeClock(time.Time{})})
	resp, err := c.Do(context.Background(), &vendorhttp.Request{URL: srv.URL, Secrets: []string{"sk_live_123456"}})
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) || se.Retryable || se.Status != 400 || s.count() != 1 || resp.Attempts != 1 {
		t.Fatalf("err %#v resp %+v", err, resp)
	}
	if se.Message != "email is invalid for key [REDACTED]" {
		t.Fatalf("message %q", se.Message)
	}
}

func TestGivesUp(t *testing.T) {
	s, srv := serve(t, status(502, "<html><body>Bad gateway</body></html>", "Content-Type", "text/html"))
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), MaxRetries: 2, Clock: vendorhttptest.NewFakeClock(time.Time{})})
	resp, err := c.Do(context.Background(), &vendorhttp.Request{URL: srv.URL})
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) || !se.Retryable || s.count() != 3 || resp.Attempts != 3 {
		t.Fatalf("err %v calls %d", err, s.count())
	}
	if err.Error() != "acme: HTTP 502 Bad Gateway: gave up after 3 attempts" {
		t.Fatalf("error %q", err)
	}
}

func TestTransportErrorRedacted(t *testing.T) {
	s, srv := serve(t, hangup)
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), MaxRetries: 1, Clock: vendorhttptest.NewFakeClock(time.Time{})})
	u := strings.Replace(srv.URL, "http://", "http://user:hunter22@", 1) + "/path?api_key=topsecret"
	_, err := c.Do(context.Background(), &vendorhttp.Request{Method: "POST", URL: u, Body: []byte("x"),
		Header: http.Header{"Authorization": {"Bearer abcdefghijkl"}}})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, bad := range []string{"hunter22", "topsecret", "abcdefghijkl"} {
		if strings.Contains(msg, bad) {
			t.Fatalf("error leaks %q: %s", bad, msg)
		}
	}
	if !strings.Contains(msg, "acme: POST http://[REDACTED]@127.0.0.1") || !strings.Contains(msg, "/path?[REDACTED]") ||
		!strings.Contains(msg, "after 2 attempts") {
		t.Fatalf("error %q", msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls != 2 || s.auth[0] != "Bearer abcdefghijkl" {
		t.Fatalf("calls %d auth %q", s.calls, s.auth)
	}
}

func TestAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	s, srv := serve(t, slow, status(200, "ok"))
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), Timeout: 50 * time.Millisecond,
		Clock: vendorhttptest.NewFakeClock(time.Time{})})
	resp, err := c.Do(context.Background(), &vendorhttp.Request{URL: srv.URL})
	if err != nil || resp.Attempts != 2 || string(resp.Body) != "ok" {
		t.Fatalf("resp %+v err %v calls %d", resp, err, s.count())
	}
	c = vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), Timeout: 50 * time.Millisecond, MaxRetries: -1})
	s.set(slow)
	_, err = c.Do(context.Background(), &vendorhttp.Request{URL: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("err %v", err)
	}
}

func TestCancelStopsAtOnce(t *testing.T) {
	block := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	_, srv := serve(t, block)
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client()})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(ctx, &vendorhttp.Request{URL: srv.URL + "?token=zzzzzz"})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	if strings.Contains(err.Error(), "zzzzzz") {
		t.Fatalf("leak: %v", err)
	}
	// Cancelled while waiting to retry (real clock, a 60 s Retry-After).
	_, srv2 := serve(t, status(503, "", "Retry-After", "60"))
	c = vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv2.Client()})
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	start = time.Now()
	_, err = c.Do(ctx, &vendorhttp.Request{URL: srv2.URL})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

func TestRateLimitPerCredential(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	clock := vendorhttptest.NewFakeClock(time.Time{})
	cfg := vendorhttp.Config{Vendor: "ratetest", Client: srv.Client(), Rate: 10, Burst: 1, Clock: clock}
	a, b := vendorhttp.New(cfg), vendorhttp.New(cfg) // two executes of the same tenant
	ctx := context.Background()
	for i := 0; i < 21; i++ {
		c := a
		if i%2 == 1 {
			c = b
		}
		if _, err := c.Do(ctx, &vendorhttp.Request{URL: srv.URL, Credential: "tenant-1"}); err != nil {
			t.Fatal(err)
		}
	}
	// 21 requests at 10/s with a burst of 1: 20 waits of 100ms in virtual time.
	if got := clock.Slept(); got != 2*time.Second {
		t.Fatalf("slept %s, want 2s", got)
	}
	// Another tenant has its own full bucket; the first tenant's is empty.
	if _, err := a.Do(ctx, &vendorhttp.Request{URL: srv.URL, Credential: "tenant-2"}); err != nil {
		t.Fatal(err)
	}
	if got := clock.Slept(); got != 2*time.Second {
		t.Fatalf("tenant-2 waited: slept %s", got)
	}
	if _, err := a.Do(ctx, &vendorhttp.Request{URL: srv.URL, Credential: "tenant-1"}); err != nil {
		t.Fatal(err)
	}
	if got := clock.Slept(); got != 2100*time.Millisecond {
		t.Fatalf("tenant-1 did not wait: slept %s", got)
	}
	if calls.Load() != 23 {
		t.Fatalf("calls %d", calls.Load())
	}
}

func TestBodyCapped(t *testing.T) {
	big := strings.Repeat("x", vendorhttp.MaxResponseBytes+1000)
	_, srv := serve(t, status(200, big))
	c := vendorhttp.New(vendorhttp.Config{Client: srv.Client()})
	resp, err := c.Do(context.Background(), &vendorhttp.Request{URL: srv.URL})
	if err != nil || len(resp.Body) != vendorhttp.MaxResponseBytes {
		t.Fatalf("err %v len %d", err, len(resp.Body))
	}
}

func TestSetClockDefault(t *testing.T) {
	clock := vendorhttptest.Instant(t)
	_, srv := serve(t, status(503, "", "Retry-After", "30"), status(200, ""))
	c := vendorhttp.New(vendorhttp.Config{Client: srv.Client()})
	start := time.Now()
	if _, err := c.Do(context.Background(), &vendorhttp.Request{URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if clock.Slept() != 30*time.Second || time.Since(start) > 5*time.Second {
		t.Fatalf("slept %s in %s", clock.Slept(), time.Since(start))
	}
}

// cutBody answers 2xx with a body shorter than its Content-Length, then hangs up.
func cutBody(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(code)
		io.WriteString(w, `{"records":`)
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}
}

// A send-once call is not sent again once the request was written (a hang-up, a cut 2xx
// answer); without the flag, or before anything reached the vendor, it is retried.
func TestNoResendAfterWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		step  http.HandlerFunc
		once  bool
		calls int
		maybe bool
	}{
		{"hangup once", hangup, true, 1, true},
		{"cut 2xx once", cutBody(200), true, 1, true},
		{"cut 503 once", cutBody(503), true, 3, false},
		{"hangup retried", hangup, false, 3, false},
		{"cut 2xx retried", cutBody(200), false, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, srv := serve(t, tc.step)
			c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", Client: srv.Client(), MaxRetries: 2, Clock: vendorhttptest.NewFakeClock(time.Time{})})
			resp, err := c.Do(context.Background(), &vendorhttp.Request{Method: "POST", URL: srv.URL + "/create?key=topsecret",
				Body: []byte(`{"a":1}`), NoResendAfterWrite: tc.once})
			var e *vendorhttp.Error
			if resp != nil || !errors.As(err, &e) || s.count() != tc.calls || e.Attempts != tc.calls ||
				errors.Is(err, vendorhttp.ErrMaybeSent) != tc.maybe || strings.Contains(err.Error(), "topsecret") {
				t.Fatalf("resp %+v err %v calls %d", resp, err, s.count())
			}
		})
	}
	// Nothing reached the vendor (connection refused): retried although send-once.
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	c := vendorhttp.New(vendorhttp.Config{Vendor: "acme", MaxRetries: 1, Clock: vendorhttptest.NewFakeClock(time.Time{})})
	_, err := c.Do(context.Background(), &vendorhttp.Request{Method: "POST", URL: u, Body: []byte("x"), NoResendAfterWrite: true})
	var e *vendorhttp.Error
	if !errors.As(err, &e) || e.Attempts != 2 || errors.Is(err, vendorhttp.ErrMaybeSent) {
		t.Fatalf("err %v", err)
	}
}

func TestConfigOverride(t *testing.T) {
	hc := &http.Client{}
	clock := vendorhttptest.NewFakeClock(time.Time{})
	base := vendorhttp.Config{Vendor: "acme", Rate: 10, Burst: 3, MaxRetries: 4, Timeout: time.Minute}
	got := base.Override(vendorhttp.Config{Vendor: "other", Client: hc, MaxRetries: -1, MinBackoff: time.Millisecond,
		MaxBackoff: time.Second, MaxRetryAfter: 2 * time.Second, Timeout: 5 * time.Second, Clock: clock,
		Retryable: func(int) bool { return false }})
	if got.Vendor != "acme" || got.Client != hc || got.Rate != 10 || got.Burst != 3 || got.MaxRetries != -1 ||
		got.MinBackoff != time.Millisecond || got.MaxBackoff != time.Second || got.MaxRetryAfter != 2*time.Second ||
		got.Timeout != 5*time.Second || got.Clock != clock || got.Retryable == nil || got.Retryable(503) {
		t.Fatalf("%+v", got)
	}
	if got := base.Override(vendorhttp.Config{}); got.Rate != 10 || got.Burst != 3 || got.Timeout != time.Minute || got.Client != nil {
		t.Fatalf("zero override changed %+v", got)
	}
	if got := base.Override(vendorhttp.Config{Rate: 100, Burst: 7}); got.Rate != 100 || got.Burst != 7 {
		t.Fatalf("%+v", got)
	}
	if got := base.Override(vendorhttp.Config{Rate: -1}); got.Rate != 0 || got.Burst != 0 {
		t.Fatalf("negative rate kept a limit: %+v", got)
	}
}
