// Package googlefake is an httptest server for the Google actions, written from Google's
// API references: the OAuth 2.0 authorization and token endpoints
// (https://developers.google.com/identity/protocols/oauth2/web-server), the userinfo
// endpoint, Drive v3 drives.list, files.list and resumable uploads
// (https://developers.google.com/drive/api/guides/manage-uploads#resumable), and Sheets v4
// spreadsheets.get and batchUpdate with pasteData, updateCells and updateSheetProperties
// (https://developers.google.com/sheets/api/reference/rest).
//
// It checks what Google checks (Bearer tokens and their expiry, client credentials, codes
// used once, Content-Range offsets and 256 KiB chunk multiples, query syntax, grid limits
// and the 10-million-cell cap, atomic batchUpdate) and records calls. Drive converts an
// uploaded CSV into a spreadsheet when the metadata asks for the Sheets type.
package googlefake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/fakeserver"
	"github.com/actionhub/actionhub/internal/fakes/oauthfake"
)

// Limits the fake enforces.
const (
	// ChunkMultiple is the resumable-upload chunk granularity.
	ChunkMultiple = 256 << 10
	// CellLimit is the cells a spreadsheet may hold.
	CellLimit = 10_000_000
)

// Call is one recorded request.
type Call struct {
	// Kind names the endpoint: "token", "userinfo", "drives.list", "files.list",
	// "upload.start", "upload.chunk", "upload.cancel", "sheets.get", "sheets.batchUpdate".
	Kind   string
	Method string
	URL    string
	Auth   string
	// Header holds Content-Range (uploads) and X-Upload-Content-Type.
	Header http.Header
	// Body is the JSON body for JSON calls (nil for uploads).
	Body   map[string]any
	Size   int
	Status int
}

// Server is a running fake.
type Server struct {
	URL                    string
	ClientID, ClientSecret string
	// Email is the address of new logins; Verified says whether Google verified it.
	Email    string
	TokenTTL time.Duration
	// NoRefreshToken makes the token endpoint omit refresh_token (a re-consent without prompt).
	NoRefreshToken bool

	srv      *httptest.Server
	mu       sync.Mutex
	tokens   oauthfake.Tokens
	drives   []drive
	files    map[string]*File
	order    []string
	sessions map[string]*session
	sheets   map[string]*Spreadsheet
	calls    []Call
	failNext fakeserver.Statuses // by call kind
	failLate fakeserver.Statuses
}

type drive struct{ ID, Name string }

// File is a stored Drive file.
type File struct {
	ID       string
	Name     string
	MimeType string
	Parents  []string
	DriveID  string
	Content  []byte
	Trashed  bool
}

// New starts a fake, closed at the end of the test.
func New(t testing.TB, clientID, clientSecret string) *Server {
	s := &Server{ClientID: clientID, ClientSecret: clientSecret, Email: "user@example.com", TokenTTL: time.Hour,
		files: map[string]*File{}, sessions: map[string]*session{}, sheets: map[string]*Spreadsheet{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Env returns the hub variables that point the Google actions at this fake.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"GOOGLE_DRIVE_CLIENT_ID": s.ClientID, "GOOGLE_DRIVE_CLIENT_SECRET": s.ClientSecret,
		"GOOGLE_SHEET_CLIENT_ID": s.ClientID, "GOOGLE_SHEET_CLIENT_SECRET": s.ClientSecret,
		"ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH": s.URL, "ACTION_HUB_VENDOR_URL_GOOGLE_DRIVE": s.URL,
		"ACTION_HUB_VENDOR_URL_GOOGLE_USERINFO": s.URL, "ACTION_HUB_VENDOR_URL_GOOGLE_SHEETS": s.URL,
	}
}

func randID(prefix string) string { return oauthfake.NewID(prefix, 10) }

// IssueTokens returns tokens of a login by email with the given scopes, as googleapis
// stores them (access_token, refresh_token, scope, token_type, expiry_date in ms).
func (s *Server) IssueTokens(email, scope string) map[string]any {
	a, r := randID("ya29."), randID("1//")
	exp := time.Now().Add(s.TokenTTL)
	s.tokens.AddAccess(a, exp, oauthfake.Login{Email: email, Scope: scope})
	s.tokens.AddRefresh(r, oauthfake.Login{Email: email, Scope: scope})
	return map[string]any{"access_token": a, "refresh_token": r, "scope": scope, "token_type": "Bearer",
		"expiry_date": float64(exp.UnixMilli())}
}

// IssueCode returns an authorization code for redirectURI, as the consent page does.
func (s *Server) IssueCode(redirectURI, scope string) string {
	c := randID("4/0A")
	s.tokens.AddCode(c, redirectURI, oauthfake.Login{Scope: scope})
	return c
}

// ExpireAccessTokens makes every issued access token expired (Google answers 401).
func (s *Server) ExpireAccessTokens() {
	s.tokens.ExpireAccess()
}

// RevokeRefreshTokens makes every refresh token invalid (invalid_grant).
func (s *Server) RevokeRefreshTokens() {
	s.tokens.RevokeRefresh()
}

// AddSharedDrive adds a shared drive.
func (s *Server) AddSharedDrive(id, name string) {
	s.mu.Lock()
	s.drives = append(s.drives, drive{id, name})
	s.mu.Unlock()
}

// AddFolder adds a folder; parent "" is My Drive's root, else a folder or shared drive id.
func (s *Server) AddFolder(id, name, parent string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addFile(&File{ID: id, Name: name, MimeType: "application/vnd.google-apps.folder", Parents: []string{s.parentOrRoot(parent)},
		DriveID: s.driveOf(parent)})
}

func (s *Server) parentOrRoot(p string) string {
	if p == "" {
		return "root"
	}
	return p
}

func (s *Server) driveOf(parent string) string {
	for _, d := range s.drives {
		if d.ID == parent {
			return d.ID
		}
	}
	if f, ok := s.files[parent]; ok {
		return f.DriveID
	}
	return ""
}

func (s *Server) addFile(f *File) {
	s.files[f.ID] = f
	s.order = append(s.order, f.ID)
}

// FailNext makes the next calls of kind answer the statuses without doing anything.
func (s *Server) FailNext(kind string, statuses ...int) {
	s.failNext.Push(kind, statuses...)
}

// FailAfter makes the next calls of kind do their work, then answer the statuses (a
// lost response).
func (s *Server) FailAfter(kind string, statuses ...int) {
	s.failLate.Push(kind, statuses...)
}

// Files returns the stored files that are not folders, in creation order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for _, id := range s.order {
		if f := s.files[id]; f != nil && f.MimeType != "application/vnd.google-apps.folder" {
			out = append(out, *f)
		}
	}
	return out
}

// OpenSessions is the number of resumable sessions neither finished nor cancelled.
func (s *Server) OpenSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Calls returns the recorded calls of kind ("" for all).
func (s *Server) Calls(kind string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if kind == "" || c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// AuthorizeRequests returns the query strings the consent page received.
func (s *Server) AuthorizeRequests() []url.Values {
	return s.tokens.AuthorizeRequests()
}

// gErr is a Google JSON error.
type gErr struct {
	code    int
	message string
	reason  string
}

func (e *gErr) write(w http.ResponseWriter) {
	status := map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
		409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[e.code]
	writeJSON(w, e.code, map[string]any{"error": map[string]any{"code": e.code, "message": e.message, "status": status,
		"errors": []map[string]any{{"message": e.message, "domain": "global", "reason": e.reason}}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fault pops an injected failure for kind (FailNext), 0 if none.
func (s *Server) fault(kind string) int { return s.failNext.Pop(kind) }

// lateFault pops an injected failure after the work for kind (FailAfter), 0 if none.
func (s *Server) lateFault(kind string) int { return s.failLate.Pop(kind) }

func (s *Server) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

// authorize checks the Bearer token; it returns the login's e-mail and scopes.
func (s *Server) authorize(r *http.Request) (oauthfake.Login, *gErr) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	info, expires, known := s.tokens.Access(tok)
	if !ok || !known || time.Now().After(expires) {
		return info, &gErr{401, "Request had invalid authentication credentials. Expected OAuth 2 access token.", "authError"}
	}
	return info, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/o/oauth2/auth":
		s.consent(w, r)
	case p == "/token":
		s.token(w, r)
	case p == "/oauth2/v2/userinfo":
		s.userinfo(w, r)
	case p == "/drive/v3/drives" && r.Method == http.MethodGet:
		s.listDrives(w, r)
	case p == "/drive/v3/files" && r.Method == http.MethodGet:
		s.listFiles(w, r)
	case p == "/upload/drive/v3/files":
		s.upload(w, r)
	case strings.HasPrefix(p, "/v4/spreadsheets/"):
		s.spreadsheets(w, r)
	default:
		(&gErr{404, "Not Found: " + p, "notFound"}).write(w)
	}
}

func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	s.tokens.Authorize(w, r, oauthfake.Page{ClientID: s.ClientID, Refusal: "Error 400: invalid_request", Echo: []string{"scope"},
		Issue: func(q url.Values) string { return s.IssueCode(q.Get("redirect_uri"), q.Get("scope")) }})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	status, body := s.tokenResult(r)
	s.record(Call{Kind: "token", Method: r.Method, URL: r.URL.String(), Status: status})
	writeJSON(w, status, body)
}

func (s *Server) tokenResult(r *http.Request) (int, any) {
	oerr := func(status int, code, desc string) (int, any) {
		return status, oauthfake.Error(code, desc)
	}
	if st := s.fault("token"); st != 0 {
		return oerr(st, "internal_failure", "injected")
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		return oerr(400, "invalid_request", "bad request")
	}
	if r.PostForm.Get("client_id") != s.ClientID || r.PostForm.Get("client_secret") != s.ClientSecret {
		return oerr(401, "invalid_client", "The OAuth client was not found.")
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		redirect, granted, ok := s.tokens.RedeemCode(r.PostForm.Get("code"))
		if !ok {
			return oerr(400, "invalid_grant", "Malformed auth code.")
		}
		if redirect != r.PostForm.Get("redirect_uri") {
			return oerr(400, "redirect_uri_mismatch", "Bad Request")
		}
		login := oauthfake.Login{Email: s.Email, Scope: granted.Scope}
		a := randID("ya29.")
		s.tokens.AddAccess(a, time.Now().Add(s.TokenTTL), login)
		out := map[string]any{"access_token": a, "expires_in": int(s.TokenTTL.Seconds()), "scope": login.Scope, "token_type": "Bearer"}
		if !s.NoRefreshToken {
			rt := randID("1//")
			s.tokens.AddRefresh(rt, login)
			out["refresh_token"] = rt
		}
		return 200, out
	case "refresh_token":
		login, ok := s.tokens.Refresh(r.PostForm.Get("refresh_token"))
		if !ok {
			return oerr(400, "invalid_grant", "Token has been expired or revoked.")
		}
		a := randID("ya29.")
		s.tokens.AddAccess(a, time.Now().Add(s.TokenTTL), login)
		return 200, map[string]any{"access_token": a, "expires_in": int(s.TokenTTL.Seconds()), "scope": login.Scope, "token_type": "Bearer"}
	}
	return oerr(400, "unsupported_grant_type", "Invalid grant_type")
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	call := Call{Kind: "userinfo", Method: r.Method, URL: r.URL.String(), Auth: r.Header.Get("Authorization")}
	info, err := s.authorize(r)
	if err == nil && !strings.Contains(info.Scope, "userinfo.email") {
		err = &gErr{403, "Request had insufficient authentication scopes.", "insufficientPermissions"}
	}
	if err != nil {
		call.Status = err.code
		s.record(call)
		err.write(w)
		return
	}
	call.Status = 200
	s.record(call)
	writeJSON(w, 200, map[string]any{"id": "1", "email": info.Email, "verified_email": true})
}
