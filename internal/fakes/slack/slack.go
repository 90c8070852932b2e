// Package slack is a fake of the Slack Web API methods the slack and slack_app actions
// use, written from Slack's API documentation: auth.test, conversations.list and
// users.list (cursor pagination), conversations.open, chat.postMessage and the external
// upload trio (files.getUploadURLExternal, the POST of the bytes to the returned
// upload_url, files.completeUploadExternal). It checks the token of every call (form
// field "token" or "Authorization: Bearer"), keeps one workspace per token, records what
// was posted and shared, and injects faults per method (429 with Retry-After, 5xx,
// stalls, dropped connections).
//
// slack-go's slacktest server was not used: it has none of the list, upload or auth checks
// these tests need.
package slack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// MaxPageSize is the largest limit the fake accepts, as Slack's conversations.list
// ("Must be an integer under 1000").
const MaxPageSize = 999

// Channel is a conversation of a workspace.
type Channel struct {
	ID, Name string
	Archived bool
	Private  bool
}

// User is a member of a workspace.
type User struct {
	ID, Name                                  string
	Bot, Deleted, Restricted, UltraRestricted bool
}

// Workspace is what a token sees.
type Workspace struct {
	TeamID, Team string
	Channels     []Channel
	Users        []User
	// NoIMWrite makes conversations.open fail with missing_scope (a token without im:write).
	NoIMWrite bool
}

// Upload is a file uploaded through the external upload flow.
type Upload struct {
	FileID   string
	Filename string
	// Length is the length declared to files.getUploadURLExternal.
	Length int64
	// Data is the first MiB received; Size and SHA256 cover all of it.
	Data     []byte
	Size     int64
	SHA256   string
	Uploaded bool
}

// Share is a completed upload shared to a conversation.
type Share struct {
	FileID, Title, Channel, InitialComment string
	Upload                                 Upload
}

// Message is a posted message.
type Message struct {
	Channel, Text, TS string
}

// Call is one API call.
type Call struct {
	Method string
	Token  string
	Form   map[string]string
	// Fault is the fault injected into the call.
	Fault faults.Kind
}

// Server is a running fake.
type Server struct {
	*httptest.Server

	mu         sync.Mutex
	workspaces map[string]*Workspace
	faults     map[string]*faults.Injector
	uploads    map[string]*Upload
	shares     []Share
	messages   []Message
	calls      []Call
	seq        int
}

// New starts a fake with workspaces keyed by token; it stops when the test ends. Point
// the actions at it with ACTION_HUB_VENDOR_URL_SLACK=<URL>/api.
func New(t testing.TB, workspaces map[string]*Workspace) *Server {
	s := &Server{workspaces: workspaces, faults: map[string]*faults.Injector{}, uploads: map[string]*Upload{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// APIURL is the base URL of the fake's Web API.
func (s *Server) APIURL() string { return s.URL + "/api" }

// Faults returns the fault injector of a method ("chat.postMessage", "upload" for the
// byte upload).
func (s *Server) Faults(method string) *faults.Injector {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.faults[method]
	if in == nil {
		in = &faults.Injector{}
		s.faults[method] = in
	}
	return in
}

// Shares returns the completed uploads.
func (s *Server) Shares() []Share {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Share(nil), s.shares...)
}

// Messages returns the posted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Calls returns every call received, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Methods returns the methods called, in order.
func (s *Server) Methods() []string {
	var out []string
	for _, c := range s.Calls() {
		out = append(out, c.Method)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
}

func (s *Server) injector(method string) *faults.Injector { return s.Faults(method) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/upload/") {
		s.serveUpload(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(w, "invalid_form_data")
		return
	}
	token := r.PostForm.Get("token")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = b
	}
	form := map[string]string{}
	for k := range r.PostForm {
		if k != "token" {
			form[k] = r.PostForm.Get(k)
		}
	}
	in := s.injector(method)
	k := in.Next()
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Token: token, Form: form, Fault: k})
	ws := s.workspaces[token]
	s.mu.Unlock()
	if in.Before(w, r, k, func(status int) {
		if status == http.StatusTooManyRequests {
			writeJSON(w, status, map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		io.WriteString(w, "<html><body>Slack is having trouble</body></html>")
	}) {
		return
	}
	if token == "" {
		fail(w, "not_authed")
		return
	}
	if ws == nil {
		fail(w, "invalid_auth")
		return
	}
	var out map[string]any
	var code string
	switch method {
	case "auth.test":
		out = map[string]any{"url": "https://" + ws.Team + ".slack.com/", "team": ws.Team, "user": "looker", "team_id": ws.TeamID, "user_id": "UBOT"}
	case "conversations.list":
		out, code = s.conversationsList(ws, form)
	case "users.list":
		out, code = s.usersList(ws, form)
	case "conversations.open":
		out, code = s.conversationsOpen(ws, form)
	case "chat.postMessage":
		out, code = s.postMessage(ws, form)
	case "files.getUploadURLExternal":
		out, code = s.getUploadURL(form)
	case "files.completeUploadExternal":
		out, code = s.completeUpload(ws, form)
	default:
		code = "unknown_method"
	}
	if code != "" {
		fail(w, code)
		return
	}
	if in.After(w, r, k) {
		return
	}
	out["ok"] = true
	writeJSON(w, http.StatusOK, out)
}

// page cuts a list by the cursor (an offset) and limit.
func page(n int, form map[string]string) (start, end int, next string, code string) {
	limit := 100
	if v := form["limit"]; v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > MaxPageSize {
			return 0, 0, "", "invalid_limit"
		}
		limit = l
	}
	if c := form["cursor"]; c != "" {
		off, err := strconv.Atoi(strings.TrimPrefix(c, "cur_"))
		if err != nil || off < 0 || off > n {
			return 0, 0, "", "invalid_cursor"
		}
		start = off
	}
	end = min(n, start+limit)
	if end < n {
		next = fmt.Sprintf("cur_%d", end)
	}
	return start, end, next, ""
}

func (s *Server) conversationsList(ws *Workspace, form map[string]string) (map[string]any, string) {
	var list []Channel
	types := form["types"]
	if types == "" {
		types = "public_channel"
	}
	for _, c := range ws.Channels {
		if c.Archived && form["exclude_archived"] == "true" {
			continue
		}
		if c.Private && !strings.Contains(types, "private_channel") || !c.Private && !strings.Contains(types, "public_channel") {
			continue
		}
		list = append(list, c)
	}
	start, end, next, code := page(len(list), form)
	if code != "" {
		return nil, code
	}
	var out []map[string]any
	for _, c := range list[start:end] {
		out = append(out, map[string]any{"id": c.ID, "name": c.Name, "is_channel": true, "is_archived": c.Archived, "is_private": c.Private})
	}
	return map[string]any{"channels": out, "response_metadata": map[string]any{"next_cursor": next}}, ""
}

func (s *Server) usersList(ws *Workspace, form map[string]string) (map[string]any, string) {
	start, end, next, code := page(len(ws.Users), form)
	if code != "" {
		return nil, code
	}
	var out []map[string]any
	for _, u := range ws.Users[start:end] {
		out = append(out, map[string]any{"id": u.ID, "name": u.Name, "is_bot": u.Bot, "deleted": u.Deleted,
			"is_restricted": u.Restricted, "is_ultra_restricted": u.UltraRestricted})
	}
	return map[string]any{"members": out, "response_metadata": map[string]any{"next_cursor": next}}, ""
}

func (ws *Workspace) user(id string) bool {
	for _, u := range ws.Users {
		if u.ID == id {
			return true
		}
	}
	return false
}

// resolve returns the conversation a channel argument names: a channel ID, a user ID
// (its DM) or a DM ID.
func (ws *Workspace) resolve(id string) (string, bool) {
	for _, c := range ws.Channels {
		if c.ID == id && !c.Archived {
			return id, true
		}
	}
	if ws.user(id) {
		return "D" + id, true
	}
	if u, ok := strings.CutPrefix(id, "D"); ok && ws.user(u) {
		return id, true
	}
	return "", false
}

func (s *Server) conversationsOpen(ws *Workspace, form map[string]string) (map[string]any, string) {
	if ws.NoIMWrite {
		return nil, "missing_scope"
	}
	if !ws.user(form["users"]) {
		return nil, "user_not_found"
	}
	return map[string]any{"channel": map[string]any{"id": "D" + form["users"]}}, ""
}

func (s *Server) postMessage(ws *Workspace, form map[string]string) (map[string]any, string) {
	ch, ok := ws.resolve(form["channel"])
	if !ok {
		return nil, "channel_not_found"
	}
	if form["text"] == "" && form["blocks"] == "" && form["attachments"] == "" {
		return nil, "no_text"
	}
	s.mu.Lock()
	s.seq++
	ts := fmt.Sprintf("1700000000.%06d", s.seq)
	s.messages = append(s.messages, Message{Channel: ch, Text: form["text"], TS: ts})
	s.mu.Unlock()
	return map[string]any{"channel": ch, "ts": ts, "message": map[string]any{"text": form["text"], "ts": ts}}, ""
}

func (s *Server) getUploadURL(form map[string]string) (map[string]any, string) {
	n, err := strconv.ParseInt(form["length"], 10, 64)
	if form["filename"] == "" || err != nil || n < 1 {
		return nil, "invalid_arguments"
	}
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("F%07d", s.seq)
	s.uploads[id] = &Upload{FileID: id, Filename: form["filename"], Length: n}
	s.mu.Unlock()
	return map[string]any{"upload_url": s.URL + "/upload/v1/" + id, "file_id": id}, ""
}

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/v1/")
	in := s.injector("upload")
	k := in.Next()
	s.mu.Lock()
	up := s.uploads[id]
	ok := false
	if b, has := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); has {
		ok = s.workspaces[b] != nil
	}
	s.calls = append(s.calls, Call{Method: "upload", Form: map[string]string{"file_id": id}, Fault: k})
	s.mu.Unlock()
	if in.Before(w, r, k, func(status int) { w.WriteHeader(status) }) {
		return
	}
	if up == nil || !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	// slack-go sends multipart/form-data with the bytes in the "file" part; a raw body is
	// accepted too.
	var body io.Reader = r.Body
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				http.Error(w, "no file part", http.StatusBadRequest)
				return
			}
			if p.FormName() == "file" {
				body = p
				break
			}
		}
	}
	h := sha256.New()
	var kept bytes.Buffer
	n, err := io.Copy(h, io.TeeReader(body, &capWriter{&kept, 1 << 20}))
	if err != nil {
		return
	}
	if n != up.Length {
		http.Error(w, fmt.Sprintf("length %d does not match the %d declared", n, up.Length), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	up.Data, up.Size, up.SHA256, up.Uploaded = kept.Bytes(), n, hex.EncodeToString(h.Sum(nil)), true
	s.mu.Unlock()
	if in.After(w, r, k) {
		return
	}
	fmt.Fprintf(w, "OK - %d", n)
}

type capWriter struct {
	b *bytes.Buffer
	n int
}

func (c *capWriter) Write(p []byte) (int, error) {
	if room := c.n - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (s *Server) completeUpload(ws *Workspace, form map[string]string) (map[string]any, string) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(form["files"]), &files); err != nil || len(files) != 1 {
		return nil, "invalid_arguments"
	}
	ch := form["channel_id"]
	if ch == "" {
		ch = form["channels"]
	}
	// Files are shared to conversations: a user ID is not one.
	if strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "W") {
		return nil, "invalid_channel"
	}
	resolved, ok := ws.resolve(ch)
	if !ok {
		return nil, "channel_not_found"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	up := s.uploads[files[0].ID]
	if up == nil || !up.Uploaded {
		return nil, "file_not_found"
	}
	s.shares = append(s.shares, Share{FileID: up.FileID, Title: files[0].Title, Channel: resolved,
		InitialComment: form["initial_comment"], Upload: *up})
	return map[string]any{"files": []map[string]any{{"id": up.FileID, "title": files[0].Title}}}, ""
}
