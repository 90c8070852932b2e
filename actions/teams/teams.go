// Package teams is the "teams_incomingwebhook" action: it posts a card with a title, a
// text, a "View in Looker" link and optionally the schedule's metadata to a Microsoft
// Teams channel through a webhook URL the user pastes into the form. The rendered data
// itself is not sent (as in the Node hub).
//
// Two kinds of webhook are supported, because Microsoft is retiring the Office 365
// connectors the Node action was written for:
//   - Teams Workflows (Power Automate "When a Teams webhook request is received"), hosts
//     such as *.logic.azure.com, *.environment.api.powerplatform.com or
//     *.powerautomate.com: the card is an Adaptive Card in the Bot Framework message
//     envelope {"type":"message","attachments":[{"contentType":
//     "application/vnd.microsoft.card.adaptive","content":{...}}]}; success is any 2xx
//     (Workflows answers 202 with no body).
//   - Legacy Office 365 connectors (*.webhook.office.com, outlook.office.com): the Node
//     action's MessageCard, byte for byte; success is the connector's "1" answer.
//
// The form's "Webhook Type" field picks one; "auto" (the default, and what schedules made
// with the Node hub get) decides from the URL's host. Unknown hosts get the MessageCard,
// which is what they received from the Node hub.
//
// Requests go through internal/netguard (no loopback, link-local, metadata or private
// addresses unless ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS=true), must be https, time out, and
// are retried (a bounded number of times) only on answers that say the card was not
// posted: 429 (honouring Retry-After; Teams throttles more than 4 requests a second) and
// 503.
package teams

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
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

// Name is the action's name in the Action API.
const Name = "teams_incomingwebhook"

// Vendor limits.
const (
	// MaxMessageBytes is the size Teams accepts for one posted message ("about 28 KB"):
	// https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
	MaxMessageBytes = 28 * 1024
	// RatePerSecond is the incoming-webhook throttle: more than 4 requests in one second
	// get HTTP 429 (same page). One execute sends one request; 429s are retried.
	RatePerSecond = 4
	// AdaptiveCardVersion is the schema version of the cards sent to Workflows; 1.4 is
	// what Teams renders on every client.
	AdaptiveCardVersion = "1.4"
)

// Retries and waits.
const (
	maxRetries     = 3
	callTimeout    = 30 * time.Second
	maxRetryAfter  = time.Minute
	maxAnswerBytes = 64 << 10
)

// Webhook kinds, the values of the form's webhookType field.
const (
	KindAuto      = "auto"
	KindWorkflows = "workflows"
	KindConnector = "connector"
)

// workflowDomains are the hosts of Teams Workflows (Power Automate) webhook triggers.
var workflowDomains = []string{"logic.azure.com", "powerautomate.com", "powerplatform.com", "flow.microsoft.com"}

// connectorDomains are the hosts of the legacy Office 365 connector webhooks.
var connectorDomains = []string{"webhook.office.com", "outlook.office.com", "outlook.office365.com"}

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() { sdk.Register(sdk.Module{Name: Name, New: New}) }

// New returns the action, with a client guarded by the environment's netguard policy.
func New(env *sdk.Env) (sdk.Action, error) {
	return &Action{env: env, Client: netguard.FromEnv(env.Get).Client()}, nil
}

// Action is the Teams action.
type Action struct {
	env *sdk.Env
	// Client sends the card; New builds one guarded by netguard.
	Client *http.Client
	// Clock times retry waits (nil: the real clock).
	Clock vendorhttp.Clock
	// Timeout bounds each attempt; zero means 30s.
	Timeout time.Duration
}

// Definition is the Node action's.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                              Name,
		Label:                             "Teams - Incoming Webhook",
		Description:                       "Send data to Teams Incoming webhook",
		Icon:                              icon,
		Params:                            []sdk.Param{},
		RequiredFields:                    []sdk.RequiredField{},
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery, sdk.TypeDashboard},
		SupportedFormats:                  []sdk.Format{sdk.FormatCSV, sdk.FormatWysiwygPNG, sdk.FormatWysiwygPDF},
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
	}
}

// Form is the Node action's form plus the webhook type.
func (a *Action) Form(context.Context, *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{
		{Label: "Webhook URL", Name: "webhookUrl", Required: true, Type: sdk.FieldString},
		{Label: "Title", Name: "title", Required: true, Type: sdk.FieldString},
		{Label: "Text", Name: "text", Type: sdk.FieldTextarea},
		{Label: "Attach Meta Data", Description: "attach meta data(type,title,model,view)", Default: "false",
			Name: "isAttached", Type: sdk.FieldSelect,
			Options: []sdk.Option{{Name: "false", Label: "false"}, {Name: "true", Label: "true"}}},
		{Label: "Webhook Type", Name: "webhookType", Type: sdk.FieldSelect, Default: KindAuto,
			Description: "Teams Workflows webhooks take Adaptive Cards; the retired Office 365 connectors took MessageCards. Auto decides from the URL.",
			Options: []sdk.Option{
				{Name: KindAuto, Label: "Detect from the URL"},
				{Name: KindWorkflows, Label: "Teams Workflows (Adaptive Card)"},
				{Name: KindConnector, Label: "Office 365 connector (MessageCard)"},
			}},
	}}, nil
}

// KindOf returns the webhook kind for a URL and the form's choice.
func KindOf(u *url.URL, choice string) string {
	switch choice {
	case KindWorkflows, KindConnector:
		return choice
	}
	switch host := u.Hostname(); {
	case netguard.HostIn(host, workflowDomains...):
		return KindWorkflows
	case netguard.HostIn(host, connectorDomains...):
		return KindConnector
	}
	return KindConnector
}

// Execute posts the card.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	f := req.FormParams
	if f["webhookUrl"] == "" {
		return nil, sdk.Errorf("Teams Error: Need a webhookUrl")
	}
	if f["title"] == "" {
		return nil, sdk.Errorf("Teams Error: Need a title")
	}
	if f["isAttached"] == "" {
		return nil, sdk.Errorf("Teams Error: Need a attach flag")
	}
	if req.ScheduledPlan == nil {
		return nil, sdk.Errorf("Teams Error: Couldn't get data from scheduledPlan")
	}
	u, err := url.Parse(strings.TrimSpace(f["webhookUrl"]))
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" || u.User != nil {
		return nil, sdk.Errorf("Teams Error: the webhookUrl must be an https:// URL without a user name or password")
	}
	if c := f["webhookType"]; c != "" && c != KindAuto && c != KindWorkflows && c != KindConnector {
		return nil, sdk.Errorf("Teams Error: unknown webhookType %q", c)
	}
	kind := KindOf(u, f["webhookType"])
	var payload any
	if kind == KindWorkflows {
		payload = adaptiveMessage(req)
	} else {
		payload = messageCard(req)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	if len(body) > MaxMessageBytes {
		return sdk.Fail(fmt.Sprintf("Teams Error: the message is %d bytes, over the %d bytes Teams accepts; shorten the text", len(body), MaxMessageBytes)), nil
	}
	res, err := a.post(ctx, u, body)
	a.env.Log().Info("teams webhook", "kind", kind, "host", u.Hostname(), "status", res.status, "attempts", res.attempts)
	if err != nil {
		return sdk.Fail("Teams Error: " + a.transportText(ctx, err, u)), nil
	}
	answer := vendorhttp.Redact(short(strings.TrimSpace(string(res.body))), u.EscapedPath(), u.RawQuery)
	if res.status < 200 || res.status > 299 {
		msg := fmt.Sprintf("Teams Error: HTTP %d %s", res.status, http.StatusText(res.status))
		if res.gaveUp != "" {
			msg += " (" + res.gaveUp + ")"
		}
		if res.status == http.StatusNotFound || res.status == http.StatusGone {
			msg += " (the webhook does not exist; Office 365 connectors are retired: create a Teams Workflows webhook)"
		}
		if answer != "" && !strings.HasPrefix(answer, "<") {
			msg += ": " + answer
		}
		return sdk.Fail(msg), nil
	}
	// A connector answers "1" when it posted the card, anything else is its error (it has
	// answered errors with status 200). A Workflows webhook given a MessageCard answers 202
	// with no body, as for any card.
	if kind == KindConnector && answer != "1" && !(res.status == http.StatusAccepted && answer == "") {
		return sdk.Fail("Teams Error: " + answer), nil
	}
	return sdk.OK("success"), nil
}

type result struct {
	status   int
	body     []byte
	attempts int
	gaveUp   string
}

// post sends body, retrying answers that say the card was not posted (429 and 503, after
// Retry-After or a backoff). Transport errors are not retried: the card may have been
// posted before the connection broke.
func (a *Action) post(ctx context.Context, u *url.URL, body []byte) (result, error) {
	clock := a.Clock
	if clock == nil {
		clock = vendorhttp.RealClock{}
	}
	var res result
	for attempt := 1; ; attempt++ {
		res.attempts = attempt
		actx, cancel := context.WithTimeout(ctx, a.timeout())
		hreq, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			cancel()
			return res, err
		}
		hreq.Header.Set("Content-Type", "application/json")
		resp, err := a.Client.Do(hreq)
		if err != nil {
			cancel()
			return res, err
		}
		res.status = resp.StatusCode
		res.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
		resp.Body.Close()
		cancel()
		if err != nil {
			return res, err
		}
		if res.status != http.StatusTooManyRequests && res.status != http.StatusServiceUnavailable {
			return res, nil
		}
		if attempt > maxRetries {
			res.gaveUp = fmt.Sprintf("gave up after %d attempts", attempt)
			return res, nil
		}
		wait, given := retryAfter(resp.Header.Get("Retry-After"), clock.Now())
		if !given {
			wait = time.Second << (attempt - 1)
		}
		if wait > maxRetryAfter {
			res.gaveUp = fmt.Sprintf("Teams asked to retry after %s, longer than this hub waits", wait.Round(time.Second))
			return res, nil
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return res, err
		}
	}
}

func (a *Action) timeout() time.Duration {
	if a.Timeout > 0 {
		return a.Timeout
	}
	return callTimeout
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// transportText explains a request that got no answer, without the URL (its path and
// query are the webhook's secret) or the resolved address.
func (a *Action) transportText(ctx context.Context, err error, u *url.URL) string {
	var be *netguard.BlockedError
	var ne net.Error
	switch {
	case errors.As(err, &be):
		return be.Error()
	case ctx.Err() != nil:
		return "the request was cancelled"
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("Teams did not answer within %s", a.timeout())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return vendorhttp.Redact(err.Error(), u.String(), u.EscapedPath(), u.RawQuery)
}

func short(s string) string {
	if len(s) > 300 {
		s = s[:300]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return s + "…"
	}
	return s
}

// text is the form's text with every newline doubled (Teams markdown needs a blank line
// to break a line), as in the Node action.
func text(req *sdk.Request) string {
	return strings.ReplaceAll(req.FormParams["text"], "\n", "\n\n")
}

type fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// facts is the optional metadata: type, title, and for queries model and view.
func facts(req *sdk.Request) []fact {
	if req.FormParams["isAttached"] != "true" {
		return nil
	}
	p := req.ScheduledPlan
	out := []fact{{"Type :", p.Type}, {"Title :", p.Title}}
	if req.Type == sdk.TypeQuery && p.Query != nil {
		out = append(out, fact{"Model :", p.Query.Model}, fact{"View :", p.Query.View})
	}
	return out
}

// MessageCard is the Office 365 connector card of the Node action.
type MessageCard struct {
	Type            string           `json:"@type"`
	Context         string           `json:"@context"`
	ThemeColor      string           `json:"themeColor"`
	Summary         string           `json:"summary"`
	Title           string           `json:"title"`
	Text            string           `json:"text"`
	Sections        []MessageSection `json:"sections"`
	PotentialAction []OpenURIAction  `json:"potentialAction"`
}

// MessageSection is a MessageCard section.
type MessageSection struct {
	Facts []fact `json:"facts"`
}

// OpenURIAction is a MessageCard link button.
type OpenURIAction struct {
	Type    string      `json:"@type"`
	Name    string      `json:"name"`
	Targets []URITarget `json:"targets"`
}

// URITarget is an OpenUri target.
type URITarget struct {
	OS  string `json:"os"`
	URI string `json:"uri,omitempty"`
}

func messageCard(req *sdk.Request) *MessageCard {
	c := &MessageCard{
		Type: "MessageCard", Context: "http://schema.org/extensions", ThemeColor: "5035b4",
		Summary: "Looker Reports", Title: req.FormParams["title"], Text: text(req),
		Sections: []MessageSection{},
		PotentialAction: []OpenURIAction{{Type: "OpenUri", Name: "View in Looker",
			Targets: []URITarget{{OS: "default", URI: req.ScheduledPlan.URL}}}},
	}
	if f := facts(req); f != nil {
		c.Sections = append(c.Sections, MessageSection{Facts: f})
	}
	return c
}

// Message is the Bot Framework message envelope Workflows webhooks take.
type Message struct {
	Type        string       `json:"type"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment carries one card.
type Attachment struct {
	ContentType string        `json:"contentType"`
	ContentURL  *string       `json:"contentUrl"`
	Content     *AdaptiveCard `json:"content"`
}

// AdaptiveCard is the card (https://adaptivecards.io/explorer/AdaptiveCard.html).
type AdaptiveCard struct {
	Schema  string            `json:"$schema"`
	Type    string            `json:"type"`
	Version string            `json:"version"`
	Body    []any             `json:"body"`
	Actions []any             `json:"actions,omitempty"`
	MSTeams map[string]string `json:"msteams,omitempty"`
}

type textBlock struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Weight string `json:"weight,omitempty"`
	Size   string `json:"size,omitempty"`
	Wrap   bool   `json:"wrap"`
}

type factSet struct {
	Type  string       `json:"type"`
	Facts []cardFactKV `json:"facts"`
}

type cardFactKV struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type openURL struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

func adaptiveMessage(req *sdk.Request) *Message {
	card := &AdaptiveCard{
		Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard",
		Version: AdaptiveCardVersion, MSTeams: map[string]string{"width": "Full"},
		Body: []any{textBlock{Type: "TextBlock", Text: req.FormParams["title"], Weight: "Bolder", Size: "Medium", Wrap: true}},
	}
	if t := text(req); t != "" {
		card.Body = append(card.Body, textBlock{Type: "TextBlock", Text: t, Wrap: true})
	}
	if fs := facts(req); fs != nil {
		set := factSet{Type: "FactSet"}
		for _, f := range fs {
			set.Facts = append(set.Facts, cardFactKV{Title: f.Name, Value: f.Value})
		}
		card.Body = append(card.Body, set)
	}
	// Action.OpenUrl requires a URL: without one the card would be refused.
	if u := req.ScheduledPlan.URL; u != "" {
		card.Actions = []any{openURL{Type: "Action.OpenUrl", Title: "View in Looker", URL: u}}
	}
	return &Message{Type: "message", Attachments: []Attachment{{
		ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}
