// Package mparticlefake is an in-process fake of mParticle's server-to-server Events API
// bulk endpoint, POST /v2/bulkevents (https://docs.mparticle.com/developers/server/http/),
// for tests and benchmarks of the mparticle action.
//
// It checks what mParticle documents: HTTP Basic auth with the API key and secret, a JSON
// array of at most MaxBatches batches, a request under MaxRequestBytes and batches of at
// most MaxBatchBytes, schema_version 2, an environment, at least one user identity per
// batch, and custom events with an event name and a known custom_event_type. Like
// mParticle it answers 202 Accepted with no per-batch status, and 400 with
// {"errors":[{"code":"BAD_REQUEST","message":...}]} for a malformed request.
//
// mParticle documents no idempotency key: a batch re-sent after a lost answer can be
// ingested twice. The fake therefore records every batch received and keys what it holds
// by the batch's source_request_id (a field of mParticle's batch schema the action fills
// with a UUID per row), so tests can count distinct rows and duplicate ingestions apart.
//
// Faults are injected per request with Inject (429 with Retry-After, 5xx, hang, connection
// dropped before or after commit). In Light mode it keeps nothing: it counts batches and
// fully validates one request in SampleEvery.
package mparticlefake

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

	"github.com/actionhub/actionhub/internal/fakes/fakeserver"
)

// mParticle's documented limits, read with the stricter decimal "KB".
const (
	// MaxBatches is the number of batches per /v2/bulkevents request.
	// https://docs.mparticle.com/developers/server/http/
	MaxBatches = 100
	// MaxBatchBytes is the size a batch should not exceed ("128 KB").
	// https://docs.mparticle.com/developers/server/http/
	MaxBatchBytes = 128_000
	// MaxRequestBytes is the size a request must stay under ("256 KB").
	// https://docs.mparticle.com/guides/default-service-limits/
	MaxRequestBytes = 256_000
)

// CustomEventTypes are the custom_event_type values mParticle accepts.
var CustomEventTypes = []string{"navigation", "location", "search", "transaction", "user_content",
	"user_preference", "social", "other", "media", "unknown", "attribution"}

// Identities are the user_identities keys mParticle knows (those the action maps).
var Identities = []string{"customerid", "email", "facebook", "google", "microsoft", "twitter", "yahoo",
	"other", "other2", "other3", "other4"}

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
	// APIKey and APISecret are the accepted credentials. Required.
	APIKey, APISecret string
	// Light keeps nothing (benchmarks): batches are counted by the member a batch starts
	// with ({"events": — how the mparticle action writes them), and one request in
	// SampleEvery (default 50) is fully validated, its count checked against the quick one.
	Light       bool
	SampleEvery int
}

// Batch is one received batch, decoded.
type Batch map[string]any

// Server is a running fake.
type Server struct {
	// URL is the base URL (pass it as ACTION_HUB_VENDOR_URL_MPARTICLE).
	URL string

	fakeserver.Base
	opts Options

	received   atomic.Int64 // batches in committed requests, duplicates included
	duplicates atomic.Int64 // batches whose source_request_id was already held
	maxInReq   atomic.Int64

	mu      sync.Mutex
	batches []Batch
	byID    map[string]int
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.APIKey == "" || opts.APISecret == "" {
		t.Fatal("mparticlefake: Options.APIKey and APISecret are required")
	}
	s := &Server{opts: opts, byID: map[string]int{}}
	s.URL = fakeserver.Start(t, s.serve)
	return s
}

// Batches returns the distinct batches held (the first copy of each source_request_id),
// in arrival order.
func (s *Server) Batches() []Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Batch(nil), s.batches...)
}

// Received is the number of batches in committed requests, duplicates included.
func (s *Server) Received() int64 { return s.received.Load() }

// Duplicates is the number of batches received again (same source_request_id): what
// mParticle itself would ingest twice.
func (s *Server) Duplicates() int64 { return s.duplicates.Load() }

// MaxBatchesSeen is the largest number of batches seen in one request.
func (s *Server) MaxBatchesSeen() int64 { return s.maxInReq.Load() }

func (s *Server) problem(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.Problem(w, status, msg, map[string]any{"errors": []map[string]string{{"code": http.StatusText(status), "message": msg}}})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.Arrive()
	if r.Method != http.MethodPost || r.URL.Path != "/v2/bulkevents" {
		s.problem(w, http.StatusNotFound, "%s %s: only POST /v2/bulkevents exists here", r.Method, r.URL.Path)
		return
	}
	f, answered := s.Before(w, r, fakeserver.Answers{ServerErrorStatus: http.StatusServiceUnavailable,
		TooMany: func(w http.ResponseWriter, f Fault) {
			w.Header().Set("X-MP-Rate-Limit-Exceeded", "app")
			w.WriteHeader(http.StatusTooManyRequests)
		}})
	if answered {
		return
	}
	if !s.authorized(r.Header.Get("Authorization")) {
		s.problem(w, http.StatusUnauthorized, "The authentication header is missing or invalid.")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.problem(w, http.StatusBadRequest, "Content-Type %q is not application/json", ct)
		return
	}
	body, release, ok := fakeserver.ReadBody(r, MaxRequestBytes)
	if !ok {
		return
	}
	defer release()
	if len(body) >= MaxRequestBytes {
		s.problem(w, http.StatusRequestEntityTooLarge, "request of %d bytes or more, over the limit of %d", len(body), MaxRequestBytes)
		return
	}
	if s.opts.Light && !fakeserver.Sampled(n, s.opts.SampleEvery) {
		cnt := bytes.Count(body, lightMarker)
		if cnt < 1 || cnt > MaxBatches {
			s.problem(w, http.StatusBadRequest, "%d batches: 1 to %d allowed", cnt, MaxBatches)
			return
		}
		s.received.Add(int64(cnt))
		s.noteSize(int64(cnt))
	} else if status, msg := s.commit(body); status != http.StatusAccepted {
		s.problem(w, status, "%s", msg)
		return
	} else if s.opts.Light {
		if q, full := bytes.Count(body, lightMarker), fakeserver.CountArray(body); q != full {
			s.problem(w, http.StatusBadRequest, "Light mode miscounts: %d batches, %d markers", full, q)
			return
		}
	}
	if f.Kind == DropAfterCommit {
		fakeserver.Drop(w)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) noteSize(n int64) { fakeserver.StoreMax(&s.maxInReq, n) }

// lightMarker starts every batch the mparticle action writes: Light mode counts it.
var lightMarker = []byte(`{"events":`)

func (s *Server) authorized(h string) bool {
	const prefix = "Basic "
	if !strings.HasPrefix(h, prefix) {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(h[len(prefix):])
	return err == nil && string(dec) == s.opts.APIKey+":"+s.opts.APISecret
}

// commit validates a request and stores its batches; a malformed request stores nothing.
func (s *Server) commit(body []byte) (int, string) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return http.StatusBadRequest, "the request JSON is not an array of batches: " + err.Error()
	}
	if len(raws) == 0 || len(raws) > MaxBatches {
		return http.StatusBadRequest, fmt.Sprintf("%d batches: 1 to %d allowed", len(raws), MaxBatches)
	}
	s.noteSize(int64(len(raws)))
	batches := make([]Batch, 0, len(raws))
	for i, raw := range raws {
		if len(raw) > MaxBatchBytes {
			return http.StatusBadRequest, fmt.Sprintf("batch %d is %d bytes, over %d", i, len(raw), MaxBatchBytes)
		}
		var b Batch
		if err := json.Unmarshal(raw, &b); err != nil {
			return http.StatusBadRequest, fmt.Sprintf("batch %d: %v", i, err)
		}
		if msg := validate(b); msg != "" {
			return http.StatusBadRequest, fmt.Sprintf("batch %d: %s", i, msg)
		}
		batches = append(batches, b)
	}
	s.received.Add(int64(len(batches)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Light {
		return http.StatusAccepted, ""
	}
	for _, b := range batches {
		id, _ := b["source_request_id"].(string)
		if id != "" {
			if _, dup := s.byID[id]; dup {
				s.duplicates.Add(1)
				continue
			}
			s.byID[id] = len(s.batches)
		}
		s.batches = append(s.batches, b)
	}
	return http.StatusAccepted, ""
}

func validate(b Batch) string {
	if v, ok := b["schema_version"].(float64); !ok || v != 2 {
		return "schema_version must be 2"
	}
	if env := b["environment"]; env != "production" && env != "development" {
		return fmt.Sprintf("environment %v is not production or development", env)
	}
	ids, ok := b["user_identities"].(map[string]any)
	if !ok {
		return "user_identities must be an object"
	}
	known := 0
	for k, v := range ids {
		if !oneOf(k, Identities) {
			return fmt.Sprintf("unknown user identity %q", k)
		}
		if s, ok := v.(string); !ok || s == "" {
			return fmt.Sprintf("user identity %q must be a non-empty string", k)
		}
		known++
	}
	if known == 0 {
		return "a batch needs at least one user identity"
	}
	if ua, ok := b["user_attributes"]; ok {
		if _, ok := ua.(map[string]any); !ok {
			return "user_attributes must be an object"
		}
	}
	if di, ok := b["device_info"]; ok {
		if _, ok := di.(map[string]any); !ok {
			return "device_info must be an object"
		}
	}
	evs, ok := b["events"].([]any)
	if !ok {
		return "events must be an array"
	}
	for j, e := range evs {
		ev, _ := e.(map[string]any)
		if ev == nil || ev["event_type"] != "custom_event" {
			return fmt.Sprintf("event %d: event_type must be custom_event", j)
		}
		data, _ := ev["data"].(map[string]any)
		if data == nil {
			return fmt.Sprintf("event %d: data missing", j)
		}
		if name, _ := data["event_name"].(string); name == "" {
			return fmt.Sprintf("event %d: event_name must be a non-empty string", j)
		}
		if t, _ := data["custom_event_type"].(string); !oneOf(t, CustomEventTypes) {
			return fmt.Sprintf("event %d: custom_event_type %v is not valid", j, data["custom_event_type"])
		}
		if ca, ok := data["custom_attributes"]; ok {
			if _, ok := ca.(map[string]any); !ok {
				return fmt.Sprintf("event %d: custom_attributes must be an object", j)
			}
		}
	}
	return ""
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
