// Package gcsfake runs an in-process Google Cloud Storage for tests:
// github.com/fsouza/fake-gcs-server (JSON API, simple, multipart and resumable uploads)
// behind a middleware that counts requests, injects faults, and, when given a service
// account, requires the Bearer tokens of an OAuth token endpoint that checks the
// account's signed JWT assertions as Google's does. Clients talk to it through the real
// cloud.google.com/go/storage client.
package gcsfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// ServiceAccount is a service account key: what Google's console gives as client_email
// and private_key.
type ServiceAccount struct {
	Email string
	Key   *rsa.PrivateKey
	// PEM is the private key in PKCS #8 PEM form, as in a JSON key file.
	PEM string
}

// NewServiceAccount makes a service account with a fresh 2048-bit RSA key.
func NewServiceAccount(tb testing.TB, email string) *ServiceAccount {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatalf("gcsfake: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("gcsfake: %v", err)
	}
	return &ServiceAccount{Email: email, Key: key,
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))}
}

// Options configure a fake.
type Options struct {
	// Buckets are created at start.
	Buckets []string
	// Account, when set, is the only service account the token endpoint accepts, and the
	// storage API then requires one of the tokens it issued.
	Account *ServiceAccount
}

// Server is a running fake.
type Server struct {
	// URL is the storage endpoint base (ACTION_HUB_VENDOR_URL_GCS).
	URL string
	// TokenURL is the OAuth token endpoint (ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH_TOKEN).
	TokenURL string
	// GCS is the fake-gcs-server instance (objects, buckets).
	GCS *fakestorage.Server

	opt    Options
	mu     sync.Mutex
	tokens map[string]bool
	ops    map[string]int
	fails  map[string]int
	next   int
}

// New starts a fake that stops when the test ends.
func New(tb testing.TB, opt Options) *Server {
	tb.Helper()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	if err != nil {
		tb.Fatalf("gcsfake: %v", err)
	}
	tb.Cleanup(gcs.Stop)
	for _, b := range opt.Buckets {
		gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	s := &Server{GCS: gcs, opt: opt, tokens: map[string]bool{}, ops: map[string]int{}, fails: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	s.TokenURL = srv.URL + "/token"
	return s
}

// Op names a request: "token", "ListBuckets", "InsertObject" (a simple or multipart
// upload, or the start of a resumable one), "UploadChunk" (a request of a resumable
// upload session, which the Go client sends with POST), or the method and path.
func Op(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/token":
		return "token"
	case r.Method == http.MethodGet && strings.TrimSuffix(p, "/") == "/storage/v1/b":
		return "ListBuckets"
	case strings.HasPrefix(p, "/upload/") && r.URL.Query().Get("upload_id") != "":
		return "UploadChunk"
	case strings.HasPrefix(p, "/upload/") && r.Method == http.MethodPost:
		return "InsertObject"
	}
	return r.Method + " " + p
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op := Op(r)
	s.mu.Lock()
	s.ops[op]++
	fail := s.fails[op] > 0
	if fail {
		s.fails[op]--
	}
	s.mu.Unlock()
	if fail {
		io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusServiceUnavailable, "backendError", "We encountered an internal error. Please try again.")
		return
	}
	if op == "token" {
		s.token(w, r)
		return
	}
	if s.opt.Account != nil {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		valid := ok && s.tokens[tok]
		s.mu.Unlock()
		if !valid {
			writeError(w, http.StatusUnauthorized, "authError", "Invalid Credentials")
			return
		}
	}
	s.GCS.HTTPHandler().ServeHTTP(w, r)
}

// writeError answers in the JSON API's error shape.
func writeError(w http.ResponseWriter, status int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": status, "message": msg, "errors": []any{map[string]any{"message": msg, "domain": "global", "reason": reason}},
	}})
}

// token is the OAuth 2.0 JWT bearer grant (RFC 7523) of oauth2.googleapis.com/token: the
// assertion must be an RS256 JWT signed by the account's key, issued by its email.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		tokenError(w, "unsupported_grant_type", "Invalid grant_type.")
		return
	}
	if s.opt.Account == nil {
		tokenError(w, "invalid_grant", "No service account is configured in the fake.")
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		tokenError(w, "invalid_grant", "Invalid JWT.")
		return
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		tokenError(w, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.opt.Account.Key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		tokenError(w, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
	}
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(body, &claims) != nil || claims.Iss != s.opt.Account.Email {
		tokenError(w, "invalid_grant", "Invalid JWT: the issuer is not the service account.")
		return
	}
	if claims.Scope == "" {
		tokenError(w, "invalid_scope", "Empty or missing scope not allowed.")
		return
	}
	s.mu.Lock()
	s.next++
	tok := fmt.Sprintf("ya29.fake-%d", s.next)
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3599})
}

func tokenError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// Count returns how many requests of an operation (see Op) the fake received.
func (s *Server) Count(op string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.ops[op] }

// Fail makes the next n requests of an operation answer 503 backendError.
func (s *Server) Fail(op string, n int) { s.mu.Lock(); s.fails[op] += n; s.mu.Unlock() }

// Object returns an object's content and content type.
func (s *Server) Object(bucket, name string) ([]byte, string, error) {
	obj, err := s.GCS.GetObject(bucket, name)
	if err != nil {
		return nil, "", err
	}
	return obj.Content, obj.ContentType, nil
}

// Names lists a bucket's object names.
func (s *Server) Names(bucket string) ([]string, error) {
	resp, err := s.GCS.ListObjectsWithOptionsPaginated(bucket, fakestorage.ListOptions{})
	if err != nil {
		return nil, err
	}
	objs := resp.Objects
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	return names, nil
}
