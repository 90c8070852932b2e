package airtable

import "net/http"

// transport adapts Airtable's HTTP conventions to the shared vendor client: Airtable
// answers 429 without Retry-After and asks clients to wait 30 seconds
// (https://airtable.com/developers/web/api/rate-limits); the transport adds
// "Retry-After: 30" to such answers so the client's retry loop honours it. (A create
// request is not re-sent once it may have reached Airtable: the sender sets
// vendorhttp.Request.NoResendAfterWrite, as Airtable has no idempotency key and
// re-sending a request whose answer was lost would create its records twice.)
type transport struct {
	base http.RoundTripper
}

// RateLimitWait is Airtable's documented wait after a 429.
const RateLimitWait = "30"

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		resp.Header.Set("Retry-After", RateLimitWait)
	}
	return resp, nil
}
