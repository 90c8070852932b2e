package webhookrecv

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

func TestParseBatch(t *testing.T) {
	id, rows, err := parseBatch([]byte(` { "batch_id" : "x-1", "other": {"a":[1,"]"]}, "rows" : [ {"a":"}\"]"} , 2, "s", [1,[2]], null ] } `), nil)
	if err != nil || id != "x-1" {
		t.Fatalf("%q %v", id, err)
	}
	want := []string{`{"a":"}\"]"}`, `2`, `"s"`, `[1,[2]]`, `null`}
	if len(rows) != len(want) {
		t.Fatalf("rows %q", rows)
	}
	for i := range want {
		if string(rows[i]) != want[i] {
			t.Errorf("row %d = %s, want %s", i, rows[i], want[i])
		}
	}
	if _, rows, err := parseBatch([]byte(`{"rows":[],"batch_id":"e"}`), nil); err != nil || len(rows) != 0 {
		t.Fatalf("empty: %v %v", rows, err)
	}
	for _, bad := range []string{``, `[]`, `{"rows":[1,2}`, `{"rows":[1]}`, `{"batch_id":"x"}`, `{"rows":{},"batch_id":"x"}`,
		`{"rows":[1],"batch_id":"x"} extra`, `{"rows":[1,],"batch_id":"x"}`, `{"rows":[1] "batch_id":"x"}`, `{"rows":["unterminated]}`} {
		if _, _, err := parseBatch([]byte(bad), nil); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

var noReuse = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func post(t *testing.T, r *Receiver, secret, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.URL, strings.NewReader(body))
	req.Header.Set(SignatureHeader, Sign(secret, []byte(body)))
	if key != "" {
		req.Header.Set(IdempotencyHeader, key)
	}
	// A new connection each time: Go's transport replays a request with an Idempotency-Key
	// on its own when a reused connection drops, which would hide the faults.
	resp, err := noReuse.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReceiver(t *testing.T) {
	r := New(t, Options{Secret: "k",
		Reject: func(row []byte) string {
			if bytes.Contains(row, []byte("bad")) {
				return "bad row"
			}
			return ""
		},
		Defer: func(row []byte) string {
			if bytes.Contains(row, []byte("later")) {
				return "busy"
			}
			return ""
		}})
	body := `{"rows":[{"id":1},{"id":"bad"},{"id":"later"},{"id":4}],"batch_id":"b-1"}`
	if st, ans := post(t, r, "wrong", "b-1", body); st != 401 || !strings.Contains(ans, "bad signature") {
		t.Fatalf("%d %s", st, ans)
	}
	if st, ans := post(t, r, "k", "b-2", body); st != 400 || !strings.Contains(ans, "Idempotency-Key") {
		t.Fatalf("%d %s", st, ans)
	}
	want := `{"received":2,"rejected":[{"index":1,"reason":"bad row"}],"retry":[{"index":2,"reason":"busy"}]}`
	for i := 0; i < 2; i++ { // the repeat gets the same answer and is not counted
		if st, ans := post(t, r, "k", "b-1", body); st != 200 || ans != want {
			t.Fatalf("try %d: %d %s", i, st, ans)
		}
	}
	s := r.Stats()
	if s.Calls != 4 || s.Batches != 1 || s.Rows != 2 || s.Duplicates != 1 || s.Rejected != 1 || s.Deferred != 1 ||
		s.BadSignatures != 1 || s.BadRequests != 1 {
		t.Fatalf("stats %+v", s)
	}
	ids, err := r.IDs("id")
	if err != nil || len(ids) != 2 || ids["1"] != 1 || ids["4"] != 1 {
		t.Fatalf("ids %v %v", ids, err)
	}
}

func TestReceiverFaults(t *testing.T) {
	r := New(t, Options{Secret: "k"})
	r.Faults.Push(faults.RateLimit, faults.DropAfter, faults.DropBefore)
	r.Faults.RetryAfter = "3"
	body := `{"rows":[1,2,3],"batch_id":"x"}`
	req, _ := http.NewRequest(http.MethodPost, r.URL, strings.NewReader(body))
	req.Header.Set(SignatureHeader, Sign("k", []byte(body)))
	req.Header.Set(IdempotencyHeader, "x")
	resp, err := noReuse.Do(req)
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if st, msg := post(t, r, "k", "x", body); st != 0 || !strings.Contains(msg, "EOF") { // committed, then dropped
		t.Fatalf("status %d after a drop: %s", st, msg)
	}
	if s := r.Stats(); s.Batches != 1 || s.Rows != 3 {
		t.Fatalf("stats %+v", s)
	}
	if st, msg := post(t, r, "k", "x", body); st != 0 || !strings.Contains(msg, "EOF") { // dropped before commit
		t.Fatalf("status %d after a drop: %s", st, msg)
	}
	if st, ans := post(t, r, "k", "x", body); st != 200 || ans != `{"received":3}` {
		t.Fatalf("%d %s", st, ans)
	}
	if s := r.Stats(); s.Batches != 1 || s.Rows != 3 || s.Duplicates != 1 || s.Calls != 4 {
		t.Fatalf("stats %+v", s)
	}
}
