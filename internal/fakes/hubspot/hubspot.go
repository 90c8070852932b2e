// Package hubspotfake is an in-process fake of HubSpot's CRM v3 batch update API for
// contacts and companies, written from HubSpot's API reference: it checks the Bearer
// token, the request shape and the 100-input batch limit, refuses duplicate ids in a
// batch as HubSpot does, answers 207 Multi-Status with errors[].context.ids for unknown
// objects, enforces an optional rolling request limit, injects faults (see package
// faults) and records every property update it applied.
//
// Reference: https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/batch/update-contacts
package hubspotfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// MaxInputs is HubSpot's limit of inputs per batch request.
const MaxInputs = 100

// Options configure a Server.
type Options struct {
	// Token is the accepted private-app access token.
	Token string
	// Exists says whether an object id exists; nil means every id does.
	Exists func(object, id string) bool
	// Properties, when set, are the only property names HubSpot knows; others fail the
	// whole batch with VALIDATION_ERROR as HubSpot does.
	Properties []string
	// RateLimit, when > 0, is the number of requests allowed per RateWindow; more get
	// 429 (HubSpot's TEN_SECONDLY_ROLLING policy). RateWindow defaults to 10s.
	RateLimit  int
	RateWindow time.Duration
	// Fast is the benchmark mode: ids must be decimal integers, properties are only
	// checked to be objects, and each id is recorded in a bit set (see Seen) instead of
	// keeping the updates, so a million rows cost the fake a few hundred kilobytes.
	Fast bool
}

// Update is one applied input.
type Update struct {
	Object     string // "contacts" or "companies"
	ID         string
	Properties map[string]any
}

// Server is a running fake.
type Server struct {
	URL    string
	Faults faults.Injector

	opts  Options
	props map[string]bool

	mu        sync.Mutex
	requests  int
	sizes     []int
	updates   []Update
	applied   map[string]int // object/id -> times applied
	seen      faults.DigitSet
	window    []time.Time
	overLimit int
	badAuth   int
}

// New starts a fake, closed at the end of the test.
func New(t testing.TB, opts Options) *Server {
	s := &Server{opts: opts, applied: map[string]int{}}
	if opts.RateWindow <= 0 {
		s.opts.RateWindow = 10 * time.Second
	}
	if opts.Properties != nil {
		s.props = map[string]bool{}
		for _, p := range opts.Properties {
			s.props[p] = true
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /crm/v3/objects/{object}/batch/update", s.batchUpdate)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Unknown path "+r.URL.Path, nil)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

type errorBody struct {
	Status        string         `json:"status"`
	Message       string         `json:"message"`
	CorrelationID string         `json:"correlationId"`
	Category      string         `json:"category"`
	PolicyName    string         `json:"policyName,omitempty"`
	Context       map[string]any `json:"context,omitempty"`
}

func writeError(w http.ResponseWriter, status int, category, msg string, ctx map[string]any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Status: "error", Message: msg, CorrelationID: "fake-correlation",
		Category: category, Context: ctx})
}

func write429(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(errorBody{Status: "error", Message: "You have reached your ten_secondly_rolling limit.",
		CorrelationID: "fake-correlation", Category: "RATE_LIMITS", PolicyName: "TEN_SECONDLY_ROLLING"})
}

type batchInput struct {
	Inputs []struct {
		ID         json.RawMessage `json:"id"`
		Properties map[string]any  `json:"properties"`
	} `json:"inputs"`
}

type batchError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context"`
}

func (s *Server) batchUpdate(w http.ResponseWriter, r *http.Request) {
	object := r.PathValue("object")
	if object != "contacts" && object != "companies" {
		writeError(w, http.StatusNotFound, "OBJECT_NOT_FOUND", "Unable to infer object type from: "+object, nil)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.opts.Token || s.opts.Token == "" {
		s.mu.Lock()
		s.badAuth++
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication.", nil)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "VALIDATION_ERROR", "Content-Type must be application/json", nil)
		return
	}
	if s.overRate() {
		write429(w)
		return
	}
	k := s.Faults.Next()
	if s.Faults.Before(w, r, k, func(status int) {
		if status == http.StatusTooManyRequests {
			write429(w)
			return
		}
		writeError(w, status, "INTERNAL_ERROR", "internal error", nil)
	}) {
		return
	}

	ids, props, ok := s.decode(w, r)
	if !ok {
		return
	}
	if len(ids) == 0 {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid input JSON: inputs must not be empty", nil)
		return
	}
	if len(ids) > MaxInputs {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR",
			fmt.Sprintf("Batch input limit exceeded: %d inputs, the limit is %d", len(ids), MaxInputs), nil)
		return
	}
	seen := make(map[string]bool, len(ids))
	var dups []string
	for _, id := range ids {
		if seen[id] {
			dups = append(dups, id)
		}
		seen[id] = true
	}
	if len(dups) > 0 {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR",
			"Duplicate IDs found in batch input: ["+strings.Join(dups, ", ")+"]. IDs must be unique", nil)
		return
	}
	if s.props != nil && !s.opts.Fast {
		for _, p := range props {
			for name := range p {
				if !s.props[name] {
					writeError(w, http.StatusBadRequest, "VALIDATION_ERROR",
						fmt.Sprintf(`Property values were not valid: [{"isValid":false,"message":"Property \"%s\" does not exist","error":"PROPERTY_DOESNT_EXIST","name":"%s"}]`, name, name), nil)
					return
				}
			}
		}
	}
	// commit
	var missing []string
	type result struct {
		ID         string         `json:"id"`
		Properties map[string]any `json:"properties"`
		Archived   bool           `json:"archived"`
	}
	results := make([]result, 0, len(ids))
	s.mu.Lock()
	s.requests++
	s.sizes = append(s.sizes, len(ids))
	for i, id := range ids {
		if s.opts.Exists != nil && !s.opts.Exists(object, id) {
			missing = append(missing, id)
			continue
		}
		if s.opts.Fast {
			s.seen.Add(id)
			continue
		}
		s.applied[object+"/"+id]++
		{
			s.updates = append(s.updates, Update{Object: object, ID: id, Properties: props[i]})
			results = append(results, result{ID: id, Properties: props[i]})
		}
	}
	s.mu.Unlock()
	if s.Faults.After(w, r, k) {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	if len(missing) == 0 {
		w.WriteHeader(http.StatusOK)
		json.NewEncoder(w).Encode(map[string]any{"status": "COMPLETE", "results": results,
			"startedAt": now, "completedAt": now})
		return
	}
	kind := "CONTACT"
	if object == "companies" {
		kind = "COMPANY"
	}
	w.WriteHeader(http.StatusMultiStatus)
	json.NewEncoder(w).Encode(map[string]any{"status": "COMPLETE", "results": results, "numErrors": 1,
		"errors": []batchError{{Status: "error", Category: "OBJECT_NOT_FOUND",
			Message: "Could not get some " + kind + " objects, they may be deleted or not exist. Check that ids are valid.",
			Context: map[string][]string{"ids": missing}}},
		"startedAt": now, "completedAt": now})
}

// decode reads the batch; ids are HubSpot's string ids (a JSON number is accepted as
// HubSpot does).
func (s *Server) decode(w http.ResponseWriter, r *http.Request) ([]string, []map[string]any, bool) {
	bad := func(msg string) ([]string, []map[string]any, bool) {
		writeError(w, http.StatusBadRequest, "VALIDATION_ERROR", "Invalid input JSON on line 1: "+msg, nil)
		return nil, nil, false
	}
	idOf := func(raw json.RawMessage) (string, bool) {
		var id string
		if json.Unmarshal(raw, &id) == nil && id != "" {
			return id, true
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil && n != "" {
			return n.String(), true
		}
		return "", false
	}
	if s.opts.Fast {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return bad(err.Error())
		}
		ids, ok := scanFast(body)
		if !ok {
			return bad("each input needs an id and a properties object")
		}
		return ids, nil, true
	}
	var in batchInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return bad(err.Error())
	}
	ids := make([]string, len(in.Inputs))
	props := make([]map[string]any, len(in.Inputs))
	for i, x := range in.Inputs {
		id, ok := idOf(x.ID)
		if !ok || x.Properties == nil {
			return bad("each input needs an id and a properties object")
		}
		for name, v := range x.Properties {
			switch v.(type) {
			case nil, string, float64, bool:
			default:
				return bad(fmt.Sprintf("property %q must be a string, number, boolean or null", name))
			}
		}
		ids[i], props[i] = id, x.Properties
	}
	return ids, props, true
}

// scanFast is the benchmark mode's check of a batch: {"inputs":[…]} whose every input
// starts with a string id followed by a properties object. It does not decode the
// property values.
func scanFast(body []byte) ([]string, bool) {
	body = bytes.TrimSpace(body)
	rest, ok := bytes.CutPrefix(body, []byte(`{"inputs":[`))
	if !ok || !bytes.HasSuffix(rest, []byte("]}")) {
		return nil, false
	}
	const start = `{"id":"`
	const props = `","properties":{`
	var ids []string
	for {
		i := bytes.Index(rest, []byte(start))
		if i < 0 {
			break
		}
		rest = rest[i+len(start):]
		j := bytes.Index(rest, []byte(props))
		if j <= 0 {
			return nil, false
		}
		ids = append(ids, string(rest[:j]))
		rest = rest[j+len(props):]
	}
	return ids, len(ids) > 0
}

// overRate applies the optional rolling request limit.
func (s *Server) overRate() bool {
	if s.opts.RateLimit <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	cut := now.Add(-s.opts.RateWindow)
	i := 0
	for i < len(s.window) && s.window[i].Before(cut) {
		i++
	}
	s.window = s.window[i:]
	if len(s.window) >= s.opts.RateLimit {
		s.overLimit++
		return true
	}
	s.window = append(s.window, now)
	return false
}

// Updates returns every applied input in the order applied.
func (s *Server) Updates() []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Update(nil), s.updates...)
}

// Applied returns how many times each "object/id" was updated.
func (s *Server) Applied() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.applied))
	for k, v := range s.applied {
		out[k] = v
	}
	return out
}

// BatchSizes returns the number of inputs of each committed request.
func (s *Server) BatchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

// Requests returns the number of committed batch requests.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// OverLimit returns how many requests the rolling limit refused.
func (s *Server) OverLimit() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overLimit
}

// BadAuth returns how many requests had a wrong or missing token.
func (s *Server) BadAuth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badAuth
}

// Seen returns, in Fast mode, the number of distinct ids updated and the number of
// updates of an id already updated.
func (s *Server) Seen() (distinct, repeated int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.Distinct, s.seen.Repeated
}
