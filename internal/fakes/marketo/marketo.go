// Package marketofake is an in-process fake of a Marketo instance's REST API, written
// from Adobe's Marketo developer documentation: the client-credentials identity endpoint
// with expiring tokens, lead createOrUpdate (300 records, 1 MB), static list membership
// (add and remove, 300 leads) and trigger-campaign requests (100 leads). Like Marketo it
// answers HTTP 200 with success:false and errors[].code for API errors (600/601/602 for
// tokens, 606 for the 100-calls-per-20-seconds limit, 615 for the 10-concurrent-calls
// limit, 1003/1013 for bad input) and per-record status "skipped" with reasons[].
// Faults of the network are injected through Faults, Marketo's own error codes through
// InjectCodes. Everything applied is recorded.
//
// References: https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/error-codes
// and https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/marketo-integration-best-practices
package marketofake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// Marketo's documented limits.
const (
	MaxLeadsPerCall    = 300     // createOrUpdate and list membership
	MaxTriggerLeads    = 100     // trigger campaign
	MaxBodyBytes       = 1 << 20 // 1 MB payload, HTTP 413 above
	DefaultRateLimit   = 100     // calls per RateWindow
	DefaultRateWindow  = 20 * time.Second
	DefaultConcurrency = 10
)

// Options configure a Server.
type Options struct {
	ClientID, ClientSecret string
	// TokenTTL is the life of an access token (default 1h).
	TokenTTL time.Duration
	// Fields, when set, are the only lead fields the instance has; others skip the lead
	// with reason 1006.
	Fields []string
	// Lists and Campaigns are the static list and trigger campaign ids that exist; nil
	// means every id exists.
	Lists, Campaigns []string
	// Reject, when set, skips a lead with the code and message it returns (code "").
	Reject func(lead map[string]any) (code, message string)
	// RateLimit calls per RateWindow (0: DefaultRateLimit; negative: no limit) and
	// Concurrency concurrent calls (0: DefaultConcurrency; negative: no limit).
	RateLimit   int
	RateWindow  time.Duration
	Concurrency int
	// Fast is the benchmark mode: leads are not stored; each is counted by the decimal
	// digits of its lookup value in a bit set (see Seen) and gets a new id.
	Fast bool
}

// Lead is a stored lead.
type Lead struct {
	ID     int64
	Fields map[string]any
	// Syncs counts the createOrUpdate calls that created or updated the lead.
	Syncs int
}

// Server is a running fake.
type Server struct {
	URL    string
	Faults faults.Injector

	opts Options

	mu          sync.Mutex
	tokens      map[string]time.Time // token -> expiry
	tokenCalls  int
	codes       []string
	leads       map[string]*Lead // lookup field + "\x00" + value -> lead
	byID        map[int64]*Lead
	nextID      int64
	lists       map[string]map[int64]bool
	triggers    map[string]map[int64]int
	leadCalls   []int
	calls       int
	window      []time.Time
	inflight    int
	maxInflight int
	limited     int
	badAuth     int
	seen        faults.DigitSet
}

// New starts a fake, closed at the end of the test.
func New(t testing.TB, opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = DefaultRateWindow
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	s := &Server{opts: opts, tokens: map[string]time.Time{}, leads: map[string]*Lead{}, byID: map[int64]*Lead{},
		lists: map[string]map[int64]bool{}, triggers: map[string]map[int64]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/identity/oauth/token", s.token)
	mux.HandleFunc("POST /rest/v1/leads.json", s.rest(s.leadsSync))
	mux.HandleFunc("POST /rest/v1/lists/{id}/leads.json", s.rest(s.listAdd))
	mux.HandleFunc("DELETE /rest/v1/lists/{id}/leads.json", s.rest(s.listRemove))
	mux.HandleFunc("POST /rest/v1/campaigns/{id}/trigger.json", s.rest(s.trigger))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// InjectCodes makes the next REST calls answer success:false with these Marketo error
// codes (606, 615, 601, 602, 604, 607, 611, ...), one per call, before any work.
func (s *Server) InjectCodes(codes ...string) {
	s.mu.Lock()
	s.codes = append(s.codes, codes...)
	s.mu.Unlock()
}

// ExpireTokens makes every token issued so far expired (602 on use).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	for k := range s.tokens {
		s.tokens[k] = time.Time{}
	}
	s.mu.Unlock()
}

var codeMessages = map[string]string{
	"600":  "Access token missing",
	"601":  "Access token invalid",
	"602":  "Access token expired",
	"603":  "Access denied",
	"604":  "Request time-out",
	"606":  "Max rate limit '100' exceeded with in '20' secs",
	"607":  "Daily quota reached",
	"608":  "API Temporarily Unavailable",
	"609":  "Invalid JSON",
	"611":  "System error",
	"615":  "Concurrent access limit reached",
	"1003": "Invalid data",
	"1013": "Object not found",
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type reason = apiError

type apiReply struct {
	RequestID string          `json:"requestId"`
	Success   bool            `json:"success"`
	Result    json.RawMessage `json:"result,omitempty"`
	Errors    []apiError      `json:"errors,omitempty"`
}

func requestID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func writeReply(w http.ResponseWriter, result any, errs ...apiError) {
	rep := apiReply{RequestID: requestID(), Success: len(errs) == 0, Errors: errs}
	if result != nil {
		b, _ := json.Marshal(result)
		rep.Result = b
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(rep)
}

func fail(w http.ResponseWriter, code, msg string) {
	if msg == "" {
		msg = codeMessages[code]
	}
	writeReply(w, nil, apiError{Code: code, Message: msg})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	if r.Form.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"unsupported_grant_type","error_description":"Unsupported grant type"}`)
		return
	}
	if r.Form.Get("client_id") != s.opts.ClientID || r.Form.Get("client_secret") != s.opts.ClientSecret {
		s.mu.Lock()
		s.badAuth++
		s.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"unauthorized","error_description":"Bad client credentials"}`)
		return
	}
	var b [16]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:]) + ":ab"
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.opts.TokenTTL)
	s.tokenCalls++
	s.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer",
		"expires_in": int(s.opts.TokenTTL / time.Second), "scope": "apiuser@fake.example"})
}

// rest wraps a REST handler with Marketo's checks: body size, faults, token, injected
// codes, rate and concurrency limits.
func (s *Server) rest(h func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("access_token") != "" {
			// retired in 2026: the header is the only way
			fail(w, "601", "Access token invalid: query parameter tokens are no longer accepted")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return
		}
		if len(body) > MaxBodyBytes {
			http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		k := s.Faults.Next()
		if s.Faults.Before(w, r, k, func(status int) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html><body>%d %s</body></html>", status, http.StatusText(status))
		}) {
			return
		}
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || tok == "" {
			fail(w, "600", "")
			return
		}
		s.mu.Lock()
		exp, known := s.tokens[tok]
		var code string
		if len(s.codes) > 0 {
			code = s.codes[0]
			s.codes = s.codes[1:]
		}
		s.mu.Unlock()
		switch {
		case !known:
			fail(w, "601", "")
			return
		case time.Now().After(exp):
			fail(w, "602", "")
			return
		case code != "":
			fail(w, code, "")
			return
		}
		if c := s.admit(); c != "" {
			fail(w, c, "")
			return
		}
		defer s.leave()
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			fail(w, "612", "Invalid Content Type")
			return
		}
		rec := &recorder{ResponseWriter: w}
		h(rec, r, body)
		if !rec.wrote {
			panic("marketofake: handler wrote nothing")
		}
		if s.Faults.After(w, r, k) {
			return
		}
		rec.flush()
	}
}

// recorder holds a handler's reply so that an "after" fault can drop it.
type recorder struct {
	http.ResponseWriter
	wrote  bool
	status int
	buf    []byte
}

func (r *recorder) WriteHeader(status int) { r.status = status; r.wrote = true }
func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	r.buf = append(r.buf, b...)
	return len(b), nil
}
func (r *recorder) flush() {
	r.ResponseWriter.WriteHeader(r.status)
	r.ResponseWriter.Write(r.buf)
}

func (s *Server) admit() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.opts.Concurrency > 0 && s.inflight >= s.opts.Concurrency {
		s.limited++
		return "615"
	}
	if s.opts.RateLimit > 0 {
		now := time.Now()
		cut := now.Add(-s.opts.RateWindow)
		i := 0
		for i < len(s.window) && s.window[i].Before(cut) {
			i++
		}
		s.window = s.window[i:]
		if len(s.window) >= s.opts.RateLimit {
			s.limited++
			return "606"
		}
		s.window = append(s.window, now)
	}
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	return ""
}

func (s *Server) leave() {
	s.mu.Lock()
	s.inflight--
	s.mu.Unlock()
}

type leadResult struct {
	ID      int64    `json:"id,omitempty"`
	Status  string   `json:"status"`
	Reasons []reason `json:"reasons,omitempty"`
}

func (s *Server) leadsSync(w http.ResponseWriter, r *http.Request, body []byte) {
	if s.opts.Fast {
		s.leadsSyncFast(w, body)
		return
	}
	var req struct {
		Action      string           `json:"action"`
		LookupField string           `json:"lookupField"`
		Input       []map[string]any `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		fail(w, "609", "")
		return
	}
	if req.Action == "" {
		req.Action = "createOrUpdate"
	}
	if req.LookupField == "" {
		req.LookupField = "email"
	}
	if req.Action != "createOrUpdate" {
		fail(w, "1003", "Unsupported action "+req.Action+" in the fake")
		return
	}
	if len(req.Input) == 0 {
		fail(w, "1003", "Input must not be empty")
		return
	}
	if len(req.Input) > MaxLeadsPerCall {
		fail(w, "1003", fmt.Sprintf("Input has %d records, the limit is %d", len(req.Input), MaxLeadsPerCall))
		return
	}
	known := map[string]bool{}
	for _, f := range s.opts.Fields {
		known[f] = true
	}
	results := make([]leadResult, len(req.Input))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leadCalls = append(s.leadCalls, len(req.Input))
	for i, in := range req.Input {
		lv, _ := in[req.LookupField]
		key := fmt.Sprint(lv)
		if lv == nil || key == "" {
			results[i] = leadResult{Status: "skipped", Reasons: []reason{{"1003", "Value for lookup field '" + req.LookupField + "' not found"}}}
			continue
		}
		if known := known; len(known) > 0 {
			var unknown string
			for f := range in {
				if !known[f] {
					unknown = f
					break
				}
			}
			if unknown != "" {
				results[i] = leadResult{Status: "skipped", Reasons: []reason{{"1006", "Field '" + unknown + "' not found"}}}
				continue
			}
		}
		if s.opts.Reject != nil {
			if code, msg := s.opts.Reject(in); code != "" {
				results[i] = leadResult{Status: "skipped", Reasons: []reason{{code, msg}}}
				continue
			}
		}
		mk := req.LookupField + "\x00" + key
		if l := s.leads[mk]; l != nil {
			for k, v := range in {
				l.Fields[k] = v
			}
			l.Syncs++
			results[i] = leadResult{ID: l.ID, Status: "updated"}
			continue
		}
		s.nextID++
		l := &Lead{ID: s.nextID, Fields: map[string]any{}, Syncs: 1}
		for k, v := range in {
			l.Fields[k] = v
		}
		s.leads[mk] = l
		s.byID[l.ID] = l
		results[i] = leadResult{ID: l.ID, Status: "created"}
	}
	writeReply(w, results)
}

// leadsSyncFast is the benchmark path: the body's shape is checked by its envelope and
// the lookup values are found by a scan instead of decoding every lead into a map.
func (s *Server) leadsSyncFast(w http.ResponseWriter, body []byte) {
	const prefix = `{"action":"createOrUpdate","lookupField":"`
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(body), []byte(prefix))
	end := bytes.IndexByte(rest, '"')
	if !ok || end <= 0 || !bytes.HasPrefix(rest[end:], []byte(`","input":[{`)) || !bytes.HasSuffix(rest, []byte("}]}")) {
		fail(w, "609", "fast mode expects the client's envelope")
		return
	}
	var head struct{ LookupField string }
	head.LookupField = string(rest[:end])
	needle := []byte(`"` + head.LookupField + `":`)
	var values [][]byte
	for {
		i := bytes.Index(rest, needle)
		if i < 0 {
			break
		}
		rest = rest[i+len(needle):]
		end := bytes.IndexAny(rest, ",}")
		if end < 0 {
			break
		}
		values = append(values, rest[:end])
		rest = rest[end:]
	}
	if len(values) == 0 || len(values) > MaxLeadsPerCall {
		fail(w, "1003", fmt.Sprintf("Input must have 1 to %d records", MaxLeadsPerCall))
		return
	}
	out := make([]byte, 0, 64+len(values)*32)
	out = append(out, `{"requestId":"fast","success":true,"result":[`...)
	s.mu.Lock()
	s.leadCalls = append(s.leadCalls, len(values))
	for i, v := range values {
		s.nextID++
		s.seen.Add(string(v))
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"id":`...)
		out = strconv.AppendInt(out, s.nextID, 10)
		out = append(out, `,"status":"created"}`...)
	}
	s.mu.Unlock()
	out = append(out, "]}\n"...)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Write(out)
}

func exists(set []string, id string) bool {
	if set == nil {
		return true
	}
	for _, x := range set {
		if x == id {
			return true
		}
	}
	return false
}

type idInput struct {
	ID int64 `json:"id"`
}

func (s *Server) listAdd(w http.ResponseWriter, r *http.Request, body []byte) {
	s.list(w, r, body, true)
}
func (s *Server) listRemove(w http.ResponseWriter, r *http.Request, body []byte) {
	s.list(w, r, body, false)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, body []byte, add bool) {
	listID := r.PathValue("id")
	if !exists(s.opts.Lists, listID) {
		fail(w, "1013", "Static list not found")
		return
	}
	var req struct {
		Input []idInput `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		fail(w, "609", "")
		return
	}
	if len(req.Input) == 0 || len(req.Input) > MaxLeadsPerCall {
		fail(w, "1003", fmt.Sprintf("Input must have 1 to %d ids", MaxLeadsPerCall))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	members := s.lists[listID]
	if members == nil {
		members = map[int64]bool{}
		s.lists[listID] = members
	}
	results := make([]leadResult, len(req.Input))
	for i, in := range req.Input {
		switch {
		case !s.opts.Fast && s.byID[in.ID] == nil:
			results[i] = leadResult{ID: in.ID, Status: "skipped", Reasons: []reason{{"1004", "Lead not found"}}}
		case add:
			members[in.ID] = true
			results[i] = leadResult{ID: in.ID, Status: "added"}
		case !members[in.ID]:
			results[i] = leadResult{ID: in.ID, Status: "skipped", Reasons: []reason{{"1015", "Lead not in list"}}}
		default:
			delete(members, in.ID)
			results[i] = leadResult{ID: in.ID, Status: "removed"}
		}
	}
	writeReply(w, results)
}

func (s *Server) trigger(w http.ResponseWriter, r *http.Request, body []byte) {
	campaignID := r.PathValue("id")
	if !exists(s.opts.Campaigns, campaignID) {
		fail(w, "1013", "Trigger campaign "+campaignID+" not found")
		return
	}
	var req struct {
		Input struct {
			Leads []idInput `json:"leads"`
		} `json:"input"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		fail(w, "609", "")
		return
	}
	if n := len(req.Input.Leads); n == 0 || n > MaxTriggerLeads {
		fail(w, "1003", fmt.Sprintf("Input must have 1 to %d leads", MaxTriggerLeads))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.triggers[campaignID]
	if t == nil {
		t = map[int64]int{}
		s.triggers[campaignID] = t
	}
	for _, l := range req.Input.Leads {
		t[l.ID]++
	}
	id, _ := strconv.ParseInt(campaignID, 10, 64)
	writeReply(w, []map[string]int64{{"id": id}})
}

// Leads returns the stored leads keyed by their lookup value (the field given).
func (s *Server) Leads(lookupField string) map[string]Lead {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Lead{}
	prefix := lookupField + "\x00"
	for k, l := range s.leads {
		if v, ok := strings.CutPrefix(k, prefix); ok {
			c := Lead{ID: l.ID, Fields: map[string]any{}, Syncs: l.Syncs}
			for f, x := range l.Fields {
				c.Fields[f] = x
			}
			out[v] = c
		}
	}
	return out
}

// ListMembers returns the lead ids in a static list.
func (s *Server) ListMembers(listID string) map[int64]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]bool{}
	for id := range s.lists[listID] {
		out[id] = true
	}
	return out
}

// AddToList puts lead ids in a static list (test setup).
func (s *Server) AddToList(listID string, ids ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lists[listID] == nil {
		s.lists[listID] = map[int64]bool{}
	}
	for _, id := range ids {
		s.lists[listID][id] = true
	}
}

// Triggers returns, per lead id, how many times it was sent to a trigger campaign.
func (s *Server) Triggers(campaignID string) map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]int{}
	for id, n := range s.triggers[campaignID] {
		out[id] = n
	}
	return out
}

// LeadCalls returns the number of records of each committed createOrUpdate call.
func (s *Server) LeadCalls() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.leadCalls...)
}

// Stats returns the REST calls received, the calls refused by the rate or concurrency
// limits, the most concurrent calls seen, the token requests and the bad-credential
// token requests.
func (s *Server) Stats() (calls, limited, maxInflight, tokenCalls, badAuth int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.limited, s.maxInflight, s.tokenCalls, s.badAuth
}

// Seen returns, in Fast mode, the number of distinct lookup values synced and the number
// of syncs of a value already synced.
func (s *Server) Seen() (distinct, repeated int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.Distinct, s.seen.Repeated
}
