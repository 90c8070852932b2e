// Package twilio is the two Twilio actions of the Action Hub: twilio ("Twilio - Send
// Data"), which texts the first lines of a query's CSV to one phone number, and
// twilio_message ("Twilio - Send Message"), which texts a fixed message to every phone
// number of a column tagged "phone", or to a clicked cell.
//
// Both send through Twilio's Message resource, POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, with HTTP Basic auth
// (account SID : auth token), by the shared vendor client: a token bucket per account,
// bounded retries honouring Retry-After (Twilio's 429 is error 20429, always safe to
// retry), and redacted errors.
//
// Improvements on the Node hub: phone numbers are checked to be E.164 before sending and a
// row with a bad number is rejected with its reason; twilio_message sends with bounded
// concurrency within a rate limit instead of all at once, skips duplicate numbers, and
// answers with a delivery report that lists which numbers failed and why (numbers masked
// but for their last four digits) instead of the first error. A "from" that is a
// Messaging Service SID (MG…) is sent as MessagingServiceSid.
//
// Environment: ACTION_HUB_VENDOR_URL_TWILIO overrides https://api.twilio.com (tests,
// proxies); TWILIO_RATE_LIMIT sets the requests per second per account (default
// DefaultRate; 0 turns the hub's limit off and leaves Twilio's own queueing and 429s).
package twilio

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Action names.
const (
	NameSendData = "twilio"
	NameMessage  = "twilio_message"
)

// Admin params, named as in the Node hub.
const (
	ParamAccountSID = "accountSid"
	ParamAuthToken  = "authToken"
	ParamFrom       = "from"
)

// TagPhone is the field tag twilio_message reads the numbers from.
const TagPhone = "phone"

// DefaultBaseURL is Twilio's REST API.
const DefaultBaseURL = "https://api.twilio.com"

// Twilio's documented limits.
const (
	// MaxMessageChars is the longest body Twilio accepts (1,600 characters; longer bodies
	// are refused with error 21617). https://www.twilio.com/docs/api/errors/21605
	MaxMessageChars = 1600
	// MaxLines is how many CSV lines twilio (Send Data) puts in its message.
	MaxLines = 10
	// LongCodeMPS is the sending rate of a US long code (1 segment per second); excess
	// messages wait in Twilio's queue. https://www.twilio.com/docs/api/errors/30001
	LongCodeMPS = 1
	// AccountMaxMPS is the rate above which an account and its subaccounts get error 63017.
	// https://www.twilio.com/docs/api/errors/63017
	AccountMaxMPS = 2000
)

// Delivery tunables.
const (
	// DefaultRate is the requests per second per account the hub allows itself. It stays
	// far below AccountMaxMPS; messages faster than the sender's own throughput
	// (LongCodeMPS for a long code) wait in Twilio's queue, which holds hours of them.
	DefaultRate = 10
	// DefaultBurst is the token bucket's size.
	DefaultBurst = 5
	// DefaultMaxInFlight is the number of messages being created at once; Twilio refuses
	// too many concurrent requests with error 20429. https://www.twilio.com/docs/api/errors/20429
	DefaultMaxInFlight = 4
	// EnvRateLimit overrides DefaultRate (requests per second per account; 0 = off).
	EnvRateLimit = "TWILIO_RATE_LIMIT"
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() {
	sdk.Register(SendDataModule(Options{}))
	sdk.Register(MessageModule(Options{}))
}

// Options tune the actions; the zero value is the production setting.
type Options struct {
	// HTTP overrides fields of the vendor client's configuration (retries, backoff,
	// timeout, clock); a negative Rate turns the rate limit off, a positive one sets it.
	HTTP vendorhttp.Config
	// MaxInFlight is the number of messages created at once (default DefaultMaxInFlight).
	MaxInFlight int
}

// SendDataModule returns the registrable twilio action.
func SendDataModule(opts Options) sdk.Module {
	return sdk.Module{Name: NameSendData, New: func(env *sdk.Env) (sdk.Action, error) {
		c, err := newClient(env, opts)
		if err != nil {
			return nil, err
		}
		return &SendData{client: c}, nil
	}}
}

// MessageModule returns the registrable twilio_message action.
func MessageModule(opts Options) sdk.Module {
	return sdk.Module{Name: NameMessage, New: func(env *sdk.Env) (sdk.Action, error) {
		c, err := newClient(env, opts)
		if err != nil {
			return nil, err
		}
		if opts.MaxInFlight <= 0 {
			opts.MaxInFlight = DefaultMaxInFlight
		}
		return &Message{client: c, maxInFlight: opts.MaxInFlight}, nil
	}}
}

func params(label string) []sdk.Param {
	return []sdk.Param{
		// The SID identifies the account; the Node hub lists it as not sensitive and Looker
		// keeps that setting, so it stays so. It is still kept out of error texts.
		{Name: ParamAccountSID, Label: "Account SID", Required: true, Sensitive: false,
			Description: "Account SID from www.twilio.com/console."},
		{Name: ParamAuthToken, Label: "Auth Token", Required: true, Sensitive: true,
			Description: "Auth Token from www.twilio.com/console."},
		{Name: ParamFrom, Label: label, Required: true, Sensitive: false,
			Description: "A valid Twilio number from www.twilio.com/console/phone-numbers/verified, " +
				"in E.164 form (+15551234567), or a Messaging Service SID (MG…)."},
	}
}

// client creates messages.
type client struct {
	http *vendorhttp.Client
	base string
}

func newClient(env *sdk.Env, opts Options) (*client, error) {
	cfg := vendorhttp.Config{Vendor: "twilio", Client: env.Client(), Rate: DefaultRate, Burst: DefaultBurst}
	r, set, err := vendorhttp.RateFromEnv(env, EnvRateLimit, "requests per second")
	if err != nil {
		return nil, err
	}
	if set {
		cfg.Rate, cfg.Burst = r, max(1, int(r/2))
	}
	cfg = cfg.Override(opts.HTTP)
	return &client{http: vendorhttp.New(cfg), base: env.VendorURL("twilio", DefaultBaseURL)}, nil
}

// creds are one request's account settings.
type creds struct {
	sid, token, from string
}

func credsOf(req *sdk.Request) creds {
	return creds{sid: req.Param(ParamAccountSID), token: req.Param(ParamAuthToken), from: req.Param(ParamFrom)}
}

// apiError is Twilio's error body. https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}

// sendError is a message Twilio did not accept. Its text names the number masked.
type sendError struct {
	text string
	// account is true when the failure concerns the account (bad credentials, unknown
	// account), not the message: nothing else will get through.
	account bool
}

func (e *sendError) Error() string { return e.text }

// isMessagingService reports whether from is a Messaging Service SID.
func isMessagingService(from string) bool {
	return len(from) == 34 && strings.HasPrefix(from, "MG")
}

// send creates one message to the E.164 number to. It returns the number of retried
// attempts and a *sendError.
func (c *client) send(ctx context.Context, cr creds, to, body string) (int, error) {
	form := url.Values{"To": {to}, "Body": {body}}
	if isMessagingService(cr.from) {
		form.Set("MessagingServiceSid", cr.from)
	} else {
		form.Set("From", cr.from)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(cr.sid+":"+cr.token))
	resp, err := c.http.Do(ctx, &vendorhttp.Request{
		Method: http.MethodPost,
		URL:    c.base + "/2010-04-01/Accounts/" + url.PathEscape(cr.sid) + "/Messages.json",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
			"Accept": {"application/json"}, "Authorization": {auth}},
		Body:       []byte(form.Encode()),
		Credential: cr.sid,
		Secrets:    []string{cr.token, auth, cr.sid},
	})
	retries := vendorhttp.Retries(resp, err)
	if err == nil {
		return retries, nil
	}
	masked := Mask(to)
	hide := func(s string) string { return strings.ReplaceAll(s, to, masked) }
	var se *vendorhttp.StatusError
	if errors.As(err, &se) {
		var ae apiError
		text := hide(se.Error())
		if resp != nil && json.Unmarshal(resp.Body, &ae) == nil && ae.Code != 0 {
			text = fmt.Sprintf("Twilio error %d (HTTP %d): %s", ae.Code, se.Status,
				vendorhttp.Redact(hide(ae.Message), cr.token, auth, cr.sid))
		}
		account := se.Status == http.StatusUnauthorized || se.Status == http.StatusNotFound
		if account {
			return retries, &sendError{text: "Twilio refused the account credentials: " + text, account: true}
		}
		return retries, &sendError{text: masked + ": " + text}
	}
	return retries, &sendError{text: masked + ": " + hide(err.Error())}
}
