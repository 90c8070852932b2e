// Package sendgrid is a fake of SendGrid's v3 Mail Send API (POST /v3/mail/send) for
// tests: it checks the Bearer API key, decodes and validates the message as SendGrid does
// (personalizations with recipients, from, subject, content, base64 attachments, the 30 MB
// total), records each accepted email with the key it was sent with, answers 202, and
// injects faults (429 with Retry-After, 503, stalls, dropped connections).
package sendgrid

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// MaxRequestBytes is SendGrid's total message limit, enforced by the fake on the request.
const MaxRequestBytes = 30_000_000

// Address is an email object.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Attachment is a received attachment; Data is decoded from base64.
type Attachment struct {
	Filename    string `json:"filename"`
	Type        string `json:"type"`
	Disposition string `json:"disposition"`
	Content     string `json:"content"`
	// Data is the decoded content (kept up to 1 MiB); Size and SHA256 cover all of it.
	Data   []byte `json:"-"`
	Size   int    `json:"-"`
	SHA256 string `json:"-"`
}

// Mail is an accepted email.
type Mail struct {
	// Key is the API key the request carried.
	Key              string `json:"-"`
	Personalizations []struct {
		To []Address `json:"to"`
	} `json:"personalizations"`
	From    Address `json:"from"`
	Subject string  `json:"subject"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	Attachments []Attachment `json:"attachments"`
	// RequestBytes is the size of the request body.
	RequestBytes int64 `json:"-"`
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	// Keys are the valid API keys.
	Keys map[string]bool
	// Faults injects failures before (or after) a request is accepted.
	Faults faults.Injector

	mu    sync.Mutex
	mails []Mail
	calls int
}

// New starts a fake accepting keys; it stops when the test ends. Point the action at it
// with ACTION_HUB_VENDOR_URL_SENDGRID=<URL>.
func New(t testing.TB, keys ...string) *Server {
	s := &Server{Keys: map[string]bool{}}
	for _, k := range keys {
		s.Keys[k] = true
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Mails returns the accepted emails.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Calls returns the number of requests received.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	type e struct {
		Message string `json:"message"`
		Field   any    `json:"field"`
		Help    any    `json:"help"`
	}
	var out struct {
		Errors []e `json:"errors"`
	}
	for _, m := range msgs {
		field, text, ok := strings.Cut(m, "|")
		if !ok {
			out.Errors = append(out.Errors, e{Message: m})
		} else {
			out.Errors = append(out.Errors, e{Message: text, Field: field})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(out)
}

type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		writeErrors(w, http.StatusNotFound, "not found")
		return
	}
	k := s.Faults.Next()
	if s.Faults.Before(w, r, k, func(status int) { writeErrors(w, status, "injected fault") }) {
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.Keys[key] {
		writeErrors(w, http.StatusUnauthorized, "The provided authorization grant is invalid, expired, or revoked")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeErrors(w, http.StatusUnsupportedMediaType, "Content-Type should be application/json.")
		return
	}
	if r.ContentLength > MaxRequestBytes {
		writeErrors(w, http.StatusRequestEntityTooLarge, "The total size of your email, including attachments, must be less than 30MB.")
		return
	}
	c := &counter{r: io.LimitReader(r.Body, MaxRequestBytes+1)}
	var m Mail
	if err := json.NewDecoder(c).Decode(&m); err != nil {
		writeErrors(w, http.StatusBadRequest, "Bad Request: "+err.Error())
		return
	}
	io.Copy(io.Discard, c)
	if c.n > MaxRequestBytes {
		writeErrors(w, http.StatusRequestEntityTooLarge, "The total size of your email, including attachments, must be less than 30MB.")
		return
	}
	m.Key, m.RequestBytes = key, c.n
	var problems []string
	if len(m.Personalizations) == 0 || len(m.Personalizations[0].To) == 0 {
		problems = append(problems, "personalizations.0.to|The to array is required for all personalization objects, and must have at least one email object with a valid email address.")
	}
	seen := map[string]bool{}
	for _, p := range m.Personalizations {
		for _, a := range p.To {
			if !strings.Contains(a.Email, "@") {
				problems = append(problems, "personalizations.0.to.0.email|Does not contain a valid address.")
			}
			if seen[strings.ToLower(a.Email)] {
				problems = append(problems, "personalizations.0.to|Each email address in the personalization block should be unique between to, cc, and bcc.")
			}
			seen[strings.ToLower(a.Email)] = true
		}
	}
	if !strings.Contains(m.From.Email, "@") {
		problems = append(problems, "from.email|The from email does not contain a valid address.")
	}
	if m.Subject == "" {
		problems = append(problems, "subject|The subject is required.")
	}
	if len(m.Content) == 0 || m.Content[0].Type != "text/plain" {
		problems = append(problems, "content|The text/plain content type must be first.")
	}
	for i := range m.Attachments {
		a := &m.Attachments[i]
		data, err := base64.StdEncoding.DecodeString(a.Content)
		if err != nil {
			problems = append(problems, fmt.Sprintf("attachments.%d.content|The attachment content must be base64 encoded.", i))
			continue
		}
		sum := sha256.Sum256(data)
		a.Size, a.SHA256 = len(data), hex.EncodeToString(sum[:])
		if len(data) > 1<<20 {
			data = data[:1<<20]
		}
		a.Data, a.Content = data, ""
		if a.Filename == "" {
			problems = append(problems, fmt.Sprintf("attachments.%d.filename|The attachment filename parameter is required.", i))
		}
	}
	if len(problems) > 0 {
		writeErrors(w, http.StatusBadRequest, problems...)
		return
	}
	s.mu.Lock()
	s.mails = append(s.mails, m)
	s.mu.Unlock()
	if s.Faults.After(w, r, k) {
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
