// Package twiliofake is an in-process fake of Twilio Programmable Messaging's Message
// resource, POST /2010-04-01/Accounts/{AccountSid}/Messages.json
// (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource),
// for tests of the twilio actions.
//
// It checks what Twilio checks: HTTP Basic auth with the account SID and auth token (401,
// error 20003, otherwise), the account in the path matching the one authenticated (404,
// error 20404), a form-encoded body, a To in E.164 form (400, error 21211), a From or a
// MessagingServiceSid, a non-empty Body (21602) of at most 1,600 characters (21617). It
// answers errors in Twilio's JSON shape {"code","message","more_info","status"} and
// records every accepted message.
//
// Numbers listed in Options.Refuse are answered with the given Twilio error code (21610
// unsubscribed, 21614 not a mobile number, ...). Faults (429 with Retry-After, 5xx,
// timeouts, drops) are injected with the embedded faults.Injector. The fake also measures
// the highest number of requests it was serving at once and when each request arrived, so
// tests can check the client's concurrency and rate limits.
package twiliofake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// MaxBodyChars is Twilio's limit on a message body (UTF-16 code units are what Twilio's
// libraries count; error 21617 above it).
// https://www.twilio.com/docs/api/errors/21617
const MaxBodyChars = 1600

var (
	pathRE = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Messages\.json$`)
	e164RE = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
)

// Options configure a Server.
type Options struct {
	// AccountSID and AuthToken are the accepted credentials. Required.
	AccountSID, AuthToken string
	// Refuse maps a To number to the Twilio error code it is refused with (status 400).
	Refuse map[string]int
	// Delay is added to every answer (to measure concurrency).
	Delay time.Duration
}

// Message is one accepted message.
type Message struct {
	SID, To, From, MessagingServiceSID, Body string
}

// Server is a running fake.
type Server struct {
	// URL is the base URL (pass it as ACTION_HUB_VENDOR_URL_TWILIO).
	URL string
	// Faults are injected into the message requests.
	Faults faults.Injector

	opts     Options
	srv      *httptest.Server
	requests atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64

	delay atomic.Int64

	mu       sync.Mutex
	messages []Message
	arrivals []time.Time
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.AccountSID == "" || opts.AuthToken == "" {
		t.Fatal("twiliofake: AccountSID and AuthToken are required")
	}
	s := &Server{opts: opts}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Messages returns the accepted messages in arrival order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Arrivals returns the arrival time of every request.
func (s *Server) Arrivals() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...)
}

// SetDelay changes the delay added to every answer (0: Options.Delay).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Requests is the number of requests received, faulted ones included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// MaxInFlight is the highest number of requests served at once.
func (s *Server) MaxInFlight() int64 { return s.maxIn.Load() }

func writeErr(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxIn.Load()
		if n <= m || s.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	s.arrivals = append(s.arrivals, time.Now())
	s.mu.Unlock()
	if d := time.Duration(s.delay.Load()); d > 0 {
		time.Sleep(d)
	} else if s.opts.Delay > 0 {
		time.Sleep(s.opts.Delay)
	}
	k := s.Faults.Next()
	if s.Faults.Before(w, r, k, func(status int) {
		if status == http.StatusTooManyRequests {
			writeErr(w, status, 20429, "Too Many Requests")
			return
		}
		writeErr(w, status, 20500, "Internal Server Error")
	}) {
		return
	}
	m := pathRE.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodPost {
		writeErr(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.opts.AccountSID || pass != s.opts.AuthToken {
		writeErr(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if m[1] != user {
		writeErr(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeErr(w, http.StatusBadRequest, 20001, "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeErr(w, http.StatusBadRequest, 20001, "bad form")
		return
	}
	msg := Message{To: r.PostForm.Get("To"), From: r.PostForm.Get("From"),
		MessagingServiceSID: r.PostForm.Get("MessagingServiceSid"), Body: r.PostForm.Get("Body")}
	switch {
	case msg.To == "":
		writeErr(w, 400, 21604, "A 'To' phone number is required.")
		return
	case !e164RE.MatchString(msg.To):
		writeErr(w, 400, 21211, fmt.Sprintf("Invalid 'To' Phone Number: %s", msg.To))
		return
	case msg.From == "" && msg.MessagingServiceSID == "":
		writeErr(w, 400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
		return
	case msg.Body == "":
		writeErr(w, 400, 21602, "Message body is required.")
		return
	case len(utf16.Encode([]rune(msg.Body))) > MaxBodyChars:
		writeErr(w, 400, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	if code, refused := s.opts.Refuse[msg.To]; refused {
		writeErr(w, 400, code, fmt.Sprintf("Message to %s refused", msg.To))
		return
	}
	s.mu.Lock()
	msg.SID = fmt.Sprintf("SM%032d", len(s.messages)+1)
	s.messages = append(s.messages, msg)
	s.mu.Unlock()
	if s.Faults.After(w, r, k) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": msg.SID, "account_sid": user, "to": msg.To,
		"from": msg.From, "body": msg.Body, "status": "queued", "num_segments": "1"})
}
