// Package sendgrid is the "sendgrid" action: it emails Looker's rendered file as an
// attachment through SendGrid's v3 Mail Send API (POST /v3/mail/send).
//
// It keeps the Node action's name, param, form, texts and message, and fixes its
// weaknesses: the API key is sent with each request (the Node action set it on a
// process-wide singleton, so concurrent tenants could send with each other's key); the
// attachment is always base64-encoded as the API requires (Node sent text formats raw),
// encoded as the request body is written, through a small fixed buffer, so the payload is
// never held twice in memory; the total size is checked against SendGrid's 30 MB limit
// before anything is sent; "to" takes several addresses (comma or semicolon separated),
// each validated; and 429/503 answers are retried after the wait SendGrid asks for.
package sendgrid

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name in the Action API.
const Name = "sendgrid"

// SendGrid limits, from https://www.twilio.com/docs/sendgrid/api-reference/mail-send/limitations
// (also https://docs.sendgrid.com/api-reference/mail-send/limitations).
const (
	// MaxMessageBytes: "The total size of your email, including attachments, must be less
	// than 30MB." The request's JSON (attachment base64-encoded) is checked against it:
	// its size is within a few hundred bytes of the MIME message SendGrid builds.
	MaxMessageBytes = 30_000_000
	// MaxRecipients is the limit of recipients (to, cc and bcc) per request.
	MaxRecipients = 1000
)

// DefaultFrom is the Node action's sender when the form names none.
const DefaultFrom = "Looker <noreply@lookermail.com>"

// DefaultBaseURL is SendGrid's API host; EU regional subusers use
// https://api.eu.sendgrid.com (set ACTION_HUB_VENDOR_URL_SENDGRID).
const DefaultBaseURL = "https://api.sendgrid.com"

// Retry and timeout settings.
const (
	maxRetries    = 3
	maxRetryAfter = time.Minute
	// Each attempt may take baseTimeout plus the time to send the body at minRate.
	baseTimeout = time.Minute
	minRate     = 256 << 10 // bytes per second
)

// Texts of the Node action.
const (
	errNoAttachment = "Error: could not retrieve data from attachment, or attachment does not exist"
	errNoTo         = "Error: invalid email address"
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() { sdk.Register(sdk.Module{Name: Name, New: New}) }

// New returns the action. It needs no environment: the API key is a param.
func New(env *sdk.Env) (sdk.Action, error) { return &Action{env: env}, nil }

// Action is the SendGrid action. It holds no per-tenant state.
type Action struct {
	env *sdk.Env
	// Clock times retry waits (nil: the real clock).
	Clock vendorhttp.Clock
	// Timeout, when set, replaces the computed per-attempt timeout.
	Timeout time.Duration
}

// Definition is the Node action's.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:        Name,
		Label:       "SendGrid",
		Description: "Send data files to an email via SendGrid.",
		Icon:        icon,
		Params: []sdk.Param{{
			Name: "sendgrid_api_key", Label: "SendGrid API Key", Required: true, Sensitive: true,
			Description: "API key for SendGrid from https://app.sendgrid.com/settings/api_keys.",
		}},
		RequiredFields:       []sdk.RequiredField{},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery, sdk.TypeDashboard},
	}
}

// Form is the Node action's form.
func (a *Action) Form(context.Context, *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{
		{Name: "to", Label: "To Email Address", Description: "e.g. test@example.com", Type: sdk.FieldString, Required: true},
		{Name: "from", Label: "From Email Address", Description: "e.g. test@example.com", Type: sdk.FieldString},
		{Label: "Filename", Name: "filename", Type: sdk.FieldString},
		{Label: "Subject", Name: "subject", Type: sdk.FieldString},
	}}, nil
}

// Address is a SendGrid email object.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Content is one body part.
type Content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Personalization is one envelope of the message.
type Personalization struct {
	To []Address `json:"to"`
}

// message is the request body without its attachments, which are streamed after it.
type message struct {
	Personalizations []Personalization `json:"personalizations"`
	From             Address           `json:"from"`
	Subject          string            `json:"subject"`
	Content          []Content         `json:"content"`
}

// ParseRecipients splits the form's "to" on commas and semicolons, validates each
// address and drops repeats (SendGrid refuses an address given twice).
func ParseRecipients(to string) ([]Address, error) {
	list, err := mail.ParseAddressList(strings.Trim(strings.ReplaceAll(to, ";", ","), ", \t\r\n"))
	if err != nil {
		// Say which one is wrong.
		for _, part := range strings.FieldsFunc(to, func(r rune) bool { return r == ',' || r == ';' }) {
			if strings.TrimSpace(part) == "" {
				continue
			}
			if _, perr := mail.ParseAddress(part); perr != nil {
				return nil, fmt.Errorf("%s: %q", errNoTo, strings.TrimSpace(part))
			}
		}
		return nil, errors.New(errNoTo)
	}
	seen := map[string]bool{}
	var out []Address
	for _, a := range list {
		k := strings.ToLower(a.Address)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, Address{Email: a.Address, Name: a.Name})
	}
	if len(out) > MaxRecipients {
		return nil, fmt.Errorf("Error: %d recipients, more than the %d SendGrid accepts in one email", len(out), MaxRecipients)
	}
	return out, nil
}

// Execute sends the email.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if !req.HasData() {
		return sdk.Fail(errNoAttachment), nil
	}
	to := req.FormParams["to"]
	if strings.TrimSpace(to) == "" {
		return sdk.Fail(errNoTo), nil
	}
	recipients, err := ParseRecipients(to)
	if err != nil {
		return sdk.Fail(err.Error()), nil
	}
	fromText := req.FormParams["from"]
	if fromText == "" {
		fromText = DefaultFrom
	}
	from, err := mail.ParseAddress(fromText)
	if err != nil {
		return sdk.Fail(fmt.Sprintf("Error: invalid from address %q", fromText)), nil
	}
	filename := req.FormParams["filename"]
	if filename == "" {
		filename = req.SuggestedFilename()
	}
	plan := req.ScheduledPlan
	subject := req.FormParams["subject"]
	if subject == "" {
		subject = "Looker"
		if plan != nil && plan.Title != "" {
			subject = plan.Title
		}
	}
	textBody, htmlBody := "Results are attached.", "Results are attached."
	if plan != nil && plan.URL != "" {
		textBody = fmt.Sprintf("View this data in Looker. %s\n Results are attached.", plan.URL)
		htmlBody = fmt.Sprintf(`<p><a href="%s">View this data in Looker.</a></p><p>Results are attached.</p>`, html.EscapeString(plan.URL))
	}
	head, err := json.Marshal(message{
		Personalizations: []Personalization{{To: recipients}},
		From:             Address{Email: from.Address, Name: from.Name},
		Subject:          subject,
		Content:          []Content{{"text/plain", textBody}, {"text/html", htmlBody}},
	})
	if err != nil {
		return nil, err
	}
	mimeType := ""
	if req.Attachment != nil {
		mimeType = strings.TrimSpace(strings.TrimSuffix(req.Attachment.MimeType, ";base64"))
	}
	att := struct {
		Filename    string `json:"filename"`
		Type        string `json:"type,omitempty"`
		Disposition string `json:"disposition"`
	}{filename, mimeType, "attachment"}
	attJSON, _ := json.Marshal(att)
	// {...head, "attachments":[{...att, "content":"<base64>"}]}
	prefix := append(head[:len(head)-1:len(head)-1], `,"attachments":[`...)
	prefix = append(prefix, attJSON[:len(attJSON)-1]...)
	prefix = append(prefix, `,"content":"`...)
	suffix := []byte(`"}]}`)
	overhead := int64(len(prefix) + len(suffix))

	// The data: pushed bytes as they are, a download spooled to a bounded temporary file.
	maxRaw := (MaxMessageBytes - overhead) / 4 * 3
	limit := maxRaw
	if req.Attachment != nil && req.Attachment.Data != nil {
		// Pushed bytes are already in memory: their encoded size is checked below, with
		// its own text.
		limit = int64(len(req.Attachment.Data))
	}
	src, err := req.OpenSized(ctx, limit)
	if err != nil {
		var tl *sdk.TooLargeError
		if errors.As(err, &tl) {
			return sdk.Fail(fmt.Sprintf("Error: the attachment is over %s, more than fits in SendGrid's 30 MB email limit once encoded; send a smaller result or use a storage destination", mb(tl.Limit))), nil
		}
		return sdk.Fail("Error: " + err.Error()), nil
	}
	defer src.Close()
	total := overhead + int64(base64.StdEncoding.EncodedLen(int(src.Size())))
	if total > MaxMessageBytes {
		return sdk.Fail(fmt.Sprintf("Error: the email would be %s (a %s attachment, base64-encoded), over SendGrid's 30 MB limit; send a smaller result or use a storage destination",
			mb(total), mb(src.Size()))), nil
	}
	key := req.Params["sendgrid_api_key"]
	endpoint := a.env.VendorURL("sendgrid", DefaultBaseURL) + "/v3/mail/send"
	newBody := func() io.Reader {
		return io.MultiReader(bytes.NewReader(prefix), newBase64Reader(src.Reader()), bytes.NewReader(suffix))
	}
	res, err := a.send(ctx, endpoint, key, newBody, total)
	a.env.Log().Info("sendgrid mail send", "recipients", len(recipients), "bytes", total,
		"status", res.status, "attempts", res.attempts)
	if err != nil {
		return sdk.Fail("Error: " + a.transportText(ctx, err, key)), nil
	}
	if res.status < 200 || res.status > 299 {
		return sdk.Fail(statusText(res, key)), nil
	}
	return sdk.OK(""), nil
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

type result struct {
	status   int
	body     []byte
	attempts int
	gaveUp   string
}

// send posts the message, retrying answers that say it was not accepted (429 and 503).
// Transport errors are not retried: SendGrid has no idempotency key, and the email may
// have gone out before the connection broke.
func (a *Action) send(ctx context.Context, endpoint, key string, newBody func() io.Reader, size int64) (result, error) {
	clock := a.Clock
	if clock == nil {
		clock = vendorhttp.RealClock{}
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = baseTimeout + time.Duration(size/minRate)*time.Second
	}
	var res result
	for attempt := 1; ; attempt++ {
		res.attempts = attempt
		actx, cancel := context.WithTimeout(ctx, timeout)
		hreq, err := http.NewRequestWithContext(actx, http.MethodPost, endpoint, newBody())
		if err != nil {
			cancel()
			return res, err
		}
		hreq.ContentLength = size
		hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(newBody()), nil }
		hreq.Header.Set("Authorization", "Bearer "+key)
		hreq.Header.Set("Content-Type", "application/json")
		resp, err := a.env.Client().Do(hreq)
		if err != nil {
			cancel()
			return res, err
		}
		res.status = resp.StatusCode
		res.body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		if res.status != http.StatusTooManyRequests && res.status != http.StatusServiceUnavailable {
			return res, nil
		}
		if attempt > maxRetries {
			res.gaveUp = fmt.Sprintf("gave up after %d attempts", attempt)
			return res, nil
		}
		wait, given := retryAfter(resp.Header, clock.Now())
		if !given {
			wait = time.Second << (attempt - 1)
		}
		if wait > maxRetryAfter {
			res.gaveUp = fmt.Sprintf("SendGrid asked to retry after %s, longer than this hub waits", wait.Round(time.Second))
			return res, nil
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return res, err
		}
	}
}

// retryAfter reads SendGrid's wait: Retry-After (seconds or HTTP date), else
// X-RateLimit-Reset, the Unix time the limit resets
// (https://www.twilio.com/docs/sendgrid/api-reference/how-to-use-the-sendgrid-v3-api/rate-limits).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return max(0, time.Unix(n, 0).Sub(now)), true
		}
	}
	return 0, false
}

// statusText explains a refused request with SendGrid's own error messages.
func statusText(res result, key string) string {
	msg := fmt.Sprintf("Error: SendGrid answered HTTP %d %s", res.status, http.StatusText(res.status))
	if res.gaveUp != "" {
		msg += " (" + res.gaveUp + ")"
	}
	switch res.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (check the API key and its Mail Send permission)"
	}
	var body struct {
		Errors []struct {
			Message string `json:"message"`
			Field   any    `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal(res.body, &body) == nil && len(body.Errors) > 0 {
		var parts []string
		for i, e := range body.Errors {
			if i == 5 {
				parts = append(parts, fmt.Sprintf("and %d more", len(body.Errors)-5))
				break
			}
			p := e.Message
			if f, ok := e.Field.(string); ok && f != "" {
				p += " (" + f + ")"
			}
			parts = append(parts, p)
		}
		msg += ": " + strings.Join(parts, "; ")
	}
	return vendorhttp.Redact(msg, key)
}

func (a *Action) transportText(ctx context.Context, err error, key string) string {
	var de *sdk.DownloadError
	var ne net.Error
	switch {
	case errors.As(err, &de):
		return "could not read the data from Looker: " + de.Error()
	case ctx.Err() != nil:
		return "the request was cancelled"
	case errors.As(err, &ne) && ne.Timeout():
		return "SendGrid did not answer in time; the email may or may not have been sent"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return vendorhttp.Redact("could not reach SendGrid: "+err.Error(), key)
}
