// Package airtablefake is an in-process fake of Airtable, written from Airtable's Web API
// and OAuth references: the OAuth 2.0 authorization-code flow with PKCE (S256) and
// single-use, rotating refresh tokens; the bases list of the metadata API; and record
// creation (at most 10 records per request, all or nothing) with Airtable's error
// bodies, its per-base limit of 5 requests per second, and expiring access tokens.
//
// Create requests are all-or-nothing as on Airtable: an error answer (4xx, 429, 5xx)
// means nothing was created. Faults (package faults) make the network fail before the
// fake commits (nothing created, the client may safely re-send) or after it (the records
// exist but the client never hears): a client must not re-send after those.
//
// References: https://airtable.com/developers/web/api/create-records,
// https://airtable.com/developers/web/api/oauth-reference,
// https://airtable.com/developers/web/api/rate-limits
package airtablefake

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// Airtable's documented limits.
const (
	MaxRecordsPerRequest = 10
	RatePerBase          = 5 // requests per second
)

// Options configure a Server.
type Options struct {
	ClientID, ClientSecret string
	// Tables lists the tables of each base ("appXXX" -> table names or ids).
	Tables map[string][]string
	// Fields, when set, are the field names of every table; others fail the request with
	// 422 UNKNOWN_FIELD_NAME.
	Fields []string
	// Reject, when set, fails a whole create request with 422 and the type and message it
	// returns for a record (typ "").
	Reject func(fields map[string]any) (typ, message string)
	// TokenTTL is the life of an access token (default 1h).
	TokenTTL time.Duration
	// RateLimit enforces RatePerBase requests per second per base with 429.
	RateLimit bool
	// FastKey, when set, is the benchmark mode: records are not stored; the decimal
	// digits of this field's value are recorded in a bit set (see Seen).
	FastKey string
}

// Record is a created record.
type Record struct {
	ID     string
	Fields map[string]any
}

// Server is a running fake; its URL serves both the API and the OAuth endpoints.
type Server struct {
	URL    string
	Faults faults.Injector

	opts Options

	mu         sync.Mutex
	codes      map[string]authCode
	access     map[string]time.Time // token -> expiry
	refresh    map[string]bool      // live refresh tokens
	refreshes  int
	exchanges  []url.Values
	records    map[string][]Record // base/table -> records
	sizes      []int
	windows    map[string][]time.Time
	limited    int
	unauthReqs int
	seen       faults.DigitSet
}

type authCode struct {
	challenge, redirect, clientID string
}

// New starts a fake, closed at the end of the test.
func New(t testing.TB, opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	s := &Server{opts: opts, codes: map[string]authCode{}, access: map[string]time.Time{}, refresh: map[string]bool{},
		records: map[string][]Record{}, windows: map[string][]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/v1/authorize", s.authorize)
	mux.HandleFunc("POST /oauth2/v1/token", s.token)
	mux.HandleFunc("GET /v0/meta/bases", s.bases)
	mux.HandleFunc("POST /v0/{base}/{table}", s.create)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "Could not find what you are looking for")
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"type": typ, "message": msg}})
}

func write429(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"error": "RATE_LIMIT_REACHED",
		"message": "Rate limit exceeded. Please try again later"}}})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// authorize approves at once and redirects back with a code, as a user clicking "Grant
// access" would.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != s.opts.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case err != nil || redirect.Scheme == "" || redirect.Host == "":
		http.Error(w, "invalid redirect_uri", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		http.Error(w, "a S256 code_challenge is required", http.StatusBadRequest)
		return
	case q.Get("state") == "":
		http.Error(w, "state is required", http.StatusBadRequest)
		return
	case !strings.Contains(" "+q.Get("scope")+" ", " data.records:write "):
		http.Error(w, "scope must include data.records:write", http.StatusBadRequest)
		return
	}
	code := randomID("code", 12)
	s.mu.Lock()
	s.codes[code] = authCode{challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), clientID: q.Get("client_id")}
	s.mu.Unlock()
	rq := redirect.Query()
	rq.Set("code", code)
	rq.Set("state", q.Get("state"))
	redirect.RawQuery = rq.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != s.opts.ClientID || secret != s.opts.ClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	f := r.PostForm
	if cid := f.Get("client_id"); cid != "" && cid != s.opts.ClientID {
		oauthError(w, http.StatusBadRequest, "invalid_client", "client_id does not match")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exchanges = append(s.exchanges, f)
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := s.codes[f.Get("code")]
		delete(s.codes, f.Get("code")) // single use
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		switch {
		case !ok:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
			return
		case c.redirect != f.Get("redirect_uri"):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
			return
		}
	case "refresh_token":
		rt := f.Get("refresh_token")
		if !s.refresh[rt] {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token is invalid, expired or used")
			return
		}
		delete(s.refresh, rt) // Airtable's refresh tokens are single use
		s.refreshes++
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type not supported")
		return
	}
	access, refresh := s.issueLocked()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
		"scope": "data.records:write schema.bases:read schema.bases:write", "expires_in": int(s.opts.TokenTTL / time.Second),
		"refresh_expires_in": 5184000})
}

func (s *Server) issueLocked() (access, refresh string) {
	access, refresh = randomID("oaa", 16), randomID("oar", 16)
	s.access[access] = time.Now().Add(s.opts.TokenTTL)
	s.refresh[refresh] = true
	return access, refresh
}

// Issue returns a fresh access and refresh token pair, as after a login.
func (s *Server) Issue() (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked()
}

// Grant makes access and refresh valid tokens, as if a login had issued them.
func (s *Server) Grant(access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access[access] = time.Now().Add(s.opts.TokenTTL)
	s.refresh[refresh] = true
}

// ExpireAccessTokens makes every access token issued so far expired.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	for k := range s.access {
		s.access[k] = time.Time{}
	}
	s.mu.Unlock()
}

// authorized checks the Bearer token.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.access[tok]
	if !ok || !known || time.Now().After(exp) {
		s.unauthReqs++
		s.mu.Unlock()
		apiError(w, http.StatusUnauthorized, "AUTHENTICATION_REQUIRED", "Authentication required")
		return false
	}
	s.mu.Unlock()
	return true
}

func (s *Server) bases(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	type base struct {
		ID              string `json:"id"`
		Name            string `json:"name"`
		PermissionLevel string `json:"permissionLevel"`
	}
	var out []base
	for id := range s.opts.Tables {
		out = append(out, base{ID: id, Name: "Base " + id, PermissionLevel: "create"})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"bases": out})
}

func (s *Server) overRate(base string) bool {
	if !s.opts.RateLimit {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	cut := now.Add(-time.Second)
	win := s.windows[base]
	i := 0
	for i < len(win) && win[i].Before(cut) {
		i++
	}
	win = win[i:]
	if len(win) >= RatePerBase {
		s.windows[base] = win
		s.limited++
		return true
	}
	s.windows[base] = append(win, now)
	return false
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	base, table := r.PathValue("base"), r.PathValue("table")
	if !s.authorized(w, r) {
		return
	}
	tables, ok := s.opts.Tables[base]
	if !ok {
		apiError(w, http.StatusForbidden, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
			"Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.")
		return
	}
	found := false
	for _, t := range tables {
		found = found || t == table
	}
	if !found {
		apiError(w, http.StatusNotFound, "TABLE_NOT_FOUND", fmt.Sprintf("Could not find table %s in application %s", table, base))
		return
	}
	if s.overRate(base) {
		write429(w)
		return
	}
	k := s.Faults.Next()
	if s.Faults.Before(w, r, k, func(status int) {
		if status == http.StatusTooManyRequests {
			write429(w)
			return
		}
		apiError(w, status, "SERVER_ERROR", "Try again. If the problem persists, contact support.")
	}) {
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		apiError(w, http.StatusUnsupportedMediaType, "INVALID_REQUEST_UNKNOWN", "Content-Type must be application/json")
		return
	}
	if s.opts.FastKey != "" {
		s.createFast(w, r, k)
		return
	}
	var req struct {
		Records  []map[string]json.RawMessage `json:"records"`
		Typecast bool                         `json:"typecast"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, http.StatusUnprocessableEntity, "INVALID_REQUEST_UNKNOWN", "Invalid request: parameter validation failed. Check your request data.")
		return
	}
	if len(req.Records) == 0 || len(req.Records) > MaxRecordsPerRequest {
		apiError(w, http.StatusUnprocessableEntity, "INVALID_RECORDS",
			fmt.Sprintf("You must provide an array of up to %d record objects, each with a fields object", MaxRecordsPerRequest))
		return
	}
	known := map[string]bool{}
	for _, f := range s.opts.Fields {
		known[f] = true
	}
	created := make([]Record, len(req.Records))
	for i, rec := range req.Records {
		if len(rec) != 1 || rec["fields"] == nil {
			apiError(w, http.StatusUnprocessableEntity, "INVALID_RECORDS", "Each record must be an object with only a fields object")
			return
		}
		var fields map[string]any
		if err := json.Unmarshal(rec["fields"], &fields); err != nil || fields == nil {
			apiError(w, http.StatusUnprocessableEntity, "INVALID_RECORDS", "fields must be an object")
			return
		}
		for name := range fields {
			if len(known) > 0 && !known[name] {
				apiError(w, http.StatusUnprocessableEntity, "UNKNOWN_FIELD_NAME", fmt.Sprintf("Unknown field name: %q", name))
				return
			}
		}
		if s.opts.Reject != nil {
			if typ, msg := s.opts.Reject(fields); typ != "" {
				apiError(w, http.StatusUnprocessableEntity, typ, msg)
				return
			}
		}
		created[i] = Record{ID: randomID("rec", 7), Fields: fields}
	}
	// commit: all records of the request or none
	s.mu.Lock()
	s.sizes = append(s.sizes, len(created))
	s.records[base+"/"+table] = append(s.records[base+"/"+table], created...)
	s.mu.Unlock()
	if s.Faults.After(w, r, k) {
		return
	}
	type outRec struct {
		ID          string         `json:"id"`
		CreatedTime string         `json:"createdTime"`
		Fields      map[string]any `json:"fields"`
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	out := make([]outRec, len(created))
	for i, c := range created {
		out[i] = outRec{ID: c.ID, CreatedTime: now, Fields: c.Fields}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"records": out})
}

// createFast is the benchmark mode's create: the body's shape is checked by its
// envelope, records are counted and their FastKey values recorded, nothing is decoded.
func (s *Server) createFast(w http.ResponseWriter, r *http.Request, k faults.Kind) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(body), []byte(`{"records":[`))
	if !ok || !bytes.HasSuffix(rest, []byte("}}]}")) {
		apiError(w, http.StatusUnprocessableEntity, "INVALID_REQUEST_UNKNOWN", "fast mode expects {\"records\":[{\"fields\":{…}}]}")
		return
	}
	n := bytes.Count(rest, []byte(`{"fields":{`))
	if n == 0 || n > MaxRecordsPerRequest {
		apiError(w, http.StatusUnprocessableEntity, "INVALID_RECORDS",
			fmt.Sprintf("You must provide an array of up to %d record objects, each with a fields object", MaxRecordsPerRequest))
		return
	}
	needle := []byte(`"` + s.opts.FastKey + `":`)
	s.mu.Lock()
	s.sizes = append(s.sizes, n)
	for found := 0; found < n; found++ {
		i := bytes.Index(rest, needle)
		if i < 0 {
			s.seen.Repeated++ // a record without the key counts against the run
			continue
		}
		rest = rest[i+len(needle):]
		end := bytes.IndexAny(rest, ",}")
		s.seen.Add(string(rest[:max(end, 0)]))
	}
	s.mu.Unlock()
	if s.Faults.After(w, r, k) {
		return
	}
	out := make([]byte, 0, 16+n*64)
	out = append(out, `{"records":[`...)
	for i := 0; i < n; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"id":"recFAST","createdTime":"2026-01-01T00:00:00.000Z","fields":{}}`...)
	}
	out = append(out, "]}\n"...)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(out)
}

// Records returns the records created in base/table, in order.
func (s *Server) Records(base, table string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records[base+"/"+table]...)
}

// BatchSizes returns the number of records of each committed create request.
func (s *Server) BatchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

// Exchanges returns the form bodies of every token request, in order.
func (s *Server) Exchanges() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.exchanges...)
}

// Stats returns the refresh grants served, the requests refused by the rate limit and the
// requests refused for a missing, unknown or expired access token.
func (s *Server) Stats() (refreshes, limited, unauthorized int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes, s.limited, s.unauthReqs
}

// Seen returns, in fast mode, the number of distinct keys created and the number of
// records whose key was already created.
func (s *Server) Seen() (distinct, repeated int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.Distinct, s.seen.Repeated
}
