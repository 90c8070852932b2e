package oauthtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStateURLAndSteps(t *testing.T) {
	s := NewStateURL(t)
	if s.Last() != "" {
		t.Fatal("a body before any request")
	}
	resp, err := http.Post(s.URL+"/state/1", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if s.Last() != `{"a":1}` {
		t.Fatalf("last %q", s.Last())
	}
	Step(t, s.URL+"/x", http.StatusMethodNotAllowed) // only POST is Looker's
	http.Post(s.URL, "application/json", strings.NewReader(`{"b":2}`))
	if s.Last() != `{"b":2}` {
		t.Fatalf("last %q", s.Last())
	}
	srv := httptest.NewServer(http.RedirectHandler("https://example.com/next", http.StatusFound))
	defer srv.Close()
	if got := Follow(t, srv.URL); got != "https://example.com/next" {
		t.Fatalf("location %q", got)
	}
}
