package sdk

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request is one form, execute or token request from Looker.
type Request struct {
	// Type is "cell", "query" or "dashboard"; "" when Looker sent none.
	Type ActionType
	// Params are the admin params plus the keys Looker injects (state_url, state_json,
	// state_redir_url, value, test, ...): the body's "data".
	Params map[string]string
	// FormParams are the user's answers to the form.
	FormParams    map[string]string
	ScheduledPlan *ScheduledPlan
	Attachment    *Attachment
	// TokenState is the body's "state", sent only to the OAuth v2 token route.
	TokenState string
	// LookerVersion is from the User-Agent ("" when unknown).
	LookerVersion string
	WebhookID     string
	InstanceID    string
	// ActionName is the action the request was routed to.
	ActionName string
	// Env is the hub environment (base URL, cipher, clients).
	Env *Env

	oauthV2 bool
}

// ScheduledPlan is the schedule, Look or dashboard context of a request.
type ScheduledPlan struct {
	ScheduledPlanID       *int64          `json:"scheduled_plan_id"`
	Title                 string          `json:"title"`
	Type                  string          `json:"type"`
	URL                   string          `json:"url"`
	QueryID               json.RawMessage `json:"query_id,omitempty"`
	Query                 *Query          `json:"query"`
	FiltersDifferFromLook bool            `json:"filters_differ_from_look"`
	DownloadURL           string          `json:"download_url"`
	AsyncCallbackURL      string          `json:"async_callback_url"`
}

// Query is the part of Looker's query object actions use.
type Query struct {
	ID        json.RawMessage `json:"id,omitempty"`
	Model     string          `json:"model"`
	View      string          `json:"view"`
	Fields    []string        `json:"fields"`
	Pivots    []string        `json:"pivots"`
	VisConfig map[string]any  `json:"vis_config"`
	ShareURL  string          `json:"share_url"`
	URL       string          `json:"url"`
}

// Attachment is pushed data. Data holds the decoded bytes (base64 undone when the mimetype
// ends in ";base64").
type Attachment struct {
	MimeType  string
	Extension string
	Data      []byte
}

// wire shapes
type wireRequest struct {
	Type          json.RawMessage `json:"type"`
	ScheduledPlan *ScheduledPlan  `json:"scheduled_plan"`
	Attachment    *wireAttachment `json:"attachment"`
	Data          map[string]any  `json:"data"`
	FormParams    map[string]any  `json:"form_params"`
	State         any             `json:"state"`
}

type wireAttachment struct {
	MimeType  string `json:"mimetype"`
	Extension string `json:"extension"`
	Data      any    `json:"data"`
}

// ErrNullType is Node's answer to {"type": null}.
var ErrNullType = &Error{Text: `Action did not specify a "type".`}

// DecodeRequest parses a request body. An empty body is an empty request. It returns
// ErrNullType for an explicit null type, and a plain error for JSON that is not an object.
func DecodeRequest(body []byte) (*Request, error) {
	req := &Request{Params: map[string]string{}, FormParams: map[string]string{}}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("request body is not a JSON object: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("request body is not a JSON object: data after the JSON object")
	}
	if w.Type != nil {
		t := strings.TrimSpace(string(w.Type))
		if t == "null" {
			return nil, ErrNullType
		}
		var s string
		if err := json.Unmarshal(w.Type, &s); err != nil {
			return nil, &Error{Text: `Action request "type" must be a string.`}
		}
		req.Type = ActionType(s)
	}
	req.ScheduledPlan = w.ScheduledPlan
	req.Params = stringMap(w.Data)
	req.FormParams = stringMap(w.FormParams)
	if s, ok := w.State.(string); ok {
		req.TokenState = s
	}
	if a := w.Attachment; a != nil {
		data, _ := a.Data.(string)
		att := &Attachment{MimeType: a.MimeType, Extension: a.Extension}
		if a.MimeType != "" && data != "" {
			if strings.HasSuffix(a.MimeType, ";base64") {
				att.Data = lenientBase64(data)
			} else {
				att.Data = []byte(data)
			}
		} else if a.Data != nil && data == "" {
			// json pushed as a nested value rather than a string
			if b, err := json.Marshal(a.Data); err == nil && string(b) != `""` && string(b) != "null" {
				att.Data = b
			}
		}
		req.Attachment = att
	}
	return req, nil
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%q must not be a JSON %s", te.Field, te.Value)
		}
		return fmt.Sprintf("expected an object, got a JSON %s", te.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of JSON"
	}
	return "invalid JSON"
}

// stringMap turns Looker's data/form_params into strings: numbers and booleans in their JSON
// text, nested values as JSON, null as absent.
func stringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case nil:
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	return out
}

// lenientBase64 decodes like Node's Buffer.from(s, "base64"): standard or URL alphabet,
// padding optional, whitespace and invalid characters skipped.
func lenientBase64(s string) []byte {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+')
		case c == '_':
			clean = append(clean, '/')
		case c == '=':
			i = len(s)
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out, _ := base64.RawStdEncoding.DecodeString(string(clean))
	return out
}

// DownloadURL returns the one-time download URL, if Looker sent one.
func (r *Request) DownloadURL() string {
	if r.ScheduledPlan == nil {
		return ""
	}
	return r.ScheduledPlan.DownloadURL
}

// HasData reports whether the request carries data: an attachment or a download URL.
func (r *Request) HasData() bool {
	return (r.Attachment != nil && r.Attachment.Data != nil) || r.DownloadURL() != ""
}

// Open returns the request's data as a stream of bytes: the pushed attachment, or the
// one-time download URL fetched once with the hub's idle timeout. Reading stays bounded in
// memory whatever the size; errors say how many bytes had arrived.
func (r *Request) Open(ctx context.Context) (io.ReadCloser, error) {
	if r.Attachment != nil && r.Attachment.Data != nil {
		return io.NopCloser(bytes.NewReader(r.Attachment.Data)), nil
	}
	u := r.DownloadURL()
	if u == "" {
		return nil, &Error{Text: "A streaming action was sent incompatible data. The action must have a download url or an attachment."}
	}
	return openDownload(ctx, r.Env, u)
}

// DefaultStreamTimeout is Node's ACTION_HUB_STREAM_REQUEST_TIMEOUT default (13 minutes).
const DefaultStreamTimeout = 780 * time.Second

// DownloadError is a failed or cut download of Looker's data.
type DownloadError struct {
	Status int   // HTTP status when Looker answered with an error
	Bytes  int64 // bytes received before the failure
	Err    error
}

func (e *DownloadError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("There was an error with Action Hub calling back to Looker, status code: %d", e.Status)
	}
	return fmt.Sprintf("the download from Looker failed after %d bytes: %v", e.Bytes, redactURLError(e.Err))
}

func (e *DownloadError) Unwrap() error { return e.Err }

// redactURLError drops the URL (a one-time credential) from *url.Error texts.
func redactURLError(err error) string {
	type urlErr interface{ Unwrap() error }
	var ue interface {
		error
		Timeout() bool
	}
	if errors.As(err, &ue) {
		if u, ok := ue.(urlErr); ok && u.Unwrap() != nil {
			return u.Unwrap().Error()
		}
	}
	return err.Error()
}

func openDownload(ctx context.Context, env *Env, u string) (io.ReadCloser, error) {
	timeout := DefaultStreamTimeout
	if env != nil && env.StreamTimeout > 0 {
		timeout = env.StreamTimeout
	}
	ctx, cancel := context.WithCancel(ctx)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, &DownloadError{Err: errors.New("invalid download URL")}
	}
	// The idle timer covers the wait for headers as well as every read.
	timer := time.AfterFunc(timeout, cancel)
	resp, err := env.Client().Do(hreq)
	if err != nil {
		timer.Stop()
		cancel()
		return nil, &DownloadError{Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		timer.Stop()
		resp.Body.Close()
		cancel()
		return nil, &DownloadError{Status: resp.StatusCode}
	}
	return &idleReader{body: resp.Body, timer: timer, timeout: timeout, cancel: cancel, ctx: ctx}, nil
}

type idleReader struct {
	body    io.ReadCloser
	timer   *time.Timer
	timeout time.Duration
	cancel  context.CancelFunc
	ctx     context.Context
	n       int64
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.n += int64(n)
	if n > 0 {
		r.timer.Reset(r.timeout)
	}
	if err != nil && err != io.EOF {
		if r.ctx.Err() != nil && !errors.Is(err, context.Canceled) {
			err = r.ctx.Err()
		}
		return n, &DownloadError{Bytes: r.n, Err: err}
	}
	return n, err
}

func (r *idleReader) Close() error {
	r.timer.Stop()
	err := r.body.Close()
	r.cancel()
	return err
}

// HiddenFields returns the names in scheduled_plan.query.vis_config.hidden_fields.
func (r *Request) HiddenFields() map[string]bool {
	out := map[string]bool{}
	if r.ScheduledPlan == nil || r.ScheduledPlan.Query == nil {
		return out
	}
	if hf, ok := r.ScheduledPlan.Query.VisConfig["hidden_fields"].([]any); ok {
		for _, f := range hf {
			if s, ok := f.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}

// Param returns an admin param with surrounding space removed.
func (r *Request) Param(name string) string { return strings.TrimSpace(r.Params[name]) }

// Form returns a form param with surrounding space removed.
func (r *Request) Form(name string) string { return strings.TrimSpace(r.FormParams[name]) }
