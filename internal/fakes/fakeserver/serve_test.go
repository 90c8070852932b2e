package fakeserver

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestServeHelpers(t *testing.T) {
	var b Base
	var got []string
	url := Start(t, func(w http.ResponseWriter, r *http.Request) {
		body, release, ok := ReadBody(r, 4)
		if !ok {
			return
		}
		defer release()
		got = append(got, string(body))
		if len(body) > 4 {
			b.Problem(w, http.StatusRequestEntityTooLarge, "too big", map[string]string{"error": "too big"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for _, in := range []string{"abcd", "abcdefgh"} {
		resp, err := http.Post(url, "text/plain", strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if in == "abcd" && resp.StatusCode != http.StatusNoContent {
			t.Errorf("%q: status %d", in, resp.StatusCode)
		}
		if in == "abcdefgh" && (resp.StatusCode != http.StatusRequestEntityTooLarge ||
			resp.Header.Get("Content-Type") != "application/json" || string(out) != `{"error":"too big"}`) {
			t.Errorf("%q: %d %s %s", in, resp.StatusCode, resp.Header.Get("Content-Type"), out)
		}
	}
	if len(got) != 2 || got[0] != "abcd" || got[1] != "abcde" {
		t.Errorf("bodies read %q, want the first up to limit+1 bytes", got)
	}
	if p := b.Problems(); len(p) != 1 || p[0] != "too big" {
		t.Errorf("problems %q", p)
	}
}

func TestSampledAndStoreMax(t *testing.T) {
	var n []int64
	for i := int64(1); i <= 7; i++ {
		if Sampled(i, 3) {
			n = append(n, i)
		}
	}
	if len(n) != 3 || n[0] != 1 || n[1] != 4 || n[2] != 7 {
		t.Errorf("sampled %v", n)
	}
	if !Sampled(51, 0) || Sampled(50, 0) {
		t.Error("default sampling is not one in 50")
	}
	var v atomic.Int64
	for _, x := range []int64{3, 9, 2} {
		StoreMax(&v, x)
	}
	if v.Load() != 9 {
		t.Errorf("max %d", v.Load())
	}
}

func TestStatuses(t *testing.T) {
	var s Statuses
	if s.Pop("a") != 0 {
		t.Fatal("empty queue pops a status")
	}
	s.Push("a", 503, 429)
	s.Push("b", 500)
	s.Push("a", 502)
	var got []int
	for st := s.Pop("a"); st != 0; st = s.Pop("a") {
		got = append(got, st)
	}
	if len(got) != 3 || got[0] != 503 || got[1] != 429 || got[2] != 502 || s.Pop("b") != 500 || s.Pop("b") != 0 {
		t.Errorf("popped %v", got)
	}
}
