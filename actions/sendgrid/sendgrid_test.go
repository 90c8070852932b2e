package sendgrid

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	fake "github.com/actionhub/actionhub/internal/fakes/sendgrid"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

const key = "SG.test-key-0123456789"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newAction(t *testing.T, f *fake.Server) *Action {
	env := &sdk.Env{Logger: quiet, Getenv: func(k string) string {
		if k == "ACTION_HUB_VENDOR_URL_SENDGRID" {
			return f.URL
		}
		return ""
	}}
	a, _ := New(env)
	act := a.(*Action)
	act.Clock = vendorhttptest.NewFakeClock(time.Time{})
	return act
}

func request(env *sdk.Env, form map[string]string) *sdk.Request {
	return &sdk.Request{Type: sdk.TypeQuery, Env: env, Params: map[string]string{"sendgrid_api_key": key},
		FormParams:    form,
		Attachment:    &sdk.Attachment{MimeType: "text/csv", Extension: "csv", Data: []byte("a,b\n1,2\n")},
		ScheduledPlan: &sdk.ScheduledPlan{Title: "Hello attachment", URL: "https://mycompany.looker.com/look/1"}}
}

// Node test_sendgrid.ts: no "to" is the invalid address answer.
func TestNoTo(t *testing.T) {
	f := fake.New(t, key)
	a := newAction(t, f)
	resp, err := a.Execute(context.Background(), request(a.env, map[string]string{}))
	if err != nil || resp.Success || resp.Message != "Error: invalid email address" {
		t.Fatalf("%+v %v", resp, err)
	}
}

// Node: no attachment is the attachment answer.
func TestNoAttachment(t *testing.T) {
	f := fake.New(t, key)
	a := newAction(t, f)
	req := request(a.env, map[string]string{"to": "test@example.com"})
	req.Attachment = nil
	resp, err := a.Execute(context.Background(), req)
	if err != nil || resp.Success || resp.Message != "Error: could not retrieve data from attachment, or attachment does not exist" {
		t.Fatalf("%+v %v", resp, err)
	}
	if f.Calls() != 0 {
		t.Error("SendGrid was called")
	}
}

// Node: the mail has the plan title as subject, the default from, the suggested
// filename, the Node texts; the attachment is base64 even for text formats.
func TestMailDefaults(t *testing.T) {
	f := fake.New(t, key)
	a := newAction(t, f)
	resp, err := a.Execute(context.Background(), request(a.env, map[string]string{"to": "test@example.com"}))
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	m := f.Mails()[0]
	if m.Key != key || m.Subject != "Hello attachment" || m.From != (fake.Address{Email: "noreply@lookermail.com", Name: "Looker"}) {
		t.Errorf("mail %+v", m)
	}
	if len(m.Personalizations) != 1 || !reflect.DeepEqual(m.Personalizations[0].To, []fake.Address{{Email: "test@example.com"}}) {
		t.Errorf("to %+v", m.Personalizations)
	}
	if m.Content[0].Value != "View this data in Looker. https://mycompany.looker.com/look/1\n Results are attached." ||
		m.Content[1].Type != "text/html" ||
		m.Content[1].Value != `<p><a href="https://mycompany.looker.com/look/1">View this data in Looker.</a></p><p>Results are attached.</p>` {
		t.Errorf("content %+v", m.Content)
	}
	at := m.Attachments[0]
	if at.Filename != "Hello attachment.csv" || string(at.Data) != "a,b\n1,2\n" || at.Type != "text/csv" || at.Disposition != "attachment" {
		t.Errorf("attachment %+v", at)
	}
}

// Node: explicit filename, from and subject are used as given.
func TestMailExplicit(t *testing.T) {
	f := fake.New(t, key)
	a := newAction(t, f)
	req := request(a.env, map[string]string{"to": "test@example.com", "filename": "mywackyfilename",
		"from": "Jane <jane@example.com>", "subject": "mysubject"})
	req.ScheduledPlan = nil
	resp, err := a.Execute(context.Background(), req)
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	m := f.Mails()[0]
	if m.Subject != "mysubject" || m.From != (fake.Address{Email: "jane@example.com", Name: "Jane"}) ||
		m.Attachments[0].Filename != "mywackyfilename" || m.Content[0].Value != "Results are attached." {
		t.Errorf("mail %+v", m)
	}
}

func TestSeveralRecipients(t *testing.T) {
	f := fake.New(t, key)
	a := newAction(t, f)
	resp, _ := a.Execute(context.Background(), request(a.env, map[string]string{
		"to": `a@example.com, "Doe, John" <john@example.com>; B@example.com ; a@EXAMPLE.com,`}))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	want := []fake.Address{{Email: "a@example.com"}, {Email: "john@example.com", Name: "Doe, John"}, {Email: "B@example.com"}}
	if got := f.Mails()[0].Personalizations[0].To; !reflect.DeepEqual(got, want) {
		t.Errorf("to %+v", got)
	}
	resp, _ = a.Execute(context.Background(), request(a.env, map[string]string{"to": "a@example.com, not-an-address"}))
	if resp.Success || resp.Message != `Error: invalid email address: "not-an-address"` {
		t.Errorf("%+v", resp)
	}
	if f.Calls() != 1 {
		t.Errorf("%d calls", f.Calls())
	}
}

// Binary pushed data (a PDF) arrives byte for byte.
func TestBinaryAttachment(t *testing.T) {
	f := fake.New(t, key)
	a := newAction(t, f)
	data := make([]byte, 100_001)
	for i := range data {
		data[i] = byte(i * 7)
	}
	req := request(a.env, map[string]string{"to": "test@example.com"})
	req.Attachment = &sdk.Attachment{MimeType: "application/pdf;base64", Extension: "pdf", Data: data}
	resp, _ := a.Execute(context.Background(), req)
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	at := f.Mails()[0].Attachments[0]
	if !bytes.Equal(at.Data, data) || at.Type != "application/pdf" || at.Filename != "Hello attachment.pdf" {
		t.Errorf("attachment %d bytes type %q name %q", at.Size, at.Type, at.Filename)
	}
}

func TestBase64Reader(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 12287, 12288, 12289, 100000} {
		data := bytes.Repeat([]byte{0xfb, 0x01, 0x7f}, n/3+1)[:n]
		got, err := io.ReadAll(newBase64Reader(bytes.NewReader(data)))
		if err != nil || string(got) != base64.StdEncoding.EncodeToString(data) {
			t.Errorf("n=%d: mismatch (%v)", n, err)
		}
	}
}

// Over 30 MB once encoded: refused before anything is sent.
func TestTooLarge(t *testing.T) {
	f := fake.New(t, key)
	a := newAction(t, f)
	req := request(a.env, map[string]string{"to": "test@example.com"})
	req.Attachment.Data = make([]byte, 23_000_000) // 30.7 MB in base64
	resp, _ := a.Execute(context.Background(), req)
	if resp.Success || !strings.Contains(resp.Message, "over SendGrid's 30 MB limit") || f.Calls() != 0 {
		t.Fatalf("%+v, %d calls", resp, f.Calls())
	}
}

// A download (streamed delivery) is spooled with a bound, then sent.
func TestDownloadSpooled(t *testing.T) {
	f := fake.New(t, key)
	a := newAction(t, f)
	data := bytes.Repeat([]byte("0123456789"), 400_000) // 4 MB
	sum := sha256.Sum256(data)
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer dl.Close()
	req := request(a.env, map[string]string{"to": "test@example.com"})
	req.Attachment = nil
	req.ScheduledPlan.DownloadURL = dl.URL
	req.FormParams["format"] = "csv"
	resp, _ := a.Execute(context.Background(), req)
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	at := f.Mails()[0].Attachments[0]
	if at.Size != len(data) || at.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("attachment %d bytes", at.Size)
	}
	// Too large a download stops at the bound.
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for i := 0; i < 40; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer big.Close()
	req.ScheduledPlan.DownloadURL = big.URL
	resp, _ = a.Execute(context.Background(), req)
	if resp.Success || !strings.Contains(resp.Message, "30 MB email limit") {
		t.Fatalf("%+v", resp)
	}
}

func TestRateLimitRetried(t *testing.T) {
	f := fake.New(t, key)
	f.Faults.RetryAfter = "5"
	f.Faults.Push(faults.RateLimit, faults.ServerError)
	a := newAction(t, f)
	resp, _ := a.Execute(context.Background(), request(a.env, map[string]string{"to": "test@example.com"}))
	if !resp.Success || f.Calls() != 3 || len(f.Mails()) != 1 {
		t.Fatalf("%+v, %d calls", resp, f.Calls())
	}
	if got := a.Clock.(*vendorhttptest.FakeClock).Sleeps(); !reflect.DeepEqual(got, []time.Duration{5 * time.Second, 2 * time.Second}) {
		t.Errorf("sleeps %v", got)
	}
	// The attachment survives the retries intact.
	if string(f.Mails()[0].Attachments[0].Data) != "a,b\n1,2\n" {
		t.Error("attachment damaged by the retry")
	}
}

func TestRateLimitResetHeaderAndBound(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	resetAt := clock.Now().Add(9 * time.Second).Unix()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("X-RateLimit-Reset", fmt.Sprint(resetAt))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	env := &sdk.Env{Logger: quiet, Getenv: func(k string) string { return map[string]string{"ACTION_HUB_VENDOR_URL_SENDGRID": srv.URL}[k] }}
	a := &Action{env: env, Clock: clock}
	resp, _ := a.Execute(context.Background(), request(env, map[string]string{"to": "test@example.com"}))
	if resp.Success || !strings.Contains(resp.Message, "HTTP 429") || !strings.Contains(resp.Message, "retry after 1h0m0s") {
		t.Fatalf("%+v", resp)
	}
	if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{9 * time.Second}) || calls != 2 {
		t.Errorf("sleeps %v, %d calls", got, calls)
	}
}

// 500 and timeouts may come after the email went out: not retried.
func TestServerErrorAndTimeoutNotRetried(t *testing.T) {
	f := fake.New(t, key)
	f.Faults.Push(faults.TimeoutAfter)
	a := newAction(t, f)
	a.Timeout = 300 * time.Millisecond
	start := time.Now()
	resp, _ := a.Execute(context.Background(), request(a.env, map[string]string{"to": "test@example.com"}))
	if resp.Success || !strings.Contains(resp.Message, "did not answer in time") || f.Calls() != 1 {
		t.Fatalf("%+v, %d calls", resp, f.Calls())
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	env := &sdk.Env{Logger: quiet, Getenv: func(k string) string { return map[string]string{"ACTION_HUB_VENDOR_URL_SENDGRID": srv.URL}[k] }}
	b := &Action{env: env, Clock: vendorhttptest.NewFakeClock(time.Time{})}
	resp, _ = b.Execute(context.Background(), request(env, map[string]string{"to": "test@example.com"}))
	if resp.Success || !strings.Contains(resp.Message, "HTTP 500") || calls != 1 {
		t.Fatalf("%+v, %d calls", resp, calls)
	}
}

// SendGrid's own error messages are shown; the key never is.
func TestErrorsAndKeyNotLeaked(t *testing.T) {
	f := fake.New(t, "another-key")
	a := newAction(t, f)
	resp, _ := a.Execute(context.Background(), request(a.env, map[string]string{"to": "test@example.com"}))
	if resp.Success || !strings.Contains(resp.Message, "HTTP 401") || !strings.Contains(resp.Message, "authorization grant is invalid") {
		t.Fatalf("%+v", resp)
	}
	if strings.Contains(resp.Message, key) {
		t.Error("key leaked")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from","help":null},`+
			`{"message":"Invalid type. Expected: object.","field":null,"help":null}]}`)
	}))
	defer srv.Close()
	env := &sdk.Env{Logger: quiet, Getenv: func(k string) string { return map[string]string{"ACTION_HUB_VENDOR_URL_SENDGRID": srv.URL}[k] }}
	b := &Action{env: env}
	resp, _ = b.Execute(context.Background(), request(env, map[string]string{"to": "test@example.com"}))
	if resp.Success || resp.Message != "Error: SendGrid answered HTTP 400 Bad Request: The from address does not match a verified Sender Identity. (from); Invalid type. Expected: object." {
		t.Fatalf("%+v", resp)
	}
}

// The attachment is encoded as it is sent: sending 12 MB allocates far less than its
// 16 MB base64 form (a buffered body would allocate at least that).
func TestEncodingNotBuffered(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		io.CopyBuffer(io.Discard, r.Body, buf)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	env := &sdk.Env{Logger: quiet, Getenv: func(k string) string { return map[string]string{"ACTION_HUB_VENDOR_URL_SENDGRID": srv.URL}[k] }}
	a := &Action{env: env}
	req := request(env, map[string]string{"to": "test@example.com"})
	req.Attachment.Data = make([]byte, 12<<20)
	a.Execute(context.Background(), req) // warm up connections and pools
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, _ := a.Execute(context.Background(), req)
	runtime.ReadMemStats(&after)
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("sending 12 MB allocated %d bytes", alloc)
	} else {
		t.Logf("sending 12 MB (16 MB encoded) allocated %d bytes", alloc)
	}
}

// Concurrent executes with different keys each send with their own key (the Node action
// shared one process-wide key).
func TestConcurrentKeys(t *testing.T) {
	keys := []string{"SG.tenant-a-000000", "SG.tenant-b-111111", "SG.tenant-c-222222"}
	f := fake.New(t, keys...)
	a := newAction(t, f)
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req := request(a.env, map[string]string{"to": fmt.Sprintf("user%d@example.com", i), "subject": keys[i%3]})
			req.Params["sendgrid_api_key"] = keys[i%3]
			if resp, _ := a.Execute(context.Background(), req); !resp.Success {
				t.Errorf("%d: %+v", i, resp)
			}
		}(i)
	}
	wg.Wait()
	for _, m := range f.Mails() {
		if m.Key != m.Subject {
			t.Errorf("mail for %s sent with %s", m.Subject, m.Key)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	f := fake.New(t, key)
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_VENDOR_URL_SENDGRID": f.URL},
		Actions: []sdk.Module{{Name: Name, New: New}}})
	form := h.Form(t, Name, map[string]any{"data": map[string]any{"sendgrid_api_key": key}})
	if len(form.Fields) != 4 || form.Fields[0].Name != "to" || !form.Fields[0].Required || form.Fields[0].Label != "To Email Address" {
		t.Errorf("form %s", form.Body)
	}
	body := map[string]any{"type": "dashboard", "data": map[string]any{"sendgrid_api_key": key},
		"form_params":    map[string]any{"to": "ops@example.com, cfo@example.com"},
		"scheduled_plan": map[string]any{"title": "Weekly board", "url": "https://looker.example.com/dashboards/7"},
		"attachment":     map[string]any{"mimetype": "application/pdf;base64", "extension": "pdf", "data": base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 fake"))}}
	res := h.Execute(t, Name, body)
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("execute %d %s", res.Status, res.Body)
	}
	m := f.Mails()[0]
	if string(m.Attachments[0].Data) != "%PDF-1.4 fake" || m.Attachments[0].Filename != "Weekly board.pdf" || len(m.Personalizations[0].To) != 2 {
		t.Errorf("mail %+v", m)
	}
	// Missing key param: the hub's required-setting check.
	delete(body, "data")
	res = h.Execute(t, Name, body)
	if res.Status != 404 || !strings.Contains(string(res.Body), `Required setting \"SendGrid API Key\" not specified`) {
		t.Errorf("no key: %d %s", res.Status, res.Body)
	}
	// Rate limited with a wait the hub honours (1 s), then accepted.
	f.Faults.RetryAfter = "1"
	f.Faults.Push(faults.RateLimit)
	body["data"] = map[string]any{"sendgrid_api_key": key}
	start := time.Now()
	res = h.Execute(t, Name, body)
	if !res.Looker.Success || time.Since(start) < time.Second {
		t.Errorf("rate limited: %s after %s", res.Body, time.Since(start))
	}
}
