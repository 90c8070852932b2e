package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultLookerVersion is the Looker version the simulator announces in its User-Agent.
const DefaultLookerVersion = "24.18.0"

// MaxReplyBytes bounds what the simulator reads of a hub reply (list, form, execute).
const MaxReplyBytes = 32 << 20

// Client speaks the Action API to one hub the way Looker does: it adds Looker's headers to
// every call and records each call as an Exchange with secrets masked.
type Client struct {
	// Hub is the hub's root URL (where POST / lists the actions).
	Hub string
	// Key is the hub's API key, sent as Authorization: Token token="<key>".
	Key string
	// LookerVersion goes into the User-Agent; "" means DefaultLookerVersion.
	LookerVersion string
	// InstanceID is sent as X-Looker-Instance.
	InstanceID string
	// HTTP is the client used; nil means one without a total timeout (hubs stream slowly).
	HTTP *http.Client
}

// Exchange is one HTTP call to the hub as the simulator shows it: headers and bodies with
// secrets masked, sizes and timings.
type Exchange struct {
	Method          string        `json:"method"`
	URL             string        `json:"url"`
	RequestHeaders  []Header      `json:"request_headers"`
	RequestBody     string        `json:"request_body,omitempty"`
	RequestBytes    int64         `json:"request_bytes"`
	Status          int           `json:"status"`
	ResponseHeaders []Header      `json:"response_headers,omitempty"`
	ResponseBody    string        `json:"response_body,omitempty"`
	ResponseBytes   int64         `json:"response_bytes"`
	KeepAlives      int           `json:"keepalive_newlines,omitempty"`
	Started         time.Time     `json:"started"`
	FirstByte       time.Duration `json:"first_byte_ns"`
	Total           time.Duration `json:"total_ns"`
	Err             string        `json:"error,omitempty"`
}

// Header is one displayed header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// call is one request to make.
type call struct {
	method string
	url    string
	// body writes the request body; nil sends none.
	body func(w io.Writer) error
	// shown returns the masked request body for display once the body is written; nil
	// derives it from the bytes sent (which are then kept: only for small bodies).
	shown func() string
	// mask hides secrets in the request and reply bodies.
	mask Masker
	// maskReply masks the whole reply (a body that is a user state).
	maskReply bool
	// webhookID is sent as X-Looker-Webhook-Id ("" makes one).
	webhookID string
}

// do sends c and returns the reply body (leading keep-alive whitespace removed) with the
// exchange record. A transport error is returned with the partial record.
func (cl *Client) do(ctx context.Context, c call) ([]byte, *Exchange, error) {
	ex := &Exchange{Method: c.method, URL: c.url, Started: time.Now()}
	var body io.Reader
	var pr *io.PipeReader
	var captured *bytes.Buffer
	var counter countingWriter
	done := make(chan struct{})
	if c.body != nil {
		var pw *io.PipeWriter
		pr, pw = io.Pipe()
		if c.shown == nil {
			captured = &bytes.Buffer{}
		}
		go func() {
			defer close(done)
			var w io.Writer = &counter
			if captured != nil {
				w = io.MultiWriter(captured, &counter)
			}
			pw.CloseWithError(c.body(io.MultiWriter(pw, w)))
		}()
		body = pr
	} else {
		close(done)
	}
	// finish stops the body writer (if the hub answered before reading it all) and fills
	// in what was sent.
	finish := func() {
		if pr != nil {
			pr.Close()
		}
		<-done
		ex.RequestBytes = counter.n
		switch {
		case captured != nil:
			ex.RequestBody = c.mask.MaskJSON(captured.Bytes())
		case c.shown != nil:
			ex.RequestBody = c.shown()
		}
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		finish()
		ex.Err = err.Error()
		return nil, ex, err
	}
	webhookID := c.webhookID
	if webhookID == "" {
		webhookID = NewWebhookID()
	}
	// Looker's headers; the body goes out chunked, as Looker sends it.
	req.Header.Set("Authorization", `Token token="`+cl.Key+`"`)
	req.Header.Set("User-Agent", "LookerOutgoingWebhook/"+cl.version())
	req.Header.Set("X-Looker-Webhook-Id", webhookID)
	if cl.InstanceID != "" {
		req.Header.Set("X-Looker-Instance", cl.InstanceID)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, k := range []string{"Authorization", "User-Agent", "X-Looker-Webhook-Id", "X-Looker-Instance", "Content-Type"} {
		if v := req.Header.Get(k); v != "" {
			if k == "Authorization" {
				v = MaskAuthorization(v)
			}
			ex.RequestHeaders = append(ex.RequestHeaders, Header{k, v})
		}
	}
	if c.body != nil {
		ex.RequestHeaders = append(ex.RequestHeaders, Header{"Transfer-Encoding", "chunked"})
	}
	resp, err := cl.httpClient().Do(req)
	if err != nil {
		finish()
		ex.Total = time.Since(ex.Started)
		ex.Err = redactURL(err, c.url)
		return nil, ex, errors.New(ex.Err)
	}
	defer resp.Body.Close()
	ex.FirstByte = time.Since(ex.Started)
	ex.Status = resp.StatusCode
	for _, k := range []string{"Content-Type", "Content-Length", "Transfer-Encoding", "Location"} {
		if v := resp.Header.Get(k); v != "" {
			ex.ResponseHeaders = append(ex.ResponseHeaders, Header{k, v})
		}
	}
	if len(resp.TransferEncoding) > 0 {
		ex.ResponseHeaders = append(ex.ResponseHeaders, Header{"Transfer-Encoding", strings.Join(resp.TransferEncoding, ", ")})
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes+1))
	ex.Total = time.Since(ex.Started)
	finish()
	ex.ResponseBytes = int64(len(raw))
	// Replies may start with keep-alive newlines (the hub writes one every 30 s).
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	ex.KeepAlives = bytes.Count(raw[:len(raw)-len(trimmed)], []byte("\n"))
	rm := c.mask
	if c.maskReply {
		rm = Masker{All: true}
	}
	ex.ResponseBody = rm.MaskJSON(trimmed)
	if err != nil {
		ex.Err = "reading the reply: " + redactURL(err, c.url)
		return trimmed, ex, errors.New(ex.Err)
	}
	if len(raw) > MaxReplyBytes {
		ex.Err = fmt.Sprintf("reply larger than %d bytes", MaxReplyBytes)
		return trimmed, ex, errors.New(ex.Err)
	}
	return trimmed, ex, nil
}

func (cl *Client) version() string {
	if cl.LookerVersion == "" {
		return DefaultLookerVersion
	}
	return cl.LookerVersion
}

func (cl *Client) httpClient() *http.Client {
	if cl.HTTP != nil {
		return cl.HTTP
	}
	return http.DefaultClient
}

// redactURL returns err's text without the URL (download and state URLs are credentials,
// and the text of a *url.Error repeats the URL).
func redactURL(err error, u string) string {
	s := err.Error()
	if u != "" {
		s = strings.ReplaceAll(s, u, "<url>")
	}
	return s
}

// NewWebhookID returns a random X-Looker-Webhook-Id (16 hex digits, as Looker's).
func NewWebhookID() string { return randomHex(8) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// HTTPError is a hub answer that is not a 200: the 403/404/500 JSON of the Action API, or
// an HTML error page.
type HTTPError struct {
	Status int
	// Text is the hub's "error" text, or a short description of the body.
	Text string
}

// Error says what the hub answered.
func (e *HTTPError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("hub answered HTTP %d", e.Status)
	}
	return fmt.Sprintf("hub answered HTTP %d: %s", e.Status, e.Text)
}

func httpError(status int, body []byte) *HTTPError {
	var he hubError
	if json.Unmarshal(body, &he) == nil && he.Error != "" {
		return &HTTPError{Status: status, Text: he.Error}
	}
	return &HTTPError{Status: status, Text: cutText(strings.TrimSpace(stripTags(string(body))), 300)}
}

// stripTags makes an HTML error page readable in one line.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// List fetches the action list (POST / with an empty JSON object).
func (cl *Client) List(ctx context.Context) (*ActionList, *Exchange, error) {
	u := strings.TrimRight(cl.Hub, "/") + "/"
	body, ex, err := cl.do(ctx, call{method: http.MethodPost, url: u, body: jsonBody(map[string]any{})})
	if err != nil {
		return nil, ex, err
	}
	if ex.Status != http.StatusOK {
		return nil, ex, httpError(ex.Status, body)
	}
	var l ActionList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, ex, fmt.Errorf("the action list is not valid JSON: %v", err)
	}
	return &l, ex, nil
}

// Form posts a form request body to formURL and decodes the reply.
func (cl *Client) Form(ctx context.Context, formURL string, body any, mask Masker) (*FormReply, *Exchange, error) {
	raw, ex, err := cl.do(ctx, call{method: http.MethodPost, url: formURL, body: jsonBody(body), mask: mask})
	if err != nil {
		return nil, ex, err
	}
	if ex.Status != http.StatusOK {
		return nil, ex, httpError(ex.Status, raw)
	}
	f, err := decodeFormReply(raw)
	if err != nil {
		return nil, ex, err
	}
	return f, ex, nil
}

// Execute posts an execute body to executeURL and decodes the looker envelope. body
// streams the request (it may be large: it is not kept); shown returns the masked body
// to display, once body has run.
func (cl *Client) Execute(ctx context.Context, executeURL string, body func(io.Writer) error, shown func() string, mask Masker, webhookID string) (*LookerReply, *Exchange, error) {
	raw, ex, err := cl.do(ctx, call{method: http.MethodPost, url: executeURL, body: body, shown: shown, mask: mask, webhookID: webhookID})
	if err != nil {
		return nil, ex, err
	}
	if ex.Status != http.StatusOK {
		return nil, ex, httpError(ex.Status, raw)
	}
	var env struct {
		Looker *LookerReply `json:"looker"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, ex, fmt.Errorf("execute reply is not JSON: %v", err)
	}
	if env.Looker == nil {
		return nil, ex, errors.New(`execute reply has no "looker" object`)
	}
	return env.Looker, ex, nil
}

// OAuthToken calls an OAuth v2 action's token route with {"state": state} and returns the
// reply body, which Looker stores as the user's state.
func (cl *Client) OAuthToken(ctx context.Context, tokenURL, state string) ([]byte, *Exchange, error) {
	raw, ex, err := cl.do(ctx, call{method: http.MethodPost, url: tokenURL,
		body: jsonBody(map[string]string{"state": state}), maskReply: true})
	if err != nil {
		return nil, ex, err
	}
	if ex.Status != http.StatusOK {
		return nil, ex, httpError(ex.Status, raw)
	}
	if !json.Valid(raw) {
		return nil, ex, errors.New("token reply is not JSON")
	}
	return raw, ex, nil
}

func jsonBody(v any) func(io.Writer) error {
	return func(w io.Writer) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
}
