// Package actiontest runs the real Action API server in tests: an httptest server with a known
// secret and cipher key, helpers that call it as Looker does, and one-time download URLs
// served like Looker's.
package actiontest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/server"
)

// Secret and CipherMaster are the fixed test credentials.
const (
	Secret       = "actiontest-secret"
	CipherMaster = "281243e09385f19773569e4d99d306065efb0cf0f6e3ca4c705571c173722c99"
	// LookerVersion is the version in the User-Agent of every helper call.
	LookerVersion = "24.18.0"
)

// Options configure a test hub.
type Options struct {
	// Env are environment variables the hub and its actions see (nothing else is read).
	Env map[string]string
	// Actions to serve; nil serves every registered module.
	Actions []sdk.Module
	// Logger; nil discards logs (set one to assert on log lines).
	Logger *slog.Logger
	// HTTPClient used by actions; nil = default.
	HTTPClient *http.Client
}

// Hub is a running test hub.
type Hub struct {
	URL    string
	Key    string
	Server *server.Server
	HTTP   *httptest.Server
}

// New starts a hub; it stops when the test ends.
func New(t testing.TB, opt Options) *Hub {
	t.Helper()
	env := map[string]string{"ACTION_HUB_LABEL": "Test Hub", "ACTION_HUB_SECRET": Secret, "CIPHER_MASTER": CipherMaster}
	for k, v := range opt.Env {
		env[k] = v
	}
	h := &Hub{Key: server.APIKey(Secret, "actiontest-nonce")}
	hs := httptest.NewUnstartedServer(nil)
	h.URL = "http://" + hs.Listener.Addr().String()
	if env["ACTION_HUB_BASE_URL"] == "" {
		env["ACTION_HUB_BASE_URL"] = h.URL
	}
	cfg, err := server.LoadConfig(func(k string) string { return env[k] }, server.Production)
	if err != nil {
		t.Fatalf("actiontest: config: %v", err)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := server.New(cfg, server.Options{Logger: log, Modules: opt.Actions, HTTPClient: opt.HTTPClient})
	if err != nil {
		t.Fatalf("actiontest: server: %v", err)
	}
	h.Server = srv
	hs.Config.Handler = srv
	hs.Start()
	h.HTTP = hs
	t.Cleanup(hs.Close)
	return h
}

// Result is a raw reply.
type Result struct {
	Status int
	Header http.Header
	Body   []byte
}

// ExecuteResult is an execute reply with the decoded envelope.
type ExecuteResult struct {
	Result
	Looker Envelope
}

// Envelope is the "looker" object of an execute reply.
type Envelope struct {
	Success          bool              `json:"success"`
	Message          string            `json:"message"`
	RefreshQuery     bool              `json:"refresh_query"`
	ValidationErrors map[string]string `json:"validation_errors"`
	State            *sdk.State        `json:"state"`
	Error            *sdk.ErrorInfo    `json:"error"`
	WebhookID        string            `json:"webhookId"`
}

// FormResult is a form reply.
type FormResult struct {
	Result
	Fields []sdk.Field
	State  *sdk.State
	Error  string
}

// Do sends a request with Looker's headers and the API key.
func (h *Hub) Do(t testing.TB, method, path string, body any) Result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatalf("actiontest: encoding body: %v", err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	if err != nil {
		t.Fatalf("actiontest: %v", err)
	}
	req.Header.Set("Authorization", server.AuthorizationHeader(h.Key))
	req.Header.Set("User-Agent", "LookerOutgoingWebhook/"+LookerVersion)
	req.Header.Set("X-Looker-Webhook-Id", "actiontest-webhook")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("actiontest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("actiontest: reading reply: %v", err)
	}
	return Result{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Post sends an authenticated POST.
func (h *Hub) Post(t testing.TB, path string, body any) Result {
	return h.Do(t, http.MethodPost, path, body)
}

// Get sends an authenticated GET.
func (h *Hub) Get(t testing.TB, path string) Result { return h.Do(t, http.MethodGet, path, nil) }

// Execute posts body to the action's execute route and decodes the envelope (when the
// reply is one; Status tells 404/500 answers apart).
func (h *Hub) Execute(t testing.TB, action string, body any) ExecuteResult {
	t.Helper()
	r := h.Post(t, "/actions/"+action+"/execute", body)
	out := ExecuteResult{Result: r}
	var env struct {
		Looker Envelope `json:"looker"`
	}
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(bytes.TrimSpace(r.Body), &env); err != nil {
			t.Fatalf("actiontest: execute reply is not an envelope: %v: %s", err, r.Body)
		}
		out.Looker = env.Looker
	}
	return out
}

// Form posts body to the action's form route and decodes the reply.
func (h *Hub) Form(t testing.TB, action string, body any) FormResult {
	t.Helper()
	r := h.Post(t, "/actions/"+action+"/form", body)
	out := FormResult{Result: r}
	if r.Status == http.StatusOK {
		var f struct {
			Fields []sdk.Field `json:"fields"`
			State  *sdk.State  `json:"state"`
			Error  string      `json:"error"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(r.Body), &f); err != nil {
			t.Fatalf("actiontest: form reply is not JSON: %v: %s", err, r.Body)
		}
		out.Fields, out.State, out.Error = f.Fields, f.State, f.Error
	}
	return out
}

// Download returns a one-time URL that serves content once, like Looker's download_url.
func (h *Hub) Download(t testing.TB, content []byte) string {
	return h.DownloadFunc(t, func(w io.Writer) error { _, err := w.Write(content); return err })
}

// DownloadFunc returns a one-time URL whose body is written by gen, streamed.
func (h *Hub) DownloadFunc(t testing.TB, gen func(w io.Writer) error) string {
	t.Helper()
	var once sync.Once
	used := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := false
		once.Do(func() { first = true })
		if !first || used {
			http.Error(w, "download URL already used", http.StatusNotFound)
			return
		}
		used = true
		w.Header().Set("Content-Type", "application/json")
		if err := gen(w); err != nil {
			// cut the stream: abort the connection so the hub sees an error
			panic(http.ErrAbortHandler)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/download/" + strings.ReplaceAll(t.Name(), "/", "_")
}
