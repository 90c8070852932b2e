package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	fake "github.com/actionhub/actionhub/internal/fakes/webhook"
	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
)

var testConfig = Config{Name: "test_webhook", Label: "Test", Description: "test", Vendor: "Example",
	URLLabel: "Example Webhook URL", Domains: []string{"example.com"}}

const hookURL = "https://abc.example.com/hooks/catch/123/secretpath/"

func envWith(vars map[string]string) *sdk.Env {
	return &sdk.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(k string) string { return vars[k] }}
}

// newAction returns the action with its guarded client pointed at the fake.
func newAction(t *testing.T, f *fake.Server, allowPrivate bool, configure ...func(*http.Transport)) *Action {
	t.Helper()
	vars := map[string]string{}
	if allowPrivate {
		vars[netguard.AllowPrivateVar] = "true"
	}
	env := envWith(vars)
	a := New(env, testConfig)
	a.Client = netguard.FromEnv(env.Get).Client(append([]func(*http.Transport){f.Rewire}, configure...)...)
	return a
}

func request(env *sdk.Env, url string, data []byte) *sdk.Request {
	return &sdk.Request{Type: sdk.TypeQuery, Env: env, Params: map[string]string{},
		FormParams:    map[string]string{"url": url},
		Attachment:    &sdk.Attachment{MimeType: "application/json", Extension: "json", Data: data},
		ScheduledPlan: &sdk.ScheduledPlan{Title: "plan"}}
}

func TestCheckURL(t *testing.T) {
	cases := []struct {
		url, domain, err string
	}{
		{"", "example.com", "Missing url."},
		{"https://abc.example.com/", "", "Action requires a domain."},
		{"http://abc.com/", "example.com", "Incorrect domain for url."}, // Node test_webhook.ts
		{"not a url", "example.com", "Incorrect domain for url."},
		{"https://evilzapier.com/hooks/", "zapier.com", "Incorrect domain for url."},
		{"https://zapier.com.evil.io/hooks/", "zapier.com", "Incorrect domain for url."},
		{"https://hooks.zapier.com@evil.io/hooks/", "zapier.com", "Incorrect domain for url."},
		{"https://127.0.0.1/hooks/", "zapier.com", "Incorrect domain for url."},
		{"http://hooks.zapier.com/hooks/catch/1/2/", "zapier.com", "The webhook URL must start with https://."},
		{"https://user:pw@hooks.zapier.com/hooks/catch/1/2/", "zapier.com", "The webhook URL must not contain a user name or password."},
		{"https://hooks.zapier.com/hooks/catch/1/2/", "zapier.com", ""},
		{"https://HOOKS.ZAPIER.COM./hooks/catch/1/2/", "zapier.com", ""},
		{"https://abc.example.com/", "example.com", ""},
	}
	for _, c := range cases {
		var domains []string
		if c.domain != "" {
			domains = []string{c.domain}
		}
		_, err := CheckURL(c.url, domains)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("CheckURL(%q): %v", c.url, err)
		case c.err != "":
			e, ok := sdk.AsError(err)
			if !ok || e.Text != c.err {
				t.Errorf("CheckURL(%q) = %v, want %q", c.url, err, c.err)
			}
		}
	}
}

func TestFormAndDefinition(t *testing.T) {
	a := New(nil, testConfig)
	form, err := a.Form(context.Background(), &sdk.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(form.Fields) != 1 || !reflect.DeepEqual(form.Fields[0], sdk.Field{Label: "Example Webhook URL", Name: "url", Required: true, Type: sdk.FieldString}) {
		t.Errorf("form = %+v", form.Fields)
	}
	d := a.Definition()
	if !d.Streaming || len(d.SupportedFormats) != 1 || d.SupportedFormats[0] != sdk.FormatJSONDetail ||
		!d.SupportsType(sdk.TypeQuery) || d.SupportsType(sdk.TypeDashboard) {
		t.Errorf("definition = %+v", d)
	}
}

// Node test_webhook.ts: a URL in the domain is posted to, with the data as body.
func TestPostsBody(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	a := newAction(t, f, true)
	data := []byte(`{"fields":{"dimensions":[]},"data":[{"a":{"value":1}}]}`)
	resp, err := a.Execute(context.Background(), request(a.env, hookURL, data))
	if err != nil || !resp.Success {
		t.Fatalf("execute: %+v, %v", resp, err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Host != "abc.example.com" || r.Path != "/hooks/catch/123/secretpath/" {
		t.Errorf("request %s %s%s", r.Method, r.Host, r.Path)
	}
	if !bytes.Equal(r.Body, data) || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("body %q, content type %q", r.Body, r.Header.Get("Content-Type"))
	}
}

// The body goes from Looker's download to the receiver as it arrives: the fake has bytes
// before the download has finished, and the whole stream arrives intact.
func TestStreamsDownload(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	a := newAction(t, f, true)
	const total = 8 << 20
	firstSeen := make(chan struct{})
	f.Answer = func(w http.ResponseWriter, r *fake.Request) { io.WriteString(w, `{"status":"success"}`) }
	h := sha256.New()
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
		written := 0
		for written < total {
			w.Write(chunk)
			h.Write(chunk)
			written += len(chunk)
			if written == len(chunk)*4 {
				w.(http.Flusher).Flush()
				// Wait until the receiver got data: only a streaming hub gets here.
				select {
				case <-firstSeen:
				case <-time.After(5 * time.Second):
					panic(http.ErrAbortHandler)
				}
			}
		}
	}))
	defer dl.Close()
	go func() {
		for f.Received() == 0 {
			time.Sleep(2 * time.Millisecond)
		}
		close(firstSeen)
	}()
	req := request(a.env, hookURL, nil)
	req.Attachment = nil
	req.ScheduledPlan.DownloadURL = dl.URL + "/download"
	resp, err := a.Execute(context.Background(), req)
	if err != nil || !resp.Success {
		t.Fatalf("execute: %+v, %v", resp, err)
	}
	r := f.Requests()[0]
	if r.Size != total || r.SHA256 != hex.EncodeToString(h.Sum(nil)) {
		t.Errorf("received %d bytes, sha %s", r.Size, r.SHA256)
	}
}

func TestLoopbackRefusedByDefault(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	a := newAction(t, f, false)
	resp, err := a.Execute(context.Background(), request(a.env, hookURL, []byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || !strings.Contains(resp.Message, "loopback") || !strings.Contains(resp.Message, netguard.AllowPrivateVar) {
		t.Errorf("response %+v", resp)
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("the fake got %d requests", n)
	}
}

func TestRateLimitedNotRetried(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	f.Faults.RetryAfter = "30"
	f.Faults.Push(faults.RateLimit)
	a := newAction(t, f, true)
	resp, err := a.Execute(context.Background(), request(a.env, hookURL, []byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || !strings.Contains(resp.Message, "HTTP 429") || !strings.Contains(resp.Message, "retry after 30s") {
		t.Errorf("response %+v", resp)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d requests, want 1 (a one-time stream is not re-sent)", n)
	}
}

func TestServerErrorAndGone(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	f.Faults.Push(faults.ServerError)
	a := newAction(t, f, true)
	resp, _ := a.Execute(context.Background(), request(a.env, hookURL, []byte("{}")))
	if resp.Success || !strings.Contains(resp.Message, "Example answered HTTP 503 Service Unavailable") {
		t.Errorf("503: %+v", resp)
	}
	f.Answer = func(w http.ResponseWriter, r *fake.Request) {
		w.WriteHeader(http.StatusGone)
		io.WriteString(w, `{"status":"error","message":"hook was deleted"}`)
	}
	resp, _ = a.Execute(context.Background(), request(a.env, hookURL, []byte("{}")))
	if resp.Success || !strings.Contains(resp.Message, "HTTP 410") || !strings.Contains(resp.Message, "hook was deleted") {
		t.Errorf("410: %+v", resp)
	}
	if strings.Contains(resp.Message, "secretpath") {
		t.Errorf("message reveals the webhook path: %q", resp.Message)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	f.Answer = func(w http.ResponseWriter, r *fake.Request) {
		w.Header().Set("Location", "http://169.254.169.254/latest/meta-data/")
		w.WriteHeader(http.StatusFound)
	}
	a := newAction(t, f, true)
	resp, _ := a.Execute(context.Background(), request(a.env, hookURL, []byte("{}")))
	if resp.Success || !strings.Contains(resp.Message, "HTTP 302") || !strings.Contains(resp.Message, "redirects") {
		t.Errorf("response %+v", resp)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}

func TestNoAnswerTimesOut(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	f.Faults.Stall = 10 * time.Second
	f.Faults.Push(faults.TimeoutAfter)
	a := newAction(t, f, true, func(tr *http.Transport) { tr.ResponseHeaderTimeout = 200 * time.Millisecond })
	start := time.Now()
	resp, _ := a.Execute(context.Background(), request(a.env, hookURL, []byte("{}")))
	if resp.Success || !strings.Contains(resp.Message, "did not answer in time") {
		t.Errorf("response %+v", resp)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestStalledReceiver(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	f.HoldBody = true
	a := newAction(t, f, true)
	a.IdleTimeout = 300 * time.Millisecond
	big := bytes.Repeat([]byte("x"), 24<<20) // far more than socket buffers hold
	start := time.Now()
	resp, _ := a.Execute(context.Background(), request(a.env, hookURL, big))
	if resp.Success || !strings.Contains(resp.Message, "stopped reading the data") {
		t.Errorf("response %+v", resp)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestDownloadFailure(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	a := newAction(t, f, true)
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusNotFound)
	}))
	defer dl.Close()
	req := request(a.env, hookURL, nil)
	req.Attachment = nil
	req.ScheduledPlan.DownloadURL = dl.URL
	resp, err := a.Execute(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || !strings.Contains(resp.Message, "Could not read the data from Looker") {
		t.Errorf("response %+v", resp)
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
}

// A download cut in the middle fails the POST (the receiver sees a broken body, not a
// short one presented as complete).
func TestDownloadCut(t *testing.T) {
	f := fake.New(t, "abc.example.com")
	a := newAction(t, f, true)
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(bytes.Repeat([]byte("a"), 1000))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer dl.Close()
	req := request(a.env, hookURL, nil)
	req.Attachment = nil
	req.ScheduledPlan.DownloadURL = dl.URL
	resp, _ := a.Execute(context.Background(), req)
	if resp.Success || !strings.Contains(resp.Message, "Could not read the data from Looker") {
		t.Errorf("response %+v", resp)
	}
}
