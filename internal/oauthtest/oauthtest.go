// Package oauthtest holds what the end-to-end tests of the OAuth actions (Airtable,
// Dropbox, Google Drive, Google Sheets) share to walk a login through the real server:
// Looker's one-time state URL, and a browser that stops at every redirect so each step
// can be checked.
package oauthtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// StateURL plays Looker's one-time state URL: it keeps what the hub POSTs to it and
// answers 405 to any other method.
type StateURL struct {
	// URL is the server's base URL; any path under it is accepted.
	URL string

	mu     sync.Mutex
	bodies []string
}

// NewStateURL starts a state URL, closed when the test ends.
func NewStateURL(t testing.TB) *StateURL {
	s := &StateURL{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Last returns the last body received ("" before any).
func (s *StateURL) Last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) == 0 {
		return ""
	}
	return s.bodies[len(s.bodies)-1]
}

// Browser follows no redirects, so each step of a round trip can be checked.
var Browser = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Step GETs u with Browser and fails the test unless the answer has wantStatus. The body
// is read and closed; the response's status and header remain.
func Step(t testing.TB, u string, wantStatus int) *http.Response {
	t.Helper()
	resp, err := Browser.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, wantStatus, b)
	}
	return resp
}

// Follow GETs u, fails the test unless the answer is a 302, and returns its Location.
func Follow(t testing.TB, u string) string {
	t.Helper()
	return Step(t, u, http.StatusFound).Header.Get("Location")
}
