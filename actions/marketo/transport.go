package marketo

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// transport adapts Marketo's HTTP conventions to the shared vendor client, so that the
// client's retry loop (backoff, limits, metrics) serves Marketo as it serves every vendor:
//
//   - Marketo reports throttling and transient failures in band, as HTTP 200 with
//     success:false and an error code. Codes 606 (rate limit) and 615 (concurrency limit)
//     become 429, the transient 604, 608, 611 and 713 become 503, and the token errors
//     600, 601 and 602 become 401; the code travels in the X-Marketo-Error header.
//   - Each attempt takes one of the instance's concurrent-call slots for its duration
//     (Marketo allows 10 concurrent calls per instance, shared by every integration).
//   - A 200 answer whose body cannot be read fails the attempt as a transport error, so
//     that a send-once call (vendorhttp.Request.NoResendAfterWrite) is not re-sent:
//     Marketo answered, so it did the work.
type transport struct {
	base     http.RoundTripper
	maxSlots int
}

// errorHeader carries the in-band error code of a rewritten answer.
const errorHeader = "X-Marketo-Error"

// maxBody bounds the answers the transport reads to look for an in-band error.
const maxBody = 8 << 20

func inBandStatus(code string) int {
	switch code {
	case "606", "615":
		return http.StatusTooManyRequests
	case "604", "608", "611", "713":
		return http.StatusServiceUnavailable
	case "600", "601", "602":
		return http.StatusUnauthorized
	}
	return 0
}

var (
	slotMu sync.Mutex
	slots  = map[[32]byte]chan struct{}{}
)

// slotsFor returns the process-wide concurrency slots of a Marketo instance.
func slotsFor(host string, n int) chan struct{} {
	key := sha256.Sum256([]byte(host))
	slotMu.Lock()
	defer slotMu.Unlock()
	s := slots[key]
	if s == nil || cap(s) != n {
		s = make(chan struct{}, n)
		slots[key] = s
	}
	return s
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.maxSlots > 0 {
		sem := slotsFor(r.URL.Host, t.maxSlots)
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || strings.HasSuffix(r.URL.Path, "/oauth/token") {
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		return nil, err // after the request was written: a send-once call stops here
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	if code := firstErrorCode(body); code != "" {
		if status := inBandStatus(code); status != 0 {
			resp.StatusCode = status
			resp.Status = strconv.Itoa(status) + " " + http.StatusText(status)
			resp.Header.Set(errorHeader, code)
		}
	}
	return resp, nil
}

// firstErrorCode returns errors[0].code of a success:false answer, without decoding the
// whole body (a createOrUpdate answer of 300 results is common, an error answer is tiny).
func firstErrorCode(body []byte) string {
	if len(body) > 4096 || !bytes.Contains(body, []byte(`"success":false`)) {
		return ""
	}
	var v struct {
		Errors []struct {
			Code any `json:"code"`
		} `json:"errors"`
	}
	if jsonUnmarshal(body, &v) != nil || len(v.Errors) == 0 {
		return ""
	}
	switch c := v.Errors[0].Code.(type) {
	case string:
		return c
	case float64:
		return strconv.Itoa(int(c))
	}
	return ""
}

// errMaybeSent is the text of a send-once call stopped because the request may have
// reached Marketo although no answer came (vendorhttp.ErrMaybeSent).
var errMaybeSent = errors.New("the connection failed after the request was sent: Marketo may have received it")
