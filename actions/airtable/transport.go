package airtable

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// transport adapts Airtable's HTTP conventions to the shared vendor client:
//
//   - Airtable answers 429 without Retry-After and asks clients to wait 30 seconds
//     (https://airtable.com/developers/web/api/rate-limits); the transport adds
//     "Retry-After: 30" to such answers so the client's retry loop honours it.
//   - A create request is not re-sent once it may have reached Airtable (see sendOnce):
//     Airtable has no idempotency key, so re-sending a request whose answer was lost
//     would create its records twice.
type transport struct {
	base http.RoundTripper
}

// RateLimitWait is Airtable's documented wait after a 429.
const RateLimitWait = "30"

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	g, _ := r.Context().Value(guardKey{}).(*guard)
	if g != nil {
		g.wrote.Store(false)
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		if g != nil && g.wrote.Load() {
			g.cancel(errMaybeSent)
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		resp.Header.Set("Retry-After", RateLimitWait)
	}
	if g != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Airtable created the records: a body cut from here on must not cause a re-send.
		resp.Body = &guardedBody{ReadCloser: resp.Body, g: g}
	}
	return resp, nil
}

// guardedBody marks the call ambiguous when the body of a success answer fails.
type guardedBody struct {
	io.ReadCloser
	g *guard
}

// Read passes the read on and flags a failure.
func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.g.cancel(errMaybeSent)
	}
	return n, err
}

// errMaybeSent is the cause of a call stopped because the request may have reached
// Airtable although no usable answer came back.
var errMaybeSent = errors.New("the connection failed after the request was sent")

type guardKey struct{}

// guard follows one send-once call.
type guard struct {
	wrote  atomic.Bool
	cancel context.CancelCauseFunc
}

// sendOnce returns a context for a call that must not be re-sent once it may have been
// received. The vendor client still retries it when nothing was received for sure: a
// connection refused, a request not completely written, or an error answer (Airtable's
// 429 and 5xx mean nothing was created: requests are all or nothing). When the request
// was completely written but no answer came (a dropped connection, a timeout),
// context.Cause(ctx) is errMaybeSent and the client stops at once. Call the returned
// function when the call is over.
func sendOnce(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	g := &guard{cancel: cancel}
	ctx = context.WithValue(ctx, guardKey{}, g)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				g.wrote.Store(true)
			}
		},
	})
	return ctx, func() { cancel(nil) }
}
