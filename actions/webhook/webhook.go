// Package webhook is the shared base of the actions that POST Looker's query results to a
// webhook URL the user pastes into the form: zapier and tray (the Node hub's
// WebhookAction). It registers no action itself.
//
// What it does: the URL must be https and its host must be one of the vendor's domains or
// a subdomain of one, compared label by label ("evilzapier.com" and "zapier.com.evil.io"
// are not zapier.com); the data is streamed from Looker's one-time download URL straight
// into the POST body, never held whole; the connection goes through internal/netguard,
// which refuses loopback, link-local, cloud-metadata and private addresses at dial time
// (so DNS rebinding cannot point a vendor name inward) unless an on-prem install sets
// ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS=true; redirects are not followed; a receiver that stops
// reading is detected; and the answer's status decides success.
//
// A failed POST is not retried: the body comes from a one-time download URL and is gone
// once sent. Looker's schedule retry is the retry.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Defaults of Action's zero fields.
const (
	// DefaultIdleTimeout is how long the receiver may stop reading the body before the
	// POST is abandoned.
	DefaultIdleTimeout = 2 * time.Minute
	// maxAnswerBytes is how much of the receiver's answer is read for messages, within
	// answerTimeout.
	maxAnswerBytes = 4 << 10
	answerTimeout  = 30 * time.Second
	// maxSnippet is how much of an error answer is quoted to the user.
	maxSnippet = 200
)

// Config describes one webhook action.
type Config struct {
	Name        string
	Label       string
	Description string
	// Icon is a data URI.
	Icon string
	// Vendor names the receiver in messages ("Zapier").
	Vendor string
	// URLLabel is the label of the form's url field ("Zapier Webhook URL").
	URLLabel string
	// Domains are the registrable domains the URL's host must be in or under.
	Domains []string
}

// Action is a webhook action. Build it with New.
type Action struct {
	cfg Config
	env *sdk.Env
	// Client sends the POST; New builds one guarded by netguard from the environment.
	Client *http.Client
	// IdleTimeout bounds how long the receiver may stop reading; zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// New returns the action for cfg, with a client guarded by the policy of env
// (netguard.AllowPrivateVar).
func New(env *sdk.Env, cfg Config) *Action {
	return &Action{cfg: cfg, env: env, Client: netguard.FromEnv(env.Get).Client()}
}

// Definition is the Node WebhookAction's: query results as json_detail, unformatted,
// streamed.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                              a.cfg.Name,
		Label:                             a.cfg.Label,
		Description:                       a.cfg.Description,
		Icon:                              a.cfg.Icon,
		Params:                            []sdk.Param{},
		RequiredFields:                    []sdk.RequiredField{},
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		SupportedFormats:                  []sdk.Format{sdk.FormatJSONDetail},
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
		Streaming:                         true,
	}
}

// Form asks for the webhook URL.
func (a *Action) Form(context.Context, *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{{Label: a.cfg.URLLabel, Name: "url", Required: true, Type: sdk.FieldString}}}, nil
}

// CheckURL validates a webhook URL: it returns the Node hub's texts for a missing URL or
// a host outside the domains, and refuses non-https URLs and URLs with credentials.
func CheckURL(raw string, domains []string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, sdk.Errorf("Missing url.")
	}
	if len(domains) == 0 {
		return nil, sdk.Errorf("Action requires a domain.")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !netguard.HostIn(u.Hostname(), domains...) {
		return nil, sdk.Errorf("Incorrect domain for url.")
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return nil, sdk.Errorf("The webhook URL must start with https://.")
	}
	if u.User != nil {
		return nil, sdk.Errorf("The webhook URL must not contain a user name or password.")
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// Execute streams the data to the webhook.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	u, err := CheckURL(req.FormParams["url"], a.cfg.Domains)
	if err != nil {
		return nil, err
	}
	src, err := req.Open(ctx)
	if err != nil {
		if _, ok := sdk.AsError(err); ok {
			return nil, err
		}
		return sdk.Fail(fmt.Sprintf("Could not read the data from Looker: %v", err)), nil
	}
	defer src.Close()
	counted := &countingReader{r: src}
	idle := a.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	pctx, body, stop := netguard.WatchBody(ctx, counted, idle)
	defer stop()
	hreq, err := http.NewRequestWithContext(pctx, http.MethodPost, u.String(), body)
	if err != nil {
		return nil, sdk.Errorf("Incorrect domain for url.")
	}
	// json_detail is JSON: say so, so the receiver parses it into fields.
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", "actionhub-webhook/"+a.cfg.Name)
	start := time.Now()
	resp, err := a.Client.Do(hreq)
	if err != nil {
		msg := a.transportMessage(ctx, pctx, err, counted.n)
		a.env.Log().Warn("webhook POST failed", "action", a.cfg.Name, "host", u.Hostname(),
			"bytes", counted.n, "reason", msg)
		return sdk.Fail(msg), nil
	}
	defer resp.Body.Close()
	// The status decides; the answer's first bytes only explain a failure, and a receiver
	// that stalls while sending them does not hold the execute.
	t := time.AfterFunc(answerTimeout, stop)
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	t.Stop()
	a.env.Log().Info("webhook POST", "action", a.cfg.Name, "host", u.Hostname(), "status", resp.StatusCode,
		"bytes", counted.n, "duration", time.Since(start).Round(time.Millisecond))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return sdk.OK(""), nil
	}
	return sdk.Fail(a.statusMessage(resp, answer)), nil
}

func (a *Action) statusMessage(resp *http.Response, answer []byte) string {
	code := resp.StatusCode
	msg := fmt.Sprintf("%s answered HTTP %d", a.cfg.Vendor, code)
	if t := http.StatusText(code); t != "" {
		msg += " " + t
	}
	switch {
	case code >= 300 && code < 400:
		msg += ": the webhook URL redirects elsewhere; paste the webhook's final URL"
	case code == http.StatusTooManyRequests:
		msg += ": the webhook is rate limited"
		if ra := strings.TrimSpace(resp.Header.Get("Retry-After")); ra != "" {
			if secs, err := strconv.Atoi(ra); err == nil {
				msg += fmt.Sprintf(" (retry after %ds)", secs)
			}
		}
		msg += "; the data could not be re-sent because Looker's download can be read only once"
	case code == http.StatusNotFound || code == http.StatusGone:
		msg += ": the webhook does not exist (any more); check the URL or turn the " + a.cfg.Vendor + " trigger on"
	}
	if s := snippet(answer); s != "" {
		msg += ": " + s
	}
	return msg
}

func (a *Action) transportMessage(ctx, pctx context.Context, err error, sent int64) string {
	var de *sdk.DownloadError
	var be *netguard.BlockedError
	switch {
	case errors.As(err, &de):
		return "Could not read the data from Looker: " + de.Error()
	case errors.As(err, &be):
		return be.Error()
	case errors.Is(context.Cause(pctx), netguard.ErrStalled):
		return fmt.Sprintf("%s stopped reading the data after %d bytes", a.cfg.Vendor, sent)
	case ctx.Err() != nil:
		return "The request was cancelled before " + a.cfg.Vendor + " answered"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("%s did not answer in time (after %d bytes sent)", a.cfg.Vendor, sent)
	}
	// *url.Error repeats the URL, whose path is the webhook's secret: keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("Could not send the data to %s: %v", a.cfg.Vendor, err)
}

// snippet is the start of an answer, fit to quote: HTML pages are dropped, credentials
// and URL query strings redacted.
func snippet(b []byte) string {
	s := vendorhttp.Redact(strings.TrimSpace(string(b)))
	if strings.HasPrefix(s, "<") {
		return "" // an HTML error page
	}
	if len(s) > maxSnippet {
		s = s[:maxSnippet]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
