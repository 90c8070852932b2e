// Package firebase is the firebase action ("Firebase") of the Action Hub: Looker's mobile
// app alert notifications, sent as push notifications through Firebase Cloud Messaging.
//
// It uses FCM's HTTP v1 API, POST https://fcm.googleapis.com/v1/projects/{project}/messages:send,
// one request per device (the legacy API and multicast batch sends are gone:
// https://firebase.google.com/docs/cloud-messaging/migrate-v1), authorised by an OAuth 2.0
// access token of the hub's service account (JWT bearer grant, cached and refreshed by the
// action itself; no process-global SDK app).
//
// Registered only when FIREBASE_PROJECT_ID, FIREBASE_CLIENT_EMAIL and FIREBASE_PRIVATE_KEY
// are set; the key may hold literal "\n" for newlines. The Node hub also required
// FIREBASE_DATABASE, which FCM never used; it is not needed here.
// ACTION_HUB_VENDOR_URL_FCM and ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH_TOKEN override the two
// endpoints (tests).
//
// Execute reads the form params Looker sends: "data" (an object with alert_id, sent as the
// message's data), "title", and "deviceIds" (JSON: an array of arrays of
// {device_id, user_id}); optional "timeToLive" (seconds) and "priority" ("high" or
// "normal") apply to that request only (the Node hub changed them for every later request
// and then never used them). Devices are notified with bounded concurrency; a device FCM
// refuses (UNREGISTERED: the app was removed; INVALID_ARGUMENT: a bad token) is a rejection
// in the delivery report rather than the end of the execute, and a device listed twice is
// notified once.
package firebase

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name.
const Name = "firebase"

// Environment variables.
const (
	EnvProjectID   = "FIREBASE_PROJECT_ID"
	EnvClientEmail = "FIREBASE_CLIENT_EMAIL"
	EnvPrivateKey  = "FIREBASE_PRIVATE_KEY"
)

// Endpoints and scope.
const (
	// DefaultFCMURL is the FCM HTTP v1 host.
	DefaultFCMURL = "https://fcm.googleapis.com"
	// DefaultTokenURL is Google's OAuth 2.0 token endpoint.
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	// Scope is the OAuth scope of FCM sends.
	// https://firebase.google.com/docs/cloud-messaging/auth-server
	Scope = "https://www.googleapis.com/auth/firebase.messaging"
)

// FCM limits and delivery tunables.
const (
	// ProjectQuotaPerMinute is FCM's send quota: 600,000 messages per minute per project.
	// https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas
	ProjectQuotaPerMinute = 600_000
	// DefaultRate is the sends per second the hub allows itself per project, well inside
	// the quota (which is shared with the project's other senders).
	DefaultRate = 500
	// DefaultMaxInFlight is the number of sends at once.
	DefaultMaxInFlight = 8
	// DefaultTTL is how long FCM keeps an undelivered notification (the Node hub's 24 h).
	DefaultTTL = 24 * time.Hour
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() { sdk.Register(Module(Options{})) }

// Options tune the action; the zero value is the production setting.
type Options struct {
	// HTTP overrides fields of the vendor client's configuration.
	HTTP vendorhttp.Config
	// MaxInFlight is the number of sends at once (default DefaultMaxInFlight).
	MaxInFlight int
	// Now is the clock of apns-expiration (nil: time.Now).
	Now func() time.Time
}

// Module returns the registrable action.
func Module(opts Options) sdk.Module {
	return sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) { return New(env, opts) }}
}

// Action is the firebase action.
type Action struct {
	project string
	url     string
	tokens  oauth2.TokenSource
	client  *vendorhttp.Client
	opts    Options
}

// New returns the action, or an error wrapping sdk.ErrNotConfigured without the service
// account variables.
func New(env *sdk.Env, opts Options) (*Action, error) {
	v, err := env.Require(EnvProjectID, EnvClientEmail, EnvPrivateKey)
	if err != nil {
		return nil, err
	}
	key := strings.ReplaceAll(v[2], `\n`, "\n")
	if b, _ := pem.Decode([]byte(key)); b == nil {
		return nil, fmt.Errorf("%s is not a PEM private key", EnvPrivateKey)
	}
	jc := &jwt.Config{Email: v[1], PrivateKey: []byte(key), Scopes: []string{Scope},
		TokenURL: env.VendorURL("google_oauth_token", DefaultTokenURL)}
	tctx := context.WithValue(context.Background(), oauth2.HTTPClient, env.Client())
	cfg := vendorhttp.Config{Vendor: "fcm", Client: env.Client(), Rate: DefaultRate, Burst: DefaultRate / 10}
	o := opts.HTTP
	if o.Rate > 0 {
		cfg.Rate, cfg.Burst = o.Rate, o.Burst
	} else if o.Rate < 0 {
		cfg.Rate, cfg.Burst = 0, 0
	}
	if o.MaxRetries != 0 {
		cfg.MaxRetries = o.MaxRetries
	}
	if o.MinBackoff != 0 {
		cfg.MinBackoff = o.MinBackoff
	}
	if o.MaxBackoff != 0 {
		cfg.MaxBackoff = o.MaxBackoff
	}
	if o.Timeout != 0 {
		cfg.Timeout = o.Timeout
	}
	if o.Clock != nil {
		cfg.Clock = o.Clock
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Action{project: v[0], tokens: oauth2.ReuseTokenSource(nil, jc.TokenSource(tctx)),
		url:    env.VendorURL("fcm", DefaultFCMURL) + "/v1/projects/" + v[0] + "/messages:send",
		client: vendorhttp.New(cfg), opts: opts}, nil
}

// Definition describes the action as the Node hub lists it.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                              Name,
		Label:                             "Firebase",
		Description:                       "Use firebase to send push notifications to mobile.",
		Icon:                              icon,
		Params:                            []sdk.Param{},
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		SupportedFormats:                  []sdk.Format{sdk.FormatJSONDetail},
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
		MinimumLookerVersion:              "22.3.0",
	}
}

// device is one target of the deviceIds param.
type device struct {
	DeviceID any `json:"device_id"`
	UserID   any `json:"user_id"`
}

// text is JavaScript's toString of a JSON value, "" for null and empty values.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// truthy is JavaScript's truthiness of a decoded JSON value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case bool:
		return x
	case json.Number:
		f, _ := x.Float64()
		return f != 0
	}
	return true
}

func decode(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	return d.Decode(v)
}

// Execute notifies every device of deviceIds.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	raw := req.FormParams["data"]
	if raw == "" {
		return nil, sdk.Errorf("Need valid notification data.")
	}
	var data map[string]any
	if decode(raw, &data) != nil || !truthy(data["alert_id"]) {
		return nil, sdk.Errorf("Need Valid AlertId.")
	}
	title := req.FormParams["title"]
	if title == "" {
		return nil, sdk.Errorf("Needs a valid title.")
	}
	if strings.TrimSpace(req.FormParams["deviceIds"]) == "" {
		return sdk.OK(""), nil
	}
	var users [][]device
	if err := decode(req.FormParams["deviceIds"], &users); err != nil {
		return nil, sdk.Errorf("Invalid deviceIds: want a JSON array of arrays of {device_id, user_id}.")
	}
	ttl := DefaultTTL
	if s := req.FormParams["timeToLive"]; s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 {
			ttl = time.Duration(f * float64(time.Second))
		}
	}
	high := !strings.EqualFold(req.FormParams["priority"], "normal")

	// FCM data values must be strings (the Node hub passed objects through).
	msgData := make(map[string]string, len(data)+2)
	for k, v := range data {
		msgData[k] = text(v)
	}
	msgData["id"] = uuid4()
	body := ""
	if name := text(data["dashboard_name"]); name != "" {
		body = "On " + name // without a name, no body (the Node hub wrote "On undefined")
	}

	report := sdk.NewReport()
	report.Unit = "notifications"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := batch.New(batch.Config{MaxItems: 1, MaxInFlight: a.opts.MaxInFlight, ItemRetries: -1}, report,
		func(ctx context.Context, bt *batch.Batch) error { return a.send(ctx, bt, report, cancel) })
	seen := map[string]bool{}
	var n int64
	expiry := strconv.FormatInt(a.opts.Now().Add(ttl).Unix(), 10)
	for _, devices := range users {
		for _, d := range devices {
			tok, user := text(d.DeviceID), text(d.UserID)
			if tok == "" || user == "" {
				continue // as the Node hub: entries without both ids are not targets
			}
			n++
			report.AddRead(1)
			if seen[tok] {
				report.AddSkipped(1)
				continue
			}
			seen[tok] = true
			msgData["user_id"] = user
			m := message{Token: tok, Notification: notification{Title: title, Body: body}, Data: msgData,
				Android: android{Priority: "NORMAL", TTL: fmt.Sprintf("%ds", int64(ttl/time.Second))},
				APNS: apns{Headers: map[string]string{"apns-priority": "5", "apns-expiration": expiry},
					Payload: map[string]any{"aps": map[string]any{"content-available": 1, "mutable-content": 1}}}}
			if high {
				m.Android.Priority, m.APNS.Headers["apns-priority"] = "HIGH", "10"
			}
			rec, _ := json.Marshal(map[string]any{"message": m})
			if err := b.Add(ctx, n, rec); err != nil {
				break
			}
		}
	}
	b.Close(ctx)
	return sdk.FromReport(report), nil
}

// message is FCM v1's Message. https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages
type message struct {
	Token        string            `json:"token"`
	Notification notification      `json:"notification"`
	Data         map[string]string `json:"data"`
	Android      android           `json:"android"`
	APNS         apns              `json:"apns"`
}

type notification struct {
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
}

// android is AndroidConfig. The v1 API takes priority as the enum name (HIGH, NORMAL)
// and ttl as a duration string ("86400s"), where the admin SDK took "high" and
// milliseconds: the vendor's API wins.
type android struct {
	Priority string `json:"priority"`
	TTL      string `json:"ttl"`
}

type apns struct {
	Headers map[string]string `json:"headers"`
	Payload map[string]any    `json:"payload"`
}

// fcmError is FCM's error body.
type fcmError struct {
	Error struct {
		Status  string `json:"status"`
		Message string `json:"message"`
		Details []struct {
			ErrorCode string `json:"errorCode"`
		} `json:"details"`
	} `json:"error"`
}

func maskToken(t string) string {
	if len(t) <= 6 {
		return "device …"
	}
	return "device …" + t[len(t)-6:]
}

// send posts one message. Refused devices are rejected; a refused credential stops the
// execute.
func (a *Action) send(ctx context.Context, b *batch.Batch, report *sdk.Report, cancel context.CancelFunc) error {
	var m struct {
		Message struct{ Token string } `json:"message"`
	}
	json.Unmarshal(b.Items[0], &m)
	who := maskToken(m.Message.Token)
	tok, err := a.tokens.Token()
	if err != nil {
		reason := "Google refused the service account's token request: " +
			vendorhttp.Redact(oauthErrText(err))
		report.Fatal(reason)
		b.FailAll(reason)
		cancel()
		return nil
	}
	auth := "Bearer " + tok.AccessToken
	resp, err := a.client.Do(ctx, &vendorhttp.Request{Method: http.MethodPost, URL: a.url,
		Header: http.Header{"Authorization": {auth}, "Content-Type": {"application/json"}},
		Body:   b.Items[0], Credential: a.project, Secrets: []string{auth, tok.AccessToken, m.Message.Token}})
	report.AddRetries(vendorhttp.Retries(resp, err))
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) {
		b.Fail(0, who+": "+err.Error())
		return nil
	}
	var fe fcmError
	code := se.Message
	if resp != nil && json.Unmarshal(resp.Body, &fe) == nil && fe.Error.Status != "" {
		code = fe.Error.Status
		for _, d := range fe.Error.Details {
			if d.ErrorCode != "" {
				code = d.ErrorCode
			}
		}
		code += ": " + strings.ReplaceAll(fe.Error.Message, m.Message.Token, "…")
	}
	if se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden {
		reason := fmt.Sprintf("FCM refused the service account (HTTP %d %s)", se.Status, code)
		report.Fatal(reason)
		b.FailAll(reason)
		cancel()
		return nil
	}
	b.Fail(0, fmt.Sprintf("%s: %s", who, code))
	return nil
}

// oauthErrText is a token error's text without the raw response body.
func oauthErrText(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return strings.TrimSpace(re.ErrorCode + " " + re.ErrorDescription)
		}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(re.Body, &e) == nil && e.Error != "" {
			return strings.TrimSpace(e.Error + " " + e.Description)
		}
		if re.Response != nil {
			return re.Response.Status
		}
	}
	return "the token endpoint could not be reached"
}

// uuid4 returns a random RFC 4122 version 4 UUID.
func uuid4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s bytes.Buffer
	fmt.Fprintf(&s, "%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	return s.String()
}
