package fakeserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaultsInOrder(t *testing.T) {
	var b Base
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.Arrive()
		f, answered := b.Before(w, r, Answers{ServerErrorStatus: http.StatusServiceUnavailable})
		if answered {
			return
		}
		if r.Header.Get("Authorization") != "ok" {
			b.AddProblem("bad auth")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if f.Kind == DropAfterCommit {
			Drop(w)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	b.Inject(Fault{Kind: TooMany, RetryAfter: "7"}, Fault{Kind: ServerError}, Fault{Kind: ServerError, Status: 502},
		Fault{Kind: DropBeforeCommit}, Fault{Kind: Hang, Delay: time.Millisecond}, Fault{Kind: DropAfterCommit})
	if b.PendingFaults() != 6 {
		t.Fatalf("pending %d", b.PendingFaults())
	}
	call := func() (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
		req.Header.Set("Authorization", "ok")
		return http.DefaultClient.Do(req)
	}
	for i, want := range []int{429, 503, 502, -1, -1, -1, 202} {
		resp, err := call()
		got := -1
		if err == nil {
			got = resp.StatusCode
			if i == 0 && resp.Header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			resp.Body.Close()
		}
		if got != want {
			t.Fatalf("request %d: status %d (%v), want %d", i+1, got, err, want)
		}
	}
	if b.Requests() != 7 || b.Faulted() != 6 || b.PendingFaults() != 0 || len(b.Problems()) != 0 {
		t.Fatalf("requests %d faulted %d pending %d problems %v", b.Requests(), b.Faulted(), b.PendingFaults(), b.Problems())
	}
	resp, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil || resp.StatusCode != 401 || len(b.Problems()) != 1 || b.Problems()[0] != "bad auth" {
		t.Fatalf("%v %v", resp, b.Problems())
	}
	resp.Body.Close()
}

func TestCountMember(t *testing.T) {
	for body, want := range map[string]int{
		`{"attributes":[]}`: 0, `{"attributes":[{"a":"]"},{"b":[1,2]}]}`: 2, `{"x":{"attributes":[1]},"attributes":[1,2,3]}`: 3,
		`{"events":[]}`: -1, `{"attributes":{}}`: -1,
	} {
		if got := CountMember([]byte(body), "attributes"); got != want {
			t.Errorf("%s: %d, want %d", body, got, want)
		}
	}
}

func TestCountArray(t *testing.T) {
	for body, want := range map[string]int{`[]`: 0, ` [{"a":"],"},{}]`: 2, `[1,[2,3],"x"]`: 3, `{}`: -1} {
		if got := CountArray([]byte(body)); got != want {
			t.Errorf("%s: %d, want %d", body, got, want)
		}
	}
}
