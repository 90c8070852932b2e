// Package dropboxfake is an httptest server that behaves like the parts of Dropbox's HTTP
// API the dropbox action uses, written from Dropbox's API reference
// (https://www.dropbox.com/developers/documentation/http/documentation): the OAuth 2
// authorize page (auto-approving) and token endpoint (authorization_code and
// refresh_token grants, client credentials in HTTP Basic auth), files/list_folder(+continue),
// files/upload and the upload session (start, append_v2, finish) with cursor offsets.
//
// It checks what a real Dropbox checks (Bearer tokens and their expiry, the
// Dropbox-API-Arg header being ASCII JSON, offsets, path conflicts) and records every call.
// One server plays the three Dropbox hosts (www, api, content): point all three vendor URLs
// at it.
package dropboxfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/fakeserver"
	"github.com/actionhub/actionhub/internal/fakes/oauthfake"
)

// MaxUploadBody is files/upload's limit (150 MB).
const MaxUploadBody = 150 << 20

// Call is one recorded API call.
type Call struct {
	Path string
	// Arg is the decoded JSON argument (body for RPC endpoints, Dropbox-API-Arg for content ones).
	Arg map[string]any
	// Size is the body size of content calls.
	Size int
	// Status is the HTTP status the fake answered.
	Status int
}

// Server is a running fake.
type Server struct {
	URL               string
	AppKey, AppSecret string
	// TokenTTL is the lifetime of issued access tokens (expires_in).
	TokenTTL time.Duration

	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	tokens   oauthfake.Tokens
	folders  map[string]string // lower path -> display path
	files    map[string][]byte // lower path -> content
	display  map[string]string // lower path -> display path
	sessions map[string][]byte
	calls    []Call
	failNext fakeserver.Statuses // by path
	failLate fakeserver.Statuses
}

// New starts a fake for the app key and secret, closed at the end of the test.
func New(t testing.TB, appKey, appSecret string) *Server {
	s := &Server{AppKey: appKey, AppSecret: appSecret, TokenTTL: 4 * time.Hour, t: t,
		folders: map[string]string{}, files: map[string][]byte{}, display: map[string]string{},
		sessions: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Env returns the hub variables that point the action at this fake.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"DROPBOX_ACTION_APP_KEY": s.AppKey, "DROPBOX_ACTION_APP_SECRET": s.AppSecret,
		"ACTION_HUB_VENDOR_URL_DROPBOX_API": s.URL, "ACTION_HUB_VENDOR_URL_DROPBOX_CONTENT": s.URL,
		"ACTION_HUB_VENDOR_URL_DROPBOX_WWW": s.URL,
	}
}

func randID(prefix string) string { return oauthfake.NewID(prefix, 12) }

// AddFolder creates a folder (and its parents), e.g. "/Reports/2024".
func (s *Server) AddFolder(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i := range parts {
		d := "/" + strings.Join(parts[:i+1], "/")
		s.folders[strings.ToLower(d)] = d
	}
}

// IssueTokens returns a valid access token and refresh token, as after a login.
func (s *Server) IssueTokens() (accessToken, refreshToken string) {
	a, r := randID("sl.a"), randID("r")
	s.tokens.AddAccess(a, time.Now().Add(s.TokenTTL), oauthfake.Login{})
	s.tokens.AddRefresh(r, oauthfake.Login{})
	return a, r
}

// IssueCode returns an authorization code for redirectURI, as the authorize page does.
func (s *Server) IssueCode(redirectURI string) string {
	c := randID("code")
	s.tokens.AddCode(c, redirectURI, oauthfake.Login{})
	return c
}

// AddCode registers a known authorization code (for state written by older hubs).
func (s *Server) AddCode(code, redirectURI string) {
	s.tokens.AddCode(code, redirectURI, oauthfake.Login{})
}

// ExpireAccessTokens makes every issued access token expired.
func (s *Server) ExpireAccessTokens() {
	s.tokens.ExpireAccess()
}

// RevokeRefreshTokens makes every refresh token invalid (invalid_grant).
func (s *Server) RevokeRefreshTokens() {
	s.tokens.RevokeRefresh()
}

// FailNext makes the next calls to path (e.g. "/2/files/upload_session/append_v2") answer
// the given statuses without doing anything.
func (s *Server) FailNext(path string, statuses ...int) {
	s.failNext.Push(path, statuses...)
}

// FailAfter makes the next calls to path do their work and then answer the given
// statuses, as when a response is lost after Dropbox processed the request.
func (s *Server) FailAfter(path string, statuses ...int) {
	s.failLate.Push(path, statuses...)
}

// File returns a committed file's content.
func (s *Server) File(p string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[strings.ToLower(p)]
	return b, ok
}

// Files returns the committed paths (display form), sorted.
func (s *Server) Files() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.files {
		out = append(out, s.display[k])
	}
	sort.Strings(out)
	return out
}

// OpenSessions is the number of upload sessions started and not finished.
func (s *Server) OpenSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Calls returns the recorded calls to path ("" for all).
func (s *Server) Calls(path string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if path == "" || c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// AuthorizeRequests returns the query strings the authorize page received.
func (s *Server) AuthorizeRequests() []url.Values {
	return s.tokens.AuthorizeRequests()
}

type apiErr struct {
	status  int
	summary string
	err     any
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth2/authorize":
		s.authorize(w, r)
		return
	case "/oauth2/token":
		s.token(w, r)
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/2/") {
		http.NotFound(w, r)
		return
	}
	call := Call{Path: r.URL.Path}
	status, out, aerr := s.api(r, &call)
	if aerr == nil && status == 0 {
		if st := s.failLate.Pop(r.URL.Path); st != 0 {
			aerr = &apiErr{status: st, summary: "internal_error/"}
		}
	}
	s.mu.Lock()
	if aerr != nil {
		call.Status = aerr.status
	} else {
		call.Status = http.StatusOK
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if aerr != nil {
		if aerr.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		if aerr.status == http.StatusBadRequest {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "Error in call to API function: "+aerr.summary)
			return
		}
		writeJSON(w, aerr.status, map[string]any{"error_summary": aerr.summary, "error": aerr.err})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.tokens.Authorize(w, r, oauthfake.Page{ClientID: s.AppKey, Refusal: "invalid authorize request",
		Issue: func(q url.Values) string { return s.IssueCode(q.Get("redirect_uri")) }})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, oauthfake.Error(code, desc))
	}
	if r.Method != http.MethodPost {
		oauthErr(http.StatusBadRequest, "invalid_request", "POST required")
		return
	}
	if q := r.URL.Query(); q.Get("client_secret") != "" || q.Get("code") != "" {
		oauthErr(http.StatusBadRequest, "invalid_request", "credentials must not be sent in the URL")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.AppKey || pass != s.AppSecret {
		oauthErr(http.StatusUnauthorized, "invalid_client", "bad client credentials")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		redirect, _, ok := s.tokens.RedeemCode(r.PostForm.Get("code"))
		if !ok {
			oauthErr(http.StatusBadRequest, "invalid_grant", "code doesn't exist or has expired")
			return
		}
		if redirect != r.PostForm.Get("redirect_uri") {
			oauthErr(http.StatusBadRequest, "invalid_grant", "redirect_uri mismatch")
			return
		}
		a, rt := randID("sl.a"), randID("r")
		s.tokens.AddAccess(a, time.Now().Add(s.TokenTTL), oauthfake.Login{})
		s.tokens.AddRefresh(rt, oauthfake.Login{})
		writeJSON(w, http.StatusOK, map[string]any{"access_token": a, "token_type": "bearer",
			"expires_in": int(s.TokenTTL.Seconds()), "refresh_token": rt, "scope": "files.content.write",
			"uid": "12345", "account_id": "dbid:fake"})
	case "refresh_token":
		if _, ok := s.tokens.Refresh(r.PostForm.Get("refresh_token")); !ok {
			oauthErr(http.StatusBadRequest, "invalid_grant", "refresh token is invalid or revoked")
			return
		}
		a := randID("sl.a")
		s.tokens.AddAccess(a, time.Now().Add(s.TokenTTL), oauthfake.Login{})
		writeJSON(w, http.StatusOK, map[string]any{"access_token": a, "token_type": "bearer",
			"expires_in": int(s.TokenTTL.Seconds())})
	default:
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

// api handles a /2/ call. status 0 with a nil error means 200 with out.
func (s *Server) api(r *http.Request, call *Call) (int, any, *apiErr) {
	if st := s.failNext.Pop(r.URL.Path); st != 0 {
		return 0, nil, &apiErr{status: st, summary: "too_many_requests/", err: map[string]any{".tag": "too_many_requests"}}
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	_, exp, known := s.tokens.Access(tok)
	switch {
	case !ok || !known:
		return 0, nil, &apiErr{status: 401, summary: "invalid_access_token/", err: map[string]any{".tag": "invalid_access_token"}}
	case time.Now().After(exp):
		return 0, nil, &apiErr{status: 401, summary: "expired_access_token/", err: map[string]any{".tag": "expired_access_token"}}
	}
	content := strings.HasPrefix(r.URL.Path, "/2/files/upload")
	var body []byte
	var err error
	if content {
		if r.Header.Get("Content-Type") != "application/octet-stream" {
			return 0, nil, &apiErr{status: 400, summary: "Bad HTTP \"Content-Type\" header; expecting application/octet-stream"}
		}
		raw := r.Header.Get("Dropbox-API-Arg")
		for i := 0; i < len(raw); i++ {
			if raw[i] >= 0x80 {
				return 0, nil, &apiErr{status: 400, summary: "Dropbox-API-Arg must be ASCII (escape non-ASCII as \\uXXXX)"}
			}
		}
		if err := json.Unmarshal([]byte(raw), &call.Arg); err != nil {
			return 0, nil, &apiErr{status: 400, summary: "could not decode Dropbox-API-Arg"}
		}
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxUploadBody+1))
		if err != nil {
			return 0, nil, &apiErr{status: 400, summary: "bad body"}
		}
		if len(body) > MaxUploadBody {
			return 0, nil, &apiErr{status: 400, summary: "request body too large"}
		}
		call.Size = len(body)
	} else {
		if r.Header.Get("Content-Type") != "application/json" {
			return 0, nil, &apiErr{status: 400, summary: "Bad HTTP \"Content-Type\" header; expecting application/json"}
		}
		if err := json.NewDecoder(r.Body).Decode(&call.Arg); err != nil {
			return 0, nil, &apiErr{status: 400, summary: "could not decode input as JSON"}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/2/files/list_folder":
		p, _ := call.Arg["path"].(string)
		rec, _ := call.Arg["recursive"].(bool)
		limit := 2000
		if l, ok := call.Arg["limit"].(float64); ok {
			limit = int(l)
		}
		return s.list(p, rec, 0, limit)
	case "/2/files/list_folder/continue":
		c, _ := call.Arg["cursor"].(string)
		var cur struct {
			Path      string
			Recursive bool
			Offset    int
			Limit     int
		}
		if json.Unmarshal([]byte(c), &cur) != nil {
			return 0, nil, &apiErr{status: 409, summary: "reset/", err: map[string]any{".tag": "reset"}}
		}
		return s.list(cur.Path, cur.Recursive, cur.Offset, cur.Limit)
	case "/2/files/upload":
		return s.commit(call.Arg, body)
	case "/2/files/upload_session/start":
		if c, _ := call.Arg["close"].(bool); c {
			return 0, nil, &apiErr{status: 400, summary: "unexpected close"}
		}
		id := randID("sess")
		s.sessions[id] = append([]byte(nil), body...)
		return 0, map[string]any{"session_id": id}, nil
	case "/2/files/upload_session/append_v2":
		cur, _ := call.Arg["cursor"].(map[string]any)
		id, _ := cur["session_id"].(string)
		off, _ := cur["offset"].(float64)
		data, ok := s.sessions[id]
		if !ok {
			return 0, nil, &apiErr{status: 409, summary: "not_found/", err: map[string]any{".tag": "not_found"}}
		}
		if int(off) != len(data) {
			return 0, nil, &apiErr{status: 409, summary: "incorrect_offset/",
				err: map[string]any{".tag": "incorrect_offset", "correct_offset": len(data)}}
		}
		s.sessions[id] = append(data, body...)
		return 0, nil, nil
	case "/2/files/upload_session/finish":
		cur, _ := call.Arg["cursor"].(map[string]any)
		id, _ := cur["session_id"].(string)
		off, _ := cur["offset"].(float64)
		data, ok := s.sessions[id]
		if !ok {
			return 0, nil, &apiErr{status: 409, summary: "lookup_failed/not_found/",
				err: map[string]any{".tag": "lookup_failed", "lookup_failed": map[string]any{".tag": "not_found"}}}
		}
		if int(off) != len(data) {
			return 0, nil, &apiErr{status: 409, summary: "lookup_failed/incorrect_offset/",
				err: map[string]any{".tag": "lookup_failed", "lookup_failed": map[string]any{".tag": "incorrect_offset", "correct_offset": len(data)}}}
		}
		commit, _ := call.Arg["commit"].(map[string]any)
		st, out, aerr := s.commit(commit, append(data, body...))
		if aerr == nil {
			delete(s.sessions, id)
		}
		return st, out, aerr
	}
	return 0, nil, &apiErr{status: 400, summary: "Unknown API function: " + r.URL.Path}
}

func (s *Server) list(p string, recursive bool, offset, limit int) (int, any, *apiErr) {
	parent := strings.ToLower(strings.TrimRight(p, "/"))
	if parent != "" {
		if _, ok := s.folders[parent]; !ok {
			return 0, nil, &apiErr{status: 409, summary: "path/not_found/", err: map[string]any{".tag": "path"}}
		}
	}
	type ent struct{ tag, display string }
	var all []ent
	under := func(lower string) bool {
		if !strings.HasPrefix(lower, parent+"/") {
			return false
		}
		return recursive || !strings.Contains(lower[len(parent)+1:], "/")
	}
	for k, d := range s.folders {
		if under(k) {
			all = append(all, ent{"folder", d})
		}
	}
	for k := range s.files {
		if under(k) {
			all = append(all, ent{"file", s.display[k]})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].display < all[j].display })
	if limit <= 0 {
		limit = 2000
	}
	end := min(offset+limit, len(all))
	if offset > len(all) {
		offset = end
	}
	entries := []map[string]any{}
	for _, e := range all[offset:end] {
		name := e.display[strings.LastIndex(e.display, "/")+1:]
		entries = append(entries, map[string]any{".tag": e.tag, "name": name, "path_display": e.display,
			"path_lower": strings.ToLower(e.display), "id": "id:" + strconv.Itoa(len(e.display))})
	}
	cur, _ := json.Marshal(map[string]any{"Path": p, "Recursive": recursive, "Offset": end, "Limit": limit})
	return 0, map[string]any{"entries": entries, "cursor": string(cur), "has_more": end < len(all)}, nil
}

func (s *Server) commit(arg map[string]any, data []byte) (int, any, *apiErr) {
	p, _ := arg["path"].(string)
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return 0, nil, &apiErr{status: 409, summary: "path/malformed_path/", err: map[string]any{".tag": "path"}}
	}
	lower := strings.ToLower(p)
	dir := lower[:strings.LastIndex(lower, "/")]
	if dir != "" {
		if _, ok := s.folders[dir]; !ok {
			// Dropbox creates missing parent folders on upload.
			parts := strings.Split(strings.Trim(p[:strings.LastIndex(p, "/")], "/"), "/")
			for i := range parts {
				d := "/" + strings.Join(parts[:i+1], "/")
				s.folders[strings.ToLower(d)] = d
			}
		}
	}
	mode, _ := arg["mode"].(string)
	if mode == "" {
		mode = "add"
	}
	if _, exists := s.files[lower]; exists && mode == "add" {
		return 0, nil, &apiErr{status: 409, summary: "path/conflict/file/..",
			err: map[string]any{".tag": "path", "reason": map[string]any{".tag": "conflict"}}}
	}
	s.files[lower] = append([]byte(nil), data...)
	s.display[lower] = p
	name := p[strings.LastIndex(p, "/")+1:]
	return 0, map[string]any{"name": name, "path_display": p, "path_lower": lower, "size": len(data),
		"id": fmt.Sprintf("id:%d", len(s.files))}, nil
}
