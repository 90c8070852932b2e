// Package mparticle is the "mparticle" action: it sends the rows of a Looker query to
// mParticle's server-to-server Events API as user profiles (user_data) or custom events
// (event_data), through the bulk endpoint POST /v2/bulkevents with HTTP Basic auth (API key
// and secret).
//
// Each row becomes one mParticle batch (one user), built as the Node hub built it:
//
//	{"events":[…],"user_attributes":{…},"user_identities":{…},"device_info":{…},
//	 "schema_version":2,"environment":"production","source_request_id":"<uuid>"}
//
// Tags (the first tag of a field that starts with "mp_" counts): mp_customer_id, mp_email,
// mp_facebook, mp_google, mp_microsoft, mp_twitter, mp_yahoo, mp_other, mp_other2…4 are
// user identities. In user mode every other field is the user attribute
// "looker_<field name>" (fields tagged mp_event_name are left out). In event mode
// mp_user_attribute makes a user attribute, mp_event_name the event name (default
// "looker_custom_event"), mp_device_info a device_info member named after the part of the
// field name after the first "." (known device_info members only), mp_custom_event_type,
// mp_event_id, mp_timestamp_unixtime_ms, mp_session_id and mp_session_uuid the event's
// members of those names (custom_event_type defaults to "other"), mp_custom_attribute the
// custom attribute "looker_<field name>"; other fields are not sent.
//
// What changed from the Node action: every request is awaited and counted (Node fired the
// intermediate requests and forgot them, losing their errors, and could answer before they
// finished); 429 and 5xx answers are retried with Retry-After and backoff; requests are
// paced below mParticle's default rate limit; rows without any identity value are rejected
// with a reason rather than sent to fail the whole request; identities are sent as
// strings, as mParticle requires; the API key is a sensitive setting; and the pod (US1,
// US2, EU1, AU1) can be chosen. Each batch carries a source_request_id (a field of
// mParticle's batch schema) with a UUID kept across retries. mParticle documents no
// deduplication, so a request whose answer was lost can be ingested twice; the identifier
// lets such copies be recognised downstream, and the delivery report counts every row once.
//
// Environment: MPARTICLE_RATE_LIMIT is the batches (rows) per second per API key (default
// 270, mParticle's default service limit; 0 leaves only mParticle's 429 answers);
// ACTION_HUB_VENDOR_URL_MPARTICLE overrides the base URL (tests, proxies).
package mparticle

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rowaction"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name.
const Name = "mparticle"

// Params and form fields.
const (
	ParamAPIKey    = "apiKey"
	ParamAPISecret = "apiSecret"
	// ParamPod selects the pod (data center) of the workspace: US1 (default), US2, EU1, AU1.
	ParamPod        = "pod"
	FormDataType    = "data_type"
	FormEnvironment = "environment"
)

// Form values and defaults of the Node action (mparticle_constants.ts).
const (
	UserData           = "user_data"
	EventData          = "event_data"
	Production         = "production"
	Development        = "development"
	EventType          = "custom_event"
	DefaultEventName   = "looker_custom_event"
	DefaultCustomEvent = "other"
)

// Pod hosts of the Events API. https://docs.mparticle.com/developers/server/http/ and
// https://docs.mparticle.com/developers/data-localization/. The Node action posted to
// https://inbound.mparticle.com/s2s/v2/bulkevents; mParticle's current documentation names
// the s2s hosts, which are used here (the vendor wins).
var podHosts = map[string]string{
	"US1": "https://s2s.mparticle.com",
	"US2": "https://s2s.us2.mparticle.com",
	"EU1": "https://s2s.eu1.mparticle.com",
	"AU1": "https://s2s.au1.mparticle.com",
}

// BulkPath is the bulk endpoint's path.
const BulkPath = "/v2/bulkevents"

// mParticle's documented limits, read with the stricter decimal "KB".
const (
	// MaxBatchesPerRequest is the number of batches per /v2/bulkevents request.
	// https://docs.mparticle.com/developers/server/http/
	MaxBatchesPerRequest = 100
	// MaxBatchBytes is the size a batch should not exceed ("128 KB"): a larger row is
	// rejected with a reason. https://docs.mparticle.com/developers/server/http/
	MaxBatchBytes = 128_000
	// MaxRequestBytes is the size a request must stay under ("256 KB").
	// https://docs.mparticle.com/guides/default-service-limits/
	MaxRequestBytes = 256_000
	// DefaultBatchesPerSecond is mParticle's default service limit on batches ("variable";
	// above it mParticle answers 429). https://docs.mparticle.com/guides/default-service-limits/
	DefaultBatchesPerSecond = 270
)

// EnvRateLimit overrides DefaultBatchesPerSecond (0: no limit of the hub's own).
const EnvRateLimit = "MPARTICLE_RATE_LIMIT"

// DefaultMaxInFlight is the number of requests sent at once.
const DefaultMaxInFlight = 4

// requestReserve is the room left under MaxRequestBytes for the array brackets.
const requestReserve = 8

// identities maps the identity tags to user_identities keys.
var identities = map[string]string{
	"mp_customer_id": "customerid", "mp_email": "email", "mp_facebook": "facebook", "mp_google": "google",
	"mp_microsoft": "microsoft", "mp_twitter": "twitter", "mp_yahoo": "yahoo", "mp_other": "other",
	"mp_other2": "other2", "mp_other3": "other3", "mp_other4": "other4",
}

// dataAttributes maps event tags to members of the event's data.
var dataAttributes = map[string]string{
	"mp_custom_event_type": "custom_event_type", "mp_event_id": "event_id",
	"mp_timestamp_unixtime_ms": "timestamp_unixtime_ms", "mp_session_id": "session_id",
	"mp_session_uuid": "session_uuid",
}

// deviceInfoFields are the device_info members the Node action accepted.
var deviceInfoFields = map[string]bool{}

func init() {
	for _, f := range []string{"brand", "product", "device", "android_uuid", "device_manufacturer", "platform",
		"os_version", "device_model", "screen_height", "screen_width", "screen_dpi", "device_country",
		"locale_language", "locale_country", "network_country", "network_carrier", "network_code",
		"network_mobile_country_code", "timezone_offset", "build_identifier", "http_header_user_agent",
		"ios_advertising_id", "push_token", "cpu_architecture", "is_tablet", "push_notification_sound_enabled",
		"push_notification_vibrate_enabled", "radio_access_technology", "supports_telephony", "has_nfc",
		"bluetooth_enabled", "bluetooth_version", "ios_idfv", "android_advertising_id", "limit_ad_tracking",
		"is_dst"} {
		deviceInfoFields[f] = true
	}
	sdk.Register(Module(Options{}))
}

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

// Options tune the action; the zero value is the production setting.
type Options struct {
	// HTTP overrides the vendor client's configuration: its non-zero fields replace the
	// defaults (a negative Rate turns the rate limit off).
	HTTP vendorhttp.Config
	// MaxInFlight is the number of requests sent at once (default DefaultMaxInFlight).
	MaxInFlight int
}

// Module returns the registrable module with opts (tests use their own).
func Module(opts Options) sdk.Module {
	return sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) { return New(env, opts) }}
}

// New returns the action. An invalid MPARTICLE_RATE_LIMIT is an error.
func New(env *sdk.Env, opts Options) (*Action, error) {
	perSecond, set, err := vendorhttp.RateFromEnv(env, EnvRateLimit, "batches per second")
	if err != nil {
		return nil, err
	}
	if !set {
		perSecond = DefaultBatchesPerSecond
	}
	// The limiter counts requests: a full request holds MaxBatchesPerRequest batches, and
	// a burst of one request keeps any second near the batch rate.
	cfg := vendorhttp.Config{Vendor: "mparticle", Client: env.Client(), Rate: perSecond / MaxBatchesPerRequest, Burst: 1}
	cfg = cfg.Override(opts.HTTP)
	a := &Action{env: env, client: vendorhttp.New(cfg), inFlight: opts.MaxInFlight}
	if a.inFlight <= 0 {
		a.inFlight = DefaultMaxInFlight
	}
	return a, nil
}

// Action is the mparticle action.
type Action struct {
	env      *sdk.Env
	client   *vendorhttp.Client
	inFlight int
}

// Definition describes the action as the Node hub lists it, with the API key made
// sensitive and the optional pod.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:        Name,
		Label:       "mParticle",
		Description: "Send user or event data from Looker to mParticle.",
		Icon:        icon,
		Params: []sdk.Param{
			// Node listed the API key as not sensitive; Looker now masks it.
			{Name: ParamAPIKey, Label: "API Key", Required: true, Sensitive: true, Description: "API Key for mParticle"},
			{Name: ParamAPISecret, Label: "API Secret", Required: true, Sensitive: true, Description: "API Secret for mParticle"},
			{Name: ParamPod, Label: "Pod", Required: false, Sensitive: false,
				Description: "The mParticle pod of your workspace: US1 (default), US2, EU1 or AU1."},
		},
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		FormatsFor:                        sdk.LiteStreamFormats,
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
		Streaming:                         true,
	}
}

// Form asks for the data type and the environment.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{{
		Label: "Data Type", Name: FormDataType, Description: "Specify data type: User Profiles or Events",
		Required: true, Type: sdk.FieldSelect,
		Options: []sdk.Option{{Name: UserData, Label: "User Profiles"}, {Name: EventData, Label: "Events"}},
	}, {
		Label: "Environment", Name: FormEnvironment,
		Description: "Specify environment to send to: Test/Development or Production",
		Required:    true, Type: sdk.FieldSelect,
		Options: []sdk.Option{{Name: Production, Label: "Production"}, {Name: Development, Label: "Test/Development"}},
	}}}, nil
}

// BaseURL returns the Events API base URL of a pod setting ("" is US1).
func BaseURL(pod string) (string, bool) {
	p := strings.ToUpper(strings.TrimSpace(pod))
	switch p {
	case "", "US":
		p = "US1"
	case "EU":
		p = "EU1"
	case "AU":
		p = "AU1"
	}
	u, ok := podHosts[p]
	return u, ok
}

// Execute sends one mParticle batch per row and answers with the delivery report.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	key, secret := req.Param(ParamAPIKey), req.Param(ParamAPISecret)
	if key == "" {
		return nil, sdk.Errorf(`Required setting "API Key" not specified in action settings.`)
	}
	if secret == "" {
		return nil, sdk.Errorf(`Required setting "API Secret" not specified in action settings.`)
	}
	mode := req.FormParams[FormDataType]
	if mode != UserData && mode != EventData {
		return nil, sdk.Errorf("Missing data type (user|event).")
	}
	env := Development
	if req.FormParams[FormEnvironment] == Production {
		env = Production
	}
	base, ok := BaseURL(req.Params[ParamPod])
	if !ok {
		return nil, sdk.Errorf("Unknown mParticle pod %q: use US1, US2, EU1 or AU1.", req.Params[ParamPod])
	}

	return rowaction.Execute(ctx, req, rowaction.Options{ReportFieldsError: true}, func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
		m, err := newMapper(run.Fields, mode == EventData, env)
		if err != nil {
			return nil, nil, err
		}
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))
		s := &sender{client: a.client, url: a.env.VendorURL("mparticle", base) + BulkPath, key: key,
			secrets: []string{key, secret, auth}, report: run.Report, stop: run.Stop,
			header: http.Header{"Content-Type": {"application/json"}, "Authorization": {auth}}}
		return &rowaction.Delivery{Batch: batch.Config{
			MaxItems:     MaxBatchesPerRequest,
			MaxBytes:     MaxRequestBytes - requestReserve,
			MaxItemBytes: MaxBatchBytes,
			MaxInFlight:  a.inFlight,
		}, Send: s.send, Map: m.mapRow}, nil, nil
	})
}

// sender posts requests to /v2/bulkevents.
type sender struct {
	client  *vendorhttp.Client
	url     string
	key     string
	secrets []string
	header  http.Header
	report  *sdk.Report
	stop    func(reason string) // the report's fatal error; stops the execute
}

// send posts one request. mParticle answers 202 for the whole request (it reports no
// per-batch status) or an error for all of it; refused credentials stop the execute.
func (s *sender) send(ctx context.Context, b *batch.Batch) error {
	body := b.Joined("[", ",", "]")
	resp, err := s.client.Do(ctx, &vendorhttp.Request{
		Method: http.MethodPost, URL: s.url, Header: s.header, Body: body,
		Credential: s.key, Secrets: s.secrets,
	})
	s.report.AddRetries(vendorhttp.Retries(resp, err))
	var se *vendorhttp.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden) {
		reason := "mParticle refused the API key and secret: " + err.Error()
		b.FailAll(reason)
		s.stop(reason)
		return nil
	}
	return err
}
