// Package segmentfake is an in-process fake of Segment's HTTP Tracking API batch endpoint,
// POST /v1/batch (https://www.twilio.com/docs/segment/connections/sources/catalog/libraries/server/http-api),
// for tests and benchmarks of the segment actions.
//
// It checks what Segment checks and documents: HTTP Basic auth with the write key as
// username and an empty password, a JSON content type, at most MaxBatchBytes per request
// and MaxMessageBytes per message, a known call type, a userId or anonymousId on every
// call, an event on track calls and a groupId on group calls. It deduplicates on
// messageId as Segment does, so a batch re-sent after a lost answer is stored once; it
// records every accepted message and counts duplicates.
//
// Faults are injected per request with Inject: 429 with Retry-After, 5xx, a hang longer
// than the client's timeout, and a connection dropped before or after the batch is
// committed. In Light mode (benchmarks) it keeps no message: it counts them and fully
// validates one request in SampleEvery.
package segmentfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/fakeserver"
)

// Segment's documented limits, enforced with the stricter decimal reading of "KB".
// https://www.twilio.com/docs/segment/connections/sources/catalog/libraries/server/http-api#max-request-size
const (
	// MaxBatchBytes is the largest /v1/batch request body ("500 KB").
	MaxBatchBytes = 500_000
	// MaxMessageBytes is the largest message inside a batch ("32 KB").
	MaxMessageBytes = 32_000
)

// FaultKind is what the fake does to one request instead of (or after) answering it.
type FaultKind = fakeserver.FaultKind

// Faults (see package fakeserver).
const (
	None             = fakeserver.None
	TooMany          = fakeserver.TooMany
	ServerError      = fakeserver.ServerError
	Hang             = fakeserver.Hang
	DropBeforeCommit = fakeserver.DropBeforeCommit
	DropAfterCommit  = fakeserver.DropAfterCommit
)

// Fault is one injected misbehaviour.
type Fault = fakeserver.Fault

// Options configure a Server.
type Options struct {
	// WriteKey is the accepted write key. Required.
	WriteKey string
	// Light keeps no message (benchmarks): messages are counted by the member a message
	// starts with ({"type": — how the segment actions write them), and one request in
	// SampleEvery (default 50) is fully validated, its count checked against the quick
	// one. Dedupe is off.
	Light       bool
	SampleEvery int
}

// Message is one accepted call, decoded.
type Message map[string]any

// Server is a running fake.
type Server struct {
	// URL is the base URL (pass it as ACTION_HUB_VENDOR_URL_SEGMENT).
	URL string

	fakeserver.Base
	opts Options

	received   atomic.Int64 // messages received in valid batches, duplicates included
	duplicates atomic.Int64 // messages whose messageId was already stored

	mu       sync.Mutex
	messages []Message
	seen     map[string]bool
	bodies   int // full validations in Light mode
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.WriteKey == "" {
		t.Fatal("segmentfake: Options.WriteKey is required")
	}
	s := &Server{opts: opts, seen: map[string]bool{}}
	s.URL = fakeserver.Start(t, s.serve)
	return s
}

// Messages returns the accepted messages (one per messageId), in arrival order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Received is the number of messages in accepted batches, duplicates included.
func (s *Server) Received() int64 { return s.received.Load() }

// Duplicates is the number of received messages whose messageId was already stored.
func (s *Server) Duplicates() int64 { return s.duplicates.Load() }

func (s *Server) problem(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.Problem(w, status, msg, map[string]any{"success": false, "message": msg})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.Arrive()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/batch" {
		s.problem(w, http.StatusNotFound, "%s %s: only POST /v1/batch exists here", r.Method, r.URL.Path)
		return
	}
	f, answered := s.Before(w, r, fakeserver.Answers{TooMany: func(w http.ResponseWriter, f Fault) {
		if f.RetryAfter != "" {
			w.Header().Set("X-RateLimit-Reset", f.RetryAfter)
		}
		w.WriteHeader(http.StatusTooManyRequests)
	}})
	if answered {
		return
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		s.problem(w, http.StatusUnauthorized, "invalid write key")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.problem(w, http.StatusBadRequest, "Content-Type %q is not application/json", ct)
		return
	}
	body, release, ok := fakeserver.ReadBody(r, MaxBatchBytes)
	if !ok {
		return
	}
	defer release()
	if len(body) > MaxBatchBytes {
		s.problem(w, http.StatusBadRequest, "batch over %d bytes", MaxBatchBytes)
		return
	}
	if s.opts.Light && !fakeserver.Sampled(n, s.opts.SampleEvery) {
		s.received.Add(int64(bytes.Count(body, lightMarker)))
	} else if status, msg, cnt := s.commit(body); status != http.StatusOK {
		s.problem(w, status, "%s", msg)
		return
	} else if s.opts.Light && bytes.Count(body, lightMarker) != cnt {
		s.problem(w, http.StatusBadRequest, "Light mode miscounts: %d messages, %d markers", cnt, bytes.Count(body, lightMarker))
		return
	}
	if f.Kind == DropAfterCommit {
		fakeserver.Drop(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"success":true}`))
}

// lightMarker starts every message the segment actions write: Light mode counts it.
var lightMarker = []byte(`{"type":`)

func (s *Server) authorized(h string) bool {
	const prefix = "Basic "
	if !strings.HasPrefix(h, prefix) {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(h[len(prefix):])
	return err == nil && string(dec) == s.opts.WriteKey+":"
}

// commit validates a whole batch and stores its messages; nothing is stored if any
// message is invalid (Segment answers 400 for the request).
func (s *Server) commit(body []byte) (status int, msg string, count int) {
	var req struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt *string           `json:"sentAt"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, "invalid JSON: " + err.Error(), 0
	}
	if req.Batch == nil {
		return http.StatusBadRequest, `missing "batch" array`, 0
	}
	if req.SentAt != nil {
		if _, err := time.Parse(time.RFC3339Nano, *req.SentAt); err != nil {
			return http.StatusBadRequest, "sentAt is not an ISO 8601 time", 0
		}
	}
	msgs := make([]Message, 0, len(req.Batch))
	for i, raw := range req.Batch {
		if len(raw) > MaxMessageBytes {
			return http.StatusBadRequest, fmt.Sprintf("message %d is %d bytes, over %d", i, len(raw), MaxMessageBytes), 0
		}
		var m Message
		if err := json.Unmarshal(raw, &m); err != nil {
			return http.StatusBadRequest, fmt.Sprintf("message %d: %v", i, err), 0
		}
		if msg := validate(m); msg != "" {
			return http.StatusBadRequest, fmt.Sprintf("message %d: %s", i, msg), 0
		}
		msgs = append(msgs, m)
	}
	s.received.Add(int64(len(msgs)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Light {
		s.bodies++
		return http.StatusOK, "", len(msgs)
	}
	for _, m := range msgs {
		id := m["messageId"].(string)
		if s.seen[id] {
			s.duplicates.Add(1)
			continue
		}
		s.seen[id] = true
		s.messages = append(s.messages, m)
	}
	return http.StatusOK, "", len(msgs)
}

// validate applies the checks of Segment's spec to one message.
func validate(m Message) string {
	id, _ := m["messageId"].(string)
	if id == "" {
		return "messageId missing (needed for dedupe)"
	}
	for _, k := range []string{"userId", "anonymousId"} {
		switch m[k].(type) {
		case nil, string:
		default:
			return k + " must be a string"
		}
	}
	uid, _ := m["userId"].(string)
	aid, _ := m["anonymousId"].(string)
	if uid == "" && aid == "" {
		return `You must pass either an "anonymousId" or a "userId".`
	}
	if ts, ok := m["timestamp"]; ok {
		s, _ := ts.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return "timestamp is not an ISO 8601 time"
		}
	}
	switch m["type"] {
	case "identify":
		if _, ok := m["traits"].(map[string]any); !ok {
			return "identify needs a traits object"
		}
	case "track":
		if ev, _ := m["event"].(string); ev == "" {
			return `You must pass an "event".`
		}
		if _, ok := m["properties"].(map[string]any); !ok {
			return "track needs a properties object"
		}
	case "group":
		if g, _ := m["groupId"].(string); g == "" {
			return `You must pass a "groupId".`
		}
	default:
		return fmt.Sprintf("unknown type %v", m["type"])
	}
	return ""
}

// SampledBatches is how many requests were fully validated in Light mode.
func (s *Server) SampledBatches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies
}
