package vendorhttp

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{`Post "https://bob:pw123@api.example.com/v1/x?api_key=abc&x=1#frag": EOF`,
			`Post "https://[REDACTED]@api.example.com/v1/x?[REDACTED]": EOF`},
		{`see https://api.example.com/v1/x.`, `see https://api.example.com/v1/x.`},
		{`Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig`, `Authorization: [REDACTED]`},
		{`sent Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig and failed`, `sent Bearer [REDACTED] and failed`},
		{`Basic auth failed`, `Basic auth failed`},
		{`bad grant: client_secret=s3cr3t&code=xyz`, `bad grant: client_secret=[REDACTED]&code=[REDACTED]`},
		{`{"access_token":"ya29.abc","expires_in":3600}`, `{"access_token":"[REDACTED]","expires_in":3600}`},
		{`key MYSECRETKEY not valid (MYSECRETKEY)`, `key [REDACTED] not valid ([REDACTED])`},
		{`escaped a%2Fb%3Dc`, `escaped [REDACTED]`},
		{`monkey=banana`, `monkey=banana`},
	}
	for _, c := range cases {
		if got := Redact(c.in, "MYSECRETKEY", "a/b=c", ""); got != c.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestBodyMessage(t *testing.T) {
	cases := []struct{ body, ct, want string }{
		{`{"message":"invalid write key"}`, "application/json", "invalid write key"},
		{`{"error":{"code":401,"message":"expired"}}`, "", "expired"},
		{`{"errors":["a","b","c","d"]}`, "", "a; b; c"},
		{`{"error":"invalid_grant","error_description":"Bad code"}`, "", "Bad code"},
		{"plain\n  text   error", "text/plain", "plain text error"},
		{"<html>oops</html>", "text/html", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		if got := bodyMessage([]byte(c.body), c.ct); got != c.want {
			t.Errorf("bodyMessage(%q) = %q, want %q", c.body, got, c.want)
		}
	}
	long := bodyMessage([]byte(strings.Repeat("ü", 500)), "")
	if len(long) > maxMessageBytes+3 || !strings.HasSuffix(long, "…") {
		t.Errorf("long message %d bytes", len(long))
	}
}

func TestBackoffBounds(t *testing.T) {
	c := New(Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	for attempt := 1; attempt < 70; attempt++ {
		ceil := min(time.Second, 100*time.Millisecond<<min(attempt-1, 20))
		for i := 0; i < 50; i++ {
			d := c.backoff(attempt)
			if d < 50*time.Millisecond || d > ceil {
				t.Fatalf("attempt %d: backoff %s outside [50ms, %s]", attempt, d, ceil)
			}
		}
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{}
	if _, ok := retryAfter(h, 429, now); ok {
		t.Fatal("no header")
	}
	h.Set("RateLimit-Reset", "1.5")
	if d, ok := retryAfter(h, 500, now); ok {
		t.Fatalf("reset header honoured on 500: %s", d)
	}
	if d, _ := retryAfter(h, 429, now); d != 1500*time.Millisecond {
		t.Fatalf("got %s", d)
	}
	h.Set("X-RateLimit-Reset", "1767225610000") // Unix ms, 10 s later
	h.Del("RateLimit-Reset")
	if d, _ := retryAfter(h, 429, now); d != 10*time.Second {
		t.Fatalf("got %s", d)
	}
	h = http.Header{"Retry-After": {"Wed, 31 Dec 2025 23:00:00 GMT"}} // in the past
	if d, ok := retryAfter(h, 503, now); !ok || d != 0 {
		t.Fatalf("got %s %v", d, ok)
	}
}
