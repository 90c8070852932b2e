// Package vendorhttp is the HTTP client actions use to call vendor APIs.
//
// One [Client.Do] is one logical call: it waits for the (vendor, credential) rate limit,
// sends, and retries transport errors and retryable statuses (by default 408, 429, 500,
// 502, 503, 504) with exponential backoff and full jitter, honouring Retry-After (seconds
// or HTTP date) and X-RateLimit-Reset style headers, up to MaxRetries times. A cancelled
// context (Looker hung up) stops it at once. Actions own no retry loop: they say what to
// send and read the answer, as Alertmanager's notifiers do.
//
// Rate limiters live in a process-wide registry keyed by vendor and the SHA-256 of the
// credential, so the calls of one tenant share a bucket across executes and tenants never
// share one. The credential itself is never stored.
//
// Every error text passes through [Redact]: the request's Secrets, Authorization values,
// and the userinfo and query string of URLs never reach Looker or the logs.
//
// Note: Go's own transport replays, once and at once, a request carrying an
// Idempotency-Key (or a GET) whose reused keep-alive connection closed before any answer.
// Such a replay is invisible here and not counted in Response.Attempts.
package vendorhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of Config's zero values.
const (
	DefaultMaxRetries    = 4
	DefaultMinBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultMaxRetryAfter = 2 * time.Minute
	DefaultTimeout       = 60 * time.Second
	// MaxResponseBytes caps the response body kept in Response.Body; the rest is dropped.
	MaxResponseBytes = 4 << 20
	// maxMessageBytes caps StatusError.Message.
	maxMessageBytes = 300
)

// Config configures a Client. The zero value (plus Vendor) works.
type Config struct {
	// Vendor labels logs, metrics and errors ("segment").
	Vendor string
	// Client sends the requests, normally env.Client(); nil means http.DefaultClient.
	Client *http.Client
	// Rate is the requests per second allowed per (vendor, credential) token bucket;
	// 0 means unlimited. Burst is the bucket's size (default: Rate rounded up, at least 1).
	Rate  float64
	Burst int
	// MaxRetries is how many times a failed attempt is retried (default 4; negative: none).
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff with full jitter
	// (defaults 250ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps an honoured Retry-After (default 2m); a vendor asking for longer
	// fails the call with a clear error instead of holding the execute.
	MaxRetryAfter time.Duration
	// Timeout bounds each attempt, from sending to the end of the body (default 60s).
	Timeout time.Duration
	// Retryable says which statuses are retried (default: 408, 429, 500, 502, 503, 504).
	Retryable func(status int) bool
	// Clock is the time source for waits; nil means the process default (see SetClock),
	// normally the real clock.
	Clock Clock
}

// Override returns c with the non-zero fields of o in place of its own: an action's
// tuning options (tests, benchmarks) over its production settings. A positive o.Rate
// replaces Rate and Burst; a negative one turns the rate limit off (Rate and Burst 0).
// Vendor is kept.
func (c Config) Override(o Config) Config {
	if o.Client != nil {
		c.Client = o.Client
	}
	if o.Rate > 0 {
		c.Rate, c.Burst = o.Rate, o.Burst
	} else if o.Rate < 0 { // explicit "no limit"
		c.Rate, c.Burst = 0, 0
	}
	if o.MaxRetries != 0 {
		c.MaxRetries = o.MaxRetries
	}
	if o.MinBackoff != 0 {
		c.MinBackoff = o.MinBackoff
	}
	if o.MaxBackoff != 0 {
		c.MaxBackoff = o.MaxBackoff
	}
	if o.MaxRetryAfter != 0 {
		c.MaxRetryAfter = o.MaxRetryAfter
	}
	if o.Timeout != 0 {
		c.Timeout = o.Timeout
	}
	if o.Retryable != nil {
		c.Retryable = o.Retryable
	}
	if o.Clock != nil {
		c.Clock = o.Clock
	}
	return c
}

// DefaultRetryable is the default Config.Retryable.
func DefaultRetryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Request is one logical vendor call.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Credential keys the rate limiter (an API key, a token, an account id). Only its
	// SHA-256 is kept.
	Credential string
	// IdempotencyKey, when set, is sent as the Idempotency-Key header on every attempt.
	IdempotencyKey string
	// Secrets are strings to remove from every error text (the credential, signing keys).
	Secrets []string
	// NoResendAfterWrite marks a call that must not be sent again once it may have reached
	// the vendor, for a vendor with no idempotency key where a re-send would repeat the
	// call's effect (records created twice, a campaign triggered twice). A transport error
	// after the request was completely written, or a 2xx answer whose body could not be
	// read, then ends the call at once with an *Error that matches [ErrMaybeSent]. Failures
	// before the request was completely written and non-2xx answers are retried as usual.
	NoResendAfterWrite bool
}

// ErrMaybeSent is matched (errors.Is) by the *Error of a [Request.NoResendAfterWrite]
// call stopped because the request may have reached the vendor although no usable
// answer came back.
var ErrMaybeSent = errors.New("the connection failed after the request was sent")

// Response is the vendor's final answer.
type Response struct {
	Status int
	Header http.Header
	// Body is read fully, up to MaxResponseBytes.
	Body []byte
	// Attempts is how many requests were sent (1 when the first succeeded); Attempts-1 is
	// what a SendFunc adds with report.AddRetries.
	Attempts int
}

// Retries returns Attempts-1, or 0 for a nil response.
func (r *Response) Retries() int {
	if r == nil || r.Attempts < 1 {
		return 0
	}
	return r.Attempts - 1
}

// Retries returns how many attempts of a Do call were retries, from whichever of its
// results is set: what a SendFunc adds with report.AddRetries.
func Retries(resp *Response, err error) int {
	if resp != nil {
		return resp.Retries()
	}
	var e *Error
	if errors.As(err, &e) && e.Attempts > 1 {
		return e.Attempts - 1
	}
	return 0
}

// StatusError is a final answer that is not 2xx. Do returns it with the response.
type StatusError struct {
	Vendor string
	Status int
	// Message is short, taken from the body (or why the call was given up), and redacted.
	Message string
	// Retryable says whether the status is one the client retries: true means it gave up
	// after MaxRetries or a too-long Retry-After.
	Retryable bool
}

func (e *StatusError) Error() string {
	var b strings.Builder
	if e.Vendor != "" {
		b.WriteString(e.Vendor)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Error is a call that got no HTTP answer: a transport error after the retries, a
// cancelled context, a wait the hub refused, or a send-once call that may have been
// received ([ErrMaybeSent]). Its text is redacted; Unwrap gives only context.Canceled,
// context.DeadlineExceeded or ErrMaybeSent, never the raw transport error (whose text may
// hold the URL).
type Error struct {
	Vendor   string
	Attempts int
	msg      string
	cause    error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the context error that stopped the call, if any.
func (e *Error) Unwrap() error { return e.cause }

// Observer receives one Call per attempt (status 0 for a transport error) and one Retry
// per retry decided, for metrics.
type Observer interface {
	Call(vendor string, status int, dur time.Duration)
	Retry(vendor string, status int)
}

type nopObserver struct{}

func (nopObserver) Call(string, int, time.Duration) {}
func (nopObserver) Retry(string, int)               {}

type observerBox struct{ o Observer }

var observer atomic.Pointer[observerBox]

// SetObserver sets the process-wide Observer; nil restores the no-op default.
func SetObserver(o Observer) {
	if o == nil {
		o = nopObserver{}
	}
	observer.Store(&observerBox{o})
}

func getObserver() Observer {
	if b := observer.Load(); b != nil {
		return b.o
	}
	return nopObserver{}
}

// Client calls one vendor's API. It is safe for concurrent use.
type Client struct {
	cfg Config
}

// New returns a Client with cfg's defaults filled in.
func New(cfg Config) *Client {
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retryable == nil {
		cfg.Retryable = DefaultRetryable
	}
	if cfg.Rate > 0 && cfg.Burst < 1 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	return &Client{cfg: cfg}
}

func (c *Client) clock() Clock {
	if c.cfg.Clock != nil {
		return c.cfg.Clock
	}
	return defaultClock()
}

// userAgent is sent when the request sets none.
const userAgent = "actionhub (+https://github.com/actionhub/actionhub)"

// Do sends req, retrying as configured. It returns the 2xx response and nil; or the last
// non-2xx response and a *StatusError; or nil and an *Error when no answer came.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	header := req.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if req.IdempotencyKey != "" {
		header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", userAgent)
	}
	clock := c.clock()
	obs := getObserver()
	var lim *limiter
	if c.cfg.Rate > 0 {
		lim = limiterFor(c.cfg.Vendor, req.Credential, c.cfg.Rate, c.cfg.Burst)
	}
	for attempt := 1; ; attempt++ {
		if lim != nil {
			if err := lim.wait(ctx, clock); err != nil {
				return nil, c.stopped(ctx, req, attempt-1, err)
			}
		}
		start := time.Now()
		resp, maybeSent, err := c.once(ctx, method, req, header)
		status := 0
		if resp != nil {
			status = resp.Status
		}
		obs.Call(c.cfg.Vendor, status, time.Since(start))
		var delay time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return nil, c.stopped(ctx, req, attempt, ctx.Err())
			}
			if maybeSent {
				return nil, &Error{Vendor: c.cfg.Vendor, Attempts: attempt, cause: ErrMaybeSent,
					msg: Redact(fmt.Sprintf("%s%s %s: %s: %v", c.prefix(), method, req.URL, transportText(err), ErrMaybeSent), req.Secrets...)}
			}
			if attempt > c.cfg.MaxRetries {
				return nil, &Error{Vendor: c.cfg.Vendor, Attempts: attempt,
					msg: Redact(fmt.Sprintf("%s%s %s: %s%s", c.prefix(), method, req.URL, transportText(err), attemptsText(attempt)), req.Secrets...)}
			}
			delay = c.backoff(attempt)
		} else {
			resp.Attempts = attempt
			if status >= 200 && status < 300 {
				return resp, nil
			}
			se := &StatusError{Vendor: c.cfg.Vendor, Status: status, Retryable: c.cfg.Retryable(status),
				Message: Redact(bodyMessage(resp.Body, resp.Header.Get("Content-Type")), req.Secrets...)}
			if !se.Retryable {
				return resp, se
			}
			if attempt > c.cfg.MaxRetries {
				se.Message = joinMsg(se.Message, fmt.Sprintf("gave up after %d attempts", attempt))
				return resp, se
			}
			wait, given := retryAfter(resp.Header, status, clock.Now())
			if given && wait > c.cfg.MaxRetryAfter {
				se.Message = joinMsg(se.Message, fmt.Sprintf("the vendor asked to retry after %s, longer than the %s this hub waits",
					wait.Round(time.Second), c.cfg.MaxRetryAfter))
				return resp, se
			}
			if given {
				delay = wait
			} else {
				delay = c.backoff(attempt)
			}
		}
		obs.Retry(c.cfg.Vendor, status)
		if err := clock.Sleep(ctx, delay); err != nil {
			return nil, c.stopped(ctx, req, attempt, err)
		}
	}
}

func (c *Client) prefix() string {
	if c.cfg.Vendor == "" {
		return ""
	}
	return c.cfg.Vendor + ": "
}

func attemptsText(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" (after %d attempts)", n)
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// stopped is the error of a call the context ended.
func (c *Client) stopped(ctx context.Context, req *Request, attempts int, err error) error {
	cause := ctx.Err()
	if cause == nil {
		cause = err
	}
	return &Error{Vendor: c.cfg.Vendor, Attempts: attempts, cause: cause,
		msg: Redact(fmt.Sprintf("%scall to %s stopped: %v", c.prefix(), RedactURL(req.URL), cause), req.Secrets...)}
}

// once sends one attempt and reads the body. err is a transport error (no usable answer);
// maybeSent says that, for a NoResendAfterWrite request, the vendor may have received it.
func (c *Client) once(ctx context.Context, method string, req *Request, header http.Header) (resp *Response, maybeSent bool, err error) {
	actx, cancel := context.WithTimeoutCause(ctx, c.cfg.Timeout, errAttemptTimeout)
	defer cancel()
	var wrote atomic.Bool
	if req.NoResendAfterWrite {
		actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
			WroteRequest: func(info httptrace.WroteRequestInfo) {
				if info.Err == nil {
					wrote.Store(true)
				}
			},
		})
	}
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(actx, method, req.URL, body)
	if err != nil {
		return nil, false, fmt.Errorf("invalid request: %w", err)
	}
	hreq.Header = header
	hresp, err := c.cfg.Client.Do(hreq)
	if err != nil {
		return nil, wrote.Load(), c.attemptErr(actx, err)
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, MaxResponseBytes))
	if err != nil {
		// A 2xx answer means the vendor did the work; an error answer means it did not.
		ok := hresp.StatusCode >= 200 && hresp.StatusCode < 300
		return nil, req.NoResendAfterWrite && ok, c.attemptErr(actx, err)
	}
	return &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: data}, false, nil
}

var errAttemptTimeout = errors.New("attempt timed out")

func (c *Client) attemptErr(actx context.Context, err error) error {
	if errors.Is(context.Cause(actx), errAttemptTimeout) {
		return fmt.Errorf("no answer within %s", c.cfg.Timeout)
	}
	return err
}

// transportText is a transport error's text without the URL that *url.Error repeats.
func transportText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

// backoff is exponential backoff with full jitter: a random wait in
// [MinBackoff/2, min(MaxBackoff, MinBackoff*2^(attempt-1))].
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.cfg.MaxBackoff
	if shift := attempt - 1; shift < 32 {
		if d := c.cfg.MinBackoff << shift; d > 0 && d < ceil {
			ceil = d
		}
	}
	floor := c.cfg.MinBackoff / 2
	if ceil <= floor {
		return ceil
	}
	return floor + time.Duration(rand.Int64N(int64(ceil-floor)+1))
}

// retryAfter reads how long the vendor asked to wait: Retry-After (seconds or HTTP date),
// or, on 429 and 503, an X-RateLimit-Reset style header (seconds to wait, or a Unix time
// in seconds or milliseconds).
func retryAfter(h http.Header, status int, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && !math.IsInf(secs, 0) {
			return secondsDuration(secs), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0, false
	}
	for _, k := range []string{"X-RateLimit-Retry-After", "X-RateLimit-Reset", "RateLimit-Reset", "X-Rate-Limit-Reset", "X-RateLimit-Reset-After"} {
		v := strings.TrimSpace(h.Get(k))
		if v == "" {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || math.IsInf(n, 0) {
			continue
		}
		switch {
		case n > 1e12: // Unix milliseconds
			return max(0, time.UnixMilli(int64(n)).Sub(now)), true
		case n > 1e9: // Unix seconds
			return max(0, time.Unix(int64(n), 0).Sub(now)), true
		default: // seconds to wait
			return secondsDuration(n), true
		}
	}
	return 0, false
}

func secondsDuration(s float64) time.Duration {
	if s > float64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}
