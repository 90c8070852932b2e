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
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// MaxObjects is the number of attribute, event and purchase objects one /users/track
// request may carry in total. The English docs say 75 per array; the translated pages
// say 75 in total for accounts not on legacy limits, the stricter rule applied here.
// https://braze.com/docs/api/api_limits
const MaxObjects = 75

// FaultKind is what the fake does to one request instead of (or after) answering it.
type FaultKind int

// Faults.
const (
	// None answers normally.
	None FaultKind = iota
	// TooMany answers 429 with the fault's RetryAfter header, committing nothing.
	TooMany
	// ServerError answers the fault's Status (500 by default), committing nothing.
	ServerError
	// Hang waits for the fault's Delay (or until the client hangs up), commits nothing and
	// closes the connection without an answer.
	Hang
	// DropBeforeCommit closes the connection without storing anything.
	DropBeforeCommit
	// DropAfterCommit stores the request, then closes the connection without answering.
	DropAfterCommit
)

// Fault is one injected misbehaviour.
type Fault struct {
	Kind       FaultKind
	RetryAfter string
	Status     int
	Delay      time.Duration
}

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

	opts Options
	srv  *httptest.Server

	requests  atomic.Int64
	received  atomic.Int64 // objects received in committed requests, re-sent copies included
	rejected  atomic.Int64 // objects answered with a non-fatal error
	faulted   atomic.Int64
	maxInReq  atomic.Int64
	inFlight  atomic.Int64
	peakFlies atomic.Int64

	mu       sync.Mutex
	faults   []Fault
	users    map[string]*User
	problems []string
	sampled  int
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.APIKey == "" {
		t.Fatal("brazefake: Options.APIKey is required")
	}
	if opts.SampleEvery <= 0 {
		opts.SampleEvery = 50
	}
	s := &Server{opts: opts, users: map[string]*User{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Inject queues faults: each of the next requests gets the next fault, in arrival order.
func (s *Server) Inject(faults ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, faults...)
	s.mu.Unlock()
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

// Requests is the number of HTTP requests received, faulted ones included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Received is the number of objects in committed requests, re-sent copies included.
func (s *Server) Received() int64 { return s.received.Load() }

// Rejected is the number of objects answered with a non-fatal error.
func (s *Server) Rejected() int64 { return s.rejected.Load() }

// Faulted is the number of requests a fault was applied to.
func (s *Server) Faulted() int64 { return s.faulted.Load() }

// MaxObjectsSeen is the largest number of objects seen in one request.
func (s *Server) MaxObjectsSeen() int64 { return s.maxInReq.Load() }

// PeakConcurrency is the largest number of requests handled at once.
func (s *Server) PeakConcurrency() int64 { return s.peakFlies.Load() }

// Problems returns what the fake refused: a correct client causes none.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

// PendingFaults is the number of injected faults not yet applied.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults)
}

func (s *Server) problem(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	if len(s.problems) < 100 {
		s.problems = append(s.problems, msg)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"message": msg})
	w.Write(b)
}

func (s *Server) nextFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	cur := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		p := s.peakFlies.Load()
		if cur <= p || s.peakFlies.CompareAndSwap(p, cur) {
			break
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/users/track" {
		s.problem(w, http.StatusNotFound, "%s %s: only POST /users/track exists here", r.Method, r.URL.Path)
		return
	}
	f := s.nextFault()
	if f.Kind != None {
		s.faulted.Add(1)
	}
	switch f.Kind {
	case TooMany:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"message":"Too Many Requests"}`))
		return
	case ServerError:
		st := f.Status
		if st == 0 {
			st = http.StatusInternalServerError
		}
		http.Error(w, "injected failure", st)
		return
	case Hang:
		d := f.Delay
		if d == 0 {
			d = 10 * time.Second
		}
		// Reading the body lets the server notice when the client hangs up.
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(d):
			drop(w) // never an answer: returning would send an empty 200
		case <-r.Context().Done():
		}
		return
	case DropBeforeCommit:
		drop(w)
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
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodyPool.Put(buf)
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return
	}
	body := buf.Bytes()
	var answer []byte
	if s.opts.Light && n%int64(s.opts.SampleEvery) != 1 {
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
			if q, full := bytes.Count(body, lightMarker), countArray(body, "attributes"); q != full {
				s.problem(w, http.StatusBadRequest, "Light mode miscounts: %d objects, %d markers", full, q)
				return
			}
		}
		answer = ans
	}
	if f.Kind == DropAfterCommit {
		drop(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(answer)
}

func (s *Server) noteSize(n int64) {
	for {
		m := s.maxInReq.Load()
		if n <= m || s.maxInReq.CompareAndSwap(m, n) {
			return
		}
	}
}

// lightMarker starts every object the braze action writes: Light mode counts it.
var lightMarker = []byte(`{"_update_existing_only":`)

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

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

// countArray counts the elements of the top-level member name's array without decoding
// them, for Light mode. It returns -1 when the member is missing or not an array.
func countArray(body []byte, name string) int {
	key := []byte(`"` + name + `":`)
	i := indexTop(body, key)
	if i < 0 {
		return -1
	}
	i += len(key)
	for i < len(body) && (body[i] == ' ' || body[i] == '\n' || body[i] == '\t' || body[i] == '\r') {
		i++
	}
	if i >= len(body) || body[i] != '[' {
		return -1
	}
	depth, count, inStr, seen := 0, 0, false, false
	for ; i < len(body); i++ {
		c := body[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
			if depth == 1 {
				seen = true
			}
		case '[', '{':
			if depth == 1 {
				seen = true
			}
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				if seen {
					count++
				}
				return count
			}
		case ',':
			if depth == 1 {
				count++
			}
		case ' ', '\n', '\t', '\r':
		default:
			if depth == 1 {
				seen = true
			}
		}
	}
	return -1
}

// indexTop finds key at the top level of a JSON object (depth 1, outside strings).
func indexTop(body, key []byte) int {
	depth, inStr := 0, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			if depth == 1 && len(body)-i >= len(key) && string(body[i:i+len(key)]) == string(key) {
				return i
			}
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return -1
}
