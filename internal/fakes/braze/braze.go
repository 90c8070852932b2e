// Package brazefake is an in-process fake of Braze's POST /users/track endpoint
// (https://braze.com/docs/api/endpoints/user_data/post_user_track) for tests and
// benchmarks of the braze action.
//
// It checks what Braze documents: a Bearer REST API key, a JSON body of attributes,
// events and purchases holding at most MaxObjects objects in total, and one identifier
// (external_id, braze_id or user_alias) per object. Like Braze it answers non-fatal
// problems with {"message":"success","errors":[{"type":...,"input_array":"attributes",
// "index":i}]} and processes the other objects; RejectUser makes it refuse chosen users
// that way.
//
// Braze has no idempotency key, but attribute writes are idempotent: the fake stores the
// latest attributes of each user (an upsert) and the "add" operations on array attributes
// as sets, so a request re-sent after a lost answer leaves the same state. It counts every
// object received, so tests see the re-sent copies too.
//
// Faults are injected per request with Inject (429 with Retry-After, 5xx, hang, connection
// dropped before or after commit). In Light mode it keeps nothing: it counts objects and
// fully validates one request in SampleEvery.
package brazefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/fakeserver"
)

// MaxObjects is the number of attribute, event and purchase objects one /users/track
// request may carry in total. The English docs say 75 per array; the translated pages
// say 75 in total for accounts not on legacy limits, the stricter rule applied here.
// https://braze.com/docs/api/api_limits
const MaxObjects = 75

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
	// APIKey is the accepted REST API key. Required.
	APIKey string
	// RejectUser, when set, returns a non-fatal error type for the objects of users it
	// refuses ("" accepts), as Braze reports invalid attributes.
	RejectUser func(id string) string
	// Light keeps nothing (benchmarks): objects are counted by the member an object starts
	// with ({"_update_existing_only": — how the braze action writes them), and one request
	// in SampleEvery (default 50) is fully validated, its count checked against the quick
	// one.
	Light       bool
	SampleEvery int
}

// User is what the fake holds for one user.
type User struct {
	// IDField is "external_id" or "braze_id".
	IDField string
	// Attributes are the latest values of the plain attributes.
	Attributes map[string]any
	// Added are the values added to array attributes ({"add": [...]}), per attribute.
	Added map[string][]string
	// UpdateExistingOnly is the last _update_existing_only received.
	UpdateExistingOnly bool
	// Writes counts the objects received for the user, re-sent copies included.
	Writes int
}

// Server is a running fake.
type Server struct {
	// URL is the base URL (pass it as ACTION_HUB_VENDOR_URL_BRAZE).
	URL string

	fakeserver.Base
	opts Options

	received  atomic.Int64 // objects received in committed requests, re-sent copies included
	rejected  atomic.Int64 // objects answered with a non-fatal error
	maxInReq  atomic.Int64
	inFlight  atomic.Int64
	peakFlies atomic.Int64

	mu      sync.Mutex
	users   map[string]*User
	sampled int
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.APIKey == "" {
		t.Fatal("brazefake: Options.APIKey is required")
	}
	s := &Server{opts: opts, users: map[string]*User{}}
	s.URL = fakeserver.Start(t, s.serve)
	return s
}

// Users returns a copy of the stored users, by identifier value.
func (s *Server) Users() map[string]User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]User, len(s.users))
	for k, u := range s.users {
		out[k] = *u
	}
	return out
}

// UserIDs returns the stored identifiers, sorted.
func (s *Server) UserIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.users))
	for k := range s.users {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	return ids
}

// Received is the number of objects in committed requests, re-sent copies included.
func (s *Server) Received() int64 { return s.received.Load() }

// Rejected is the number of objects answered with a non-fatal error.
func (s *Server) Rejected() int64 { return s.rejected.Load() }

// MaxObjectsSeen is the largest number of objects seen in one request.
func (s *Server) MaxObjectsSeen() int64 { return s.maxInReq.Load() }

// PeakConcurrency is the largest number of requests handled at once.
func (s *Server) PeakConcurrency() int64 { return s.peakFlies.Load() }

func (s *Server) problem(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.Problem(w, status, msg, map[string]any{"message": msg})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.Arrive()
	cur := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	fakeserver.StoreMax(&s.peakFlies, cur)
	if r.Method != http.MethodPost || r.URL.Path != "/users/track" {
		s.problem(w, http.StatusNotFound, "%s %s: only POST /users/track exists here", r.Method, r.URL.Path)
		return
	}
	f, answered := s.Before(w, r, fakeserver.Answers{TooMany: func(w http.ResponseWriter, f Fault) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"message":"Too Many Requests"}`))
	}})
	if answered {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		s.problem(w, http.StatusUnauthorized, "Invalid API key")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.problem(w, http.StatusBadRequest, "Content-Type %q is not application/json", ct)
		return
	}
	body, release, ok := fakeserver.ReadBody(r, 0)
	if !ok {
		return
	}
	defer release()
	var answer []byte
	if s.opts.Light && !fakeserver.Sampled(n, s.opts.SampleEvery) {
		cnt := bytes.Count(body, lightMarker)
		if cnt < 1 || cnt > MaxObjects {
			s.problem(w, http.StatusBadRequest, "%d objects: 1 to %d allowed", cnt, MaxObjects)
			return
		}
		s.received.Add(int64(cnt))
		s.noteSize(int64(cnt))
		answer = []byte(`{"message":"success"}`)
	} else {
		status, ans := s.commit(body)
		if status != http.StatusCreated {
			s.problem(w, status, "%s", ans)
			return
		}
		if s.opts.Light {
			if q, full := bytes.Count(body, lightMarker), fakeserver.CountMember(body, "attributes"); q != full {
				s.problem(w, http.StatusBadRequest, "Light mode miscounts: %d objects, %d markers", full, q)
				return
			}
		}
		answer = ans
	}
	if f.Kind == DropAfterCommit {
		fakeserver.Drop(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(answer)
}

func (s *Server) noteSize(n int64) { fakeserver.StoreMax(&s.maxInReq, n) }

// lightMarker starts every object the braze action writes: Light mode counts it.
var lightMarker = []byte(`{"_update_existing_only":`)

type itemError struct {
	Type       string `json:"type"`
	InputArray string `json:"input_array"`
	Index      int    `json:"index"`
}

// commit validates a request and applies its attributes. It returns 201 and the answer,
// or a fatal status and message.
func (s *Server) commit(body []byte) (int, []byte) {
	var req struct {
		Attributes []map[string]json.RawMessage `json:"attributes"`
		Events     []json.RawMessage            `json:"events"`
		Purchases  []json.RawMessage            `json:"purchases"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, []byte("invalid JSON: " + err.Error())
	}
	total := len(req.Attributes) + len(req.Events) + len(req.Purchases)
	if total == 0 {
		return http.StatusBadRequest, []byte("no attributes, events or purchases")
	}
	if total > MaxObjects {
		return http.StatusBadRequest, []byte(fmt.Sprintf("%d objects, over the limit of %d per request", total, MaxObjects))
	}
	s.noteSize(int64(total))
	var errs []itemError
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Light {
		s.sampled++
	}
	for i, obj := range req.Attributes {
		s.received.Add(1)
		idField, id, msg := identify(obj)
		if msg == "" && s.opts.RejectUser != nil {
			msg = s.opts.RejectUser(id)
		}
		if msg != "" {
			s.rejected.Add(1)
			errs = append(errs, itemError{Type: msg, InputArray: "attributes", Index: i})
			continue
		}
		if s.opts.Light {
			continue
		}
		u := s.users[id]
		if u == nil {
			u = &User{IDField: idField, Attributes: map[string]any{}, Added: map[string][]string{}}
			s.users[id] = u
		}
		u.Writes++
		for k, raw := range obj {
			if k == idField {
				continue
			}
			if k == "_update_existing_only" {
				json.Unmarshal(raw, &u.UpdateExistingOnly)
				continue
			}
			var op struct {
				Add []string `json:"add"`
			}
			if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &op) == nil && op.Add != nil {
				for _, v := range op.Add {
					if !contains(u.Added[k], v) {
						u.Added[k] = append(u.Added[k], v)
					}
				}
				continue
			}
			var v any
			json.Unmarshal(raw, &v)
			u.Attributes[k] = v
		}
	}
	ans := map[string]any{"message": "success", "attributes_processed": len(req.Attributes) - len(errs)}
	if errs != nil {
		ans["errors"] = errs
	}
	b, _ := json.Marshal(ans)
	return http.StatusCreated, b
}

// identify finds the object's one identifier.
func identify(obj map[string]json.RawMessage) (field, id, problem string) {
	for _, k := range []string{"external_id", "braze_id", "user_alias"} {
		raw, ok := obj[k]
		if !ok {
			continue
		}
		if field != "" {
			return "", "", "more than one identifier"
		}
		field = k
		if k == "user_alias" {
			id = string(raw)
			continue
		}
		if err := json.Unmarshal(raw, &id); err != nil || id == "" {
			return "", "", k + " must be a non-empty string"
		}
	}
	if field == "" {
		return "", "", "missing external_id, braze_id or user_alias"
	}
	return field, id, ""
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
