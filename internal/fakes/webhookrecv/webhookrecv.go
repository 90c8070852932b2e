// Package webhookrecv is a fake receiver of the webhook_batch action's signed JSON
// batches, for tests and benchmarks of that action and of the delivery machinery
// (sdk/batch, sdk/vendorhttp) it is built from.
//
// It speaks the receiver side of the protocol: each POST carries
// {"rows":[...],"batch_id":"..."} with X-Signature-SHA256 (hex HMAC-SHA256 of the body)
// and Idempotency-Key (the batch id). The receiver verifies the signature, commits each
// batch once (a repeat of a committed Idempotency-Key is acknowledged with the first
// answer and not counted again: that is how exactly-once delivery survives a connection
// dropped after commit), records the rows it accepted, refuses items for good or for now
// as the test asks, and injects network faults through a faults.Injector: 429 with
// Retry-After, 503, answers that never come, and connections dropped before or after
// commit.
package webhookrecv

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// Header names of the protocol.
const (
	SignatureHeader   = "X-Signature-SHA256"
	IdempotencyHeader = "Idempotency-Key"
)

// Options configure a Receiver.
type Options struct {
	// Secret is the HMAC-SHA256 key the signatures must be made with.
	Secret string
	// Reject, when set, is asked about every row of a new batch; a non-empty reason
	// refuses the row for good ({"rejected":[{"index":i,"reason":...}]}).
	Reject func(row []byte) string
	// Defer, when set, is asked about every row Reject accepted; a non-empty reason
	// refuses it for now ({"retry":[{"index":i,"reason":...}]}): the row is not committed
	// and the sender should send it again in a later batch.
	Defer func(row []byte) string
	// Discard counts the accepted rows without keeping them (benchmarks); Rows and IDs
	// then return nothing.
	Discard bool
}

// Stats are a Receiver's counters.
type Stats struct {
	// Calls is every request received, faults included.
	Calls int64
	// Batches is the number of batches committed (each counted once).
	Batches int64
	// Rows is the number of rows accepted in committed batches.
	Rows int64
	// Duplicates counts requests repeating a committed Idempotency-Key.
	Duplicates int64
	// Rejected and Deferred count the items refused for good and for now.
	Rejected, Deferred int64
	// BadSignatures counts requests whose signature did not match; BadRequests those
	// that were not a well-formed batch.
	BadSignatures, BadRequests int64
}

// Receiver is a running fake receiver. Its URL is Server.URL.
type Receiver struct {
	*httptest.Server
	// Faults injects failures; set Faults.Func or Push before sending.
	Faults faults.Injector

	opt   Options
	calls atomic.Int64
	bufs  chan *scratch // request buffers kept across GCs, unlike a sync.Pool

	mu        sync.Mutex
	stats     Stats
	committed map[string][]byte // Idempotency-Key → the answer given
	rows      [][]byte
	arena     []byte
}

// New starts a Receiver; it stops when the test ends.
func New(t testing.TB, opt Options) *Receiver {
	r := &Receiver{opt: opt, committed: map[string][]byte{}, bufs: make(chan *scratch, 16)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// Stats returns the counters.
func (r *Receiver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Calls = r.calls.Load()
	return s
}

// Rows returns the accepted rows, in the order their batches were committed.
func (r *Receiver) Rows() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.rows...)
}

// IDs decodes every accepted row as a JSON object and counts the values of field (as
// JSON text: "42", "\"a@b.c\""): an exactly-once delivery has every count at 1.
func (r *Receiver) IDs(field string) (map[string]int, error) {
	out := map[string]int{}
	for _, row := range r.Rows() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(row, &m); err != nil {
			return nil, err
		}
		v, ok := m[field]
		if !ok {
			return nil, errors.New("row without " + field + ": " + string(row))
		}
		out[string(v)]++
	}
	return out, nil
}

// Sign returns the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	sc := r.getBuf()
	defer r.putBuf(sc)
	buf := &sc.body
	if req.ContentLength > 0 && req.ContentLength < 64<<20 {
		buf.Grow(int(req.ContentLength) + 1) // +1: ReadFrom wants room to see the end
	}
	if _, err := buf.ReadFrom(req.Body); err != nil {
		return // the client went away
	}
	body := buf.Bytes()
	fault := r.Faults.Next()
	if r.Faults.Before(w, req, fault, func(status int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":"injected fault"}`)
	}) {
		return
	}
	if req.Method != http.MethodPost {
		r.fail(w, http.StatusMethodNotAllowed, "POST only", &r.stats.BadRequests)
		return
	}
	sig, err := hex.DecodeString(req.Header.Get(SignatureHeader))
	mac := hmac.New(sha256.New, []byte(r.opt.Secret))
	mac.Write(body)
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		r.fail(w, http.StatusUnauthorized, "bad signature", &r.stats.BadSignatures)
		return
	}
	id, rows, err := parseBatch(body, sc.rows[:0])
	sc.rows = rows[:0]
	if err != nil {
		r.fail(w, http.StatusBadRequest, err.Error(), &r.stats.BadRequests)
		return
	}
	key := req.Header.Get(IdempotencyHeader)
	if key == "" || key != id {
		r.fail(w, http.StatusBadRequest, "Idempotency-Key must equal batch_id", &r.stats.BadRequests)
		return
	}
	answer := r.commit(key, rows)
	if r.Faults.After(w, req, fault) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
}

// scratch is the reusable memory of one request.
type scratch struct {
	body bytes.Buffer
	rows [][]byte
}

func (r *Receiver) getBuf() *scratch {
	select {
	case b := <-r.bufs:
		b.body.Reset()
		return b
	default:
		return new(scratch)
	}
}

func (r *Receiver) putBuf(b *scratch) {
	clear(b.rows[:cap(b.rows)])
	select {
	case r.bufs <- b:
	default:
	}
}

func (r *Receiver) fail(w http.ResponseWriter, status int, msg string, counter *int64) {
	r.mu.Lock()
	*counter++
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Write(b)
}

type itemAnswer struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// commit applies a batch once and returns the answer; a repeated key gets the first answer.
func (r *Receiver) commit(key string, rows [][]byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ans, ok := r.committed[key]; ok {
		r.stats.Duplicates++
		return ans
	}
	var rejected, deferred []itemAnswer
	accepted := 0
	for i, row := range rows {
		if r.opt.Reject != nil {
			if reason := r.opt.Reject(row); reason != "" {
				rejected = append(rejected, itemAnswer{i, reason})
				continue
			}
		}
		if r.opt.Defer != nil {
			if reason := r.opt.Defer(row); reason != "" {
				deferred = append(deferred, itemAnswer{i, reason})
				continue
			}
		}
		accepted++
		if !r.opt.Discard {
			r.keep(row)
		}
	}
	r.stats.Batches++
	r.stats.Rows += int64(accepted)
	r.stats.Rejected += int64(len(rejected))
	r.stats.Deferred += int64(len(deferred))
	var ans []byte
	if rejected == nil && deferred == nil {
		ans = strconv.AppendInt([]byte(`{"received":`), int64(accepted), 10)
		ans = append(ans, '}')
	} else {
		ans, _ = json.Marshal(struct {
			Received int          `json:"received"`
			Rejected []itemAnswer `json:"rejected,omitempty"`
			Retry    []itemAnswer `json:"retry,omitempty"`
		}{accepted, rejected, deferred})
	}
	r.committed[key] = ans
	return ans
}

// keep copies a row into the arena (few allocations for many rows).
func (r *Receiver) keep(row []byte) {
	if cap(r.arena)-len(r.arena) < len(row) {
		r.arena = make([]byte, 0, max(1<<20, len(row)))
	}
	start := len(r.arena)
	r.arena = append(r.arena, row...)
	r.rows = append(r.rows, r.arena[start:len(r.arena):len(r.arena)])
}
