// Package fcmfake is an in-process fake of Firebase Cloud Messaging's HTTP v1 API,
// POST /v1/projects/{project_id}/messages:send
// (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send), and of
// Google's OAuth 2.0 token endpoint for service accounts (the JWT bearer grant,
// https://developers.google.com/identity/protocols/oauth2/service-account#httprest), for
// tests of the firebase action.
//
// The token endpoint verifies the assertion's RS256 signature with the service account's
// public key, its issuer, audience and the firebase.messaging scope, and hands out an
// access token. The send endpoint checks that token, the project, and the message: a
// token, string-only data values, a notification title. Registration tokens listed in
// Options.Unregistered get 404 UNREGISTERED and those in Options.Invalid 400
// INVALID_ARGUMENT, in FCM's error shape. Faults from the embedded injector apply to
// sends.
package fcmfake

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// Scope is the OAuth scope FCM sends need.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// Options configure a Server.
type Options struct {
	ProjectID, ClientEmail string
	// PublicKey verifies the service account's assertions.
	PublicKey *rsa.PublicKey
	// Unregistered and Invalid are registration tokens FCM refuses.
	Unregistered, Invalid []string
}

// Message is one accepted message (the "message" object), decoded.
type Message map[string]any

// Server is a running fake.
type Server struct {
	// URL is the base URL of both endpoints: pass it as ACTION_HUB_VENDOR_URL_FCM, and
	// URL+"/token" as ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH_TOKEN.
	URL string
	// Faults are injected into sends.
	Faults faults.Injector

	opts       Options
	srv        *httptest.Server
	tokens     atomic.Int64
	sends      atomic.Int64
	inFlight   atomic.Int64
	maxIn      atomic.Int64
	mu         sync.Mutex
	messages   []Message
	accessToks map[string]bool
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, accessToks: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Messages returns the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// TokensIssued is the number of access tokens handed out.
func (s *Server) TokensIssued() int64 { return s.tokens.Load() }

// Sends is the number of send requests, faulted ones included.
func (s *Server) Sends() int64 { return s.sends.Load() }

// MaxInFlight is the highest number of sends served at once.
func (s *Server) MaxInFlight() int64 { return s.maxIn.Load() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.token(w, r)
		return
	}
	s.send(w, r)
}

func oauthErr(w http.ResponseWriter, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(400)
	json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		oauthErr(w, "bad request")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthErr(w, "unsupported grant type")
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		oauthErr(w, "malformed assertion")
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || s.opts.PublicKey == nil || rsa.VerifyPKCS1v15(s.opts.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		oauthErr(w, "Invalid JWT Signature.")
		return
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss, Scope, Aud string
		Exp, Iat        int64
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Iss != s.opts.ClientEmail ||
		!strings.Contains(" "+claims.Scope+" ", " "+Scope+" ") || claims.Aud != "http://"+r.Host+"/token" ||
		claims.Exp < time.Now().Unix() {
		oauthErr(w, "Invalid JWT claims.")
		return
	}
	n := s.tokens.Add(1)
	tok := fmt.Sprintf("ya29.fake-access-token-%d", n)
	s.mu.Lock()
	s.accessToks[tok] = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func fcmErr(w http.ResponseWriter, status int, st, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	e := map[string]any{"code": status, "message": msg, "status": st}
	if code != "" {
		e["details"] = []any{map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}}
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	s.sends.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxIn.Load(); n > m && !s.maxIn.CompareAndSwap(m, n); m = s.maxIn.Load() {
	}
	time.Sleep(2 * time.Millisecond)
	k := s.Faults.Next()
	if s.Faults.Before(w, r, k, func(status int) {
		st := "UNAVAILABLE"
		if status == 429 {
			st = "RESOURCE_EXHAUSTED"
		}
		fcmErr(w, status, st, st, "fault")
	}) {
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/"+s.opts.ProjectID+"/messages:send" {
		fcmErr(w, 404, "NOT_FOUND", "", "Requested entity was not found.")
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	ok := s.accessToks[tok]
	s.mu.Unlock()
	if !ok {
		fcmErr(w, 401, "UNAUTHENTICATED", "", "Request had invalid authentication credentials.")
		return
	}
	var body struct {
		Message Message `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Message == nil {
		fcmErr(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	m := body.Message
	token, _ := m["token"].(string)
	if token == "" {
		fcmErr(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Recipient of the message is not set.")
		return
	}
	if d, ok := m["data"].(map[string]any); ok {
		for k, v := range d {
			if _, str := v.(string); !str {
				fcmErr(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
					fmt.Sprintf("Invalid value at 'message.data[%s].value' (TYPE_STRING)", k))
				return
			}
		}
	}
	if nt, _ := m["notification"].(map[string]any); nt == nil || nt["title"] == "" {
		fcmErr(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "notification title required")
		return
	}
	for _, u := range s.opts.Unregistered {
		if u == token {
			fcmErr(w, 404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
			return
		}
	}
	for _, u := range s.opts.Invalid {
		if u == token {
			fcmErr(w, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
			return
		}
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	id := len(s.messages)
	s.mu.Unlock()
	if s.Faults.After(w, r, k) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"name": fmt.Sprintf("projects/%s/messages/0:%d", s.opts.ProjectID, id)})
}
