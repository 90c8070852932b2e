// Package segment is the three Segment actions of the Action Hub: segment_event ("Segment
// Identify"), segment_group ("Segment Group") and segment_track ("Segment Track"). Each
// turns every row of a Looker query into one Segment call (identify, group or track) and
// sends them to Segment's HTTP Tracking API, POST /v1/batch.
//
// The Node hub used the deprecated analytics-node library, which buffered the calls in
// memory, threw one identical error per row for calls Segment cannot accept, and used the
// anonymous-id column as the userId. This package streams the rows through the shared
// batcher (bounded memory, backpressure) and vendor client (rate limit, retries,
// Retry-After), gives every message a messageId so that Segment deduplicates re-sent
// batches, rejects the rows Segment cannot accept with a reason counted in the delivery
// report, and never sends the anonymous id as userId.
//
// Field tags: user_id (the userId), segment_anonymous_id (the anonymousId), email (sent as
// the "email" trait) and, for Segment Group, segment_group_id (the groupId). Every other
// field that is not hidden in the visualization becomes a trait (identify, group) or a
// property (track), named by the field; a pivoted measure becomes a list of
// {<pivot key>: value} objects. Identify and track calls of rows without a userId get a
// random anonymousId; group calls never do, so a group row needs a user_id or
// segment_anonymous_id value.
//
// Admin settings: segment_write_key (required) and segment_region ("US", the default, or
// "EU": the region of the workspace; Segment silently drops events sent to the other
// region's endpoint). The variable ACTION_HUB_VENDOR_URL_SEGMENT overrides the endpoint
// (tests, proxies), and SEGMENT_RATE_LIMIT sets the requests per second per write key
// (default 900, below Segment's recommended ceiling of 1,000 per workspace; 0 turns the
// hub's own limit off and leaves only Segment's 429 answers).
package segment

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rowaction"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Action names.
const (
	NameIdentify = "segment_event"
	NameGroup    = "segment_group"
	NameTrack    = "segment_track"
)

// Field tags the actions read.
const (
	TagUserID      = "user_id"
	TagAnonymousID = "segment_anonymous_id"
	TagEmail       = "email"
	TagGroupID     = "segment_group_id"
)

// Admin params.
const (
	ParamWriteKey = "segment_write_key"
	// ParamRegion selects the regional endpoint: "US" (default) or "EU".
	ParamRegion = "segment_region"
)

// Regional endpoints of the HTTP Tracking API. A source's region is fixed in its workspace;
// an EU source whose events go to the US endpoint gets no error but never sees them.
// https://www.twilio.com/docs/segment/guides/regional-segment
const (
	// EndpointUS is the default (Oregon) endpoint.
	EndpointUS = "https://api.segment.io"
	// EndpointEU is the Dublin endpoint, as the HTTP API page and the segment-docs
	// regional include name it. The Twilio-hosted page's banner names
	// eu1.api.segmentapis.com instead; the brief and the docs repository agree on this one.
	EndpointEU = "https://events.eu1.segmentapis.com"
	// BatchPath is the batch endpoint's path.
	BatchPath = "/v1/batch"
)

// Segment's documented limits, read with the stricter decimal "KB".
// https://www.twilio.com/docs/segment/connections/sources/catalog/libraries/server/http-api#max-request-size
const (
	// MaxBatchBytes is the largest /v1/batch request ("500 KB").
	MaxBatchBytes = 500_000
	// MaxMessageBytes is the largest message inside a batch ("32 KB"); a larger row is
	// rejected with a reason rather than failing its whole batch.
	MaxMessageBytes = 32_000
	// RecommendedMaxRequestsPerSecond is Segment's recommended ceiling per workspace;
	// above it Segment may queue or answer 429.
	// https://www.twilio.com/docs/segment/connections/sources/catalog/libraries/server/http-api#rate-limits
	RecommendedMaxRequestsPerSecond = 1000
)

// Tunables of the delivery.
const (
	// DefaultRate and DefaultBurst keep any one second at or below the recommended
	// ceiling (burst + rate <= 1,000).
	DefaultRate  = 900
	DefaultBurst = 100
	// EnvRateLimit overrides DefaultRate (requests per second per write key; 0 = off).
	EnvRateLimit = "SEGMENT_RATE_LIMIT"
	// maxItems caps the messages of a batch. Segment documents no count limit, only
	// bytes, which bind first for any real row.
	maxItems = 10_000
	// envelopeReserve is the room left in MaxBatchBytes for `{"batch":[`, `],"sentAt":"…"}`.
	envelopeReserve = 64
	// DefaultMaxInFlight is the number of batches sent at once.
	DefaultMaxInFlight = 4
	// flushInterval sends a partial batch when rows arrive slowly.
	flushInterval = 5 * time.Second
)

// Call is the Segment call an action makes.
type Call string

// Calls.
const (
	Identify Call = "identify"
	Group    Call = "group"
	Track    Call = "track"
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() {
	for _, c := range []Call{Identify, Group, Track} {
		sdk.Register(Module(c, Options{}))
	}
}

// Options tune an action; the zero value is the production setting.
type Options struct {
	// HTTP overrides the vendor client's configuration: its non-zero fields replace the
	// defaults (retries, backoff, timeout, clock, rate; a negative Rate turns the rate
	// limit off).
	HTTP vendorhttp.Config
	// MaxInFlight is the number of batches sent at once (default DefaultMaxInFlight).
	MaxInFlight int
	// Now is the clock of the default timestamp (nil: time.Now).
	Now func() time.Time
}

// Module returns the registrable module of one call with opts (tests use their own).
func Module(c Call, opts Options) sdk.Module {
	return sdk.Module{Name: c.actionName(), New: func(env *sdk.Env) (sdk.Action, error) { return New(env, c, opts) }}
}

func (c Call) actionName() string {
	switch c {
	case Group:
		return NameGroup
	case Track:
		return NameTrack
	}
	return NameIdentify
}

// New returns the action for call c. It needs no environment variable; an invalid
// SEGMENT_RATE_LIMIT is an error.
func New(env *sdk.Env, c Call, opts Options) (sdk.Action, error) {
	cfg := vendorhttp.Config{Vendor: "segment", Client: env.Client(), Rate: DefaultRate, Burst: DefaultBurst}
	r, set, err := vendorhttp.RateFromEnv(env, EnvRateLimit, "requests per second")
	if err != nil {
		return nil, err
	}
	if set {
		cfg.Rate, cfg.Burst = r, max(1, int(r/10))
	}
	cfg = cfg.Override(opts.HTTP)
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &Action{call: c, env: env, client: vendorhttp.New(cfg), opts: opts}
	if c == Track {
		return &TrackAction{Action: a}, nil
	}
	return a, nil
}

// Action is segment_event or segment_group (segment_track is TrackAction).
type Action struct {
	call   Call
	env    *sdk.Env
	client *vendorhttp.Client
	opts   Options
}

// TrackAction is segment_track: the Segment action with the "event" form.
type TrackAction struct{ *Action }

// Definition describes the action as the Node hub lists it, plus the optional region.
func (a *Action) Definition() *sdk.Definition {
	d := &sdk.Definition{
		Name:  a.call.actionName(),
		Icon:  icon,
		Label: "Segment Identify", Description: "Add traits via identify to your Segment users.",
		Params: []sdk.Param{
			{Name: ParamWriteKey, Label: "Segment Write Key", Required: true, Sensitive: true,
				Description: "A write key for Segment."},
			{Name: ParamRegion, Label: "Segment Region", Required: false, Sensitive: false,
				Description: "US (default) or EU: the region of your Segment workspace. " +
					"Segment drops events sent to the other region's endpoint without an error."},
		},
		RequiredFields:                    []sdk.RequiredField{{AnyTag: []string{TagEmail, TagUserID, TagAnonymousID}}},
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		FormatsFor:                        sdk.LiteStreamFormats,
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
		Streaming:                         true,
		MinimumLookerVersion:              "4.20.0",
	}
	switch a.call {
	case Group:
		d.Label, d.Description = "Segment Group", "Add traits and / or users to your Segment groups."
		d.RequiredFields = []sdk.RequiredField{{Tag: TagGroupID, AnyTag: []string{TagEmail, TagUserID, TagAnonymousID}}}
		d.MinimumLookerVersion = "5.5.0"
	case Track:
		d.Label, d.Description = "Segment Track", "Add traits via track to your Segment users."
		d.MinimumLookerVersion = "5.5.0"
	}
	return d
}

// Form asks for the event name of the track calls.
func (a *TrackAction) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{{
		Name: "event", Label: "Event", Description: "The name of the event you’re tracking.",
		Type: sdk.FieldString, Required: true,
	}}}, nil
}

// endpoint returns the batch URL for the region param.
func (a *Action) endpoint(region string) (string, error) {
	base := EndpointUS
	switch strings.ToUpper(strings.TrimSpace(region)) {
	case "", "US", "US1":
	case "EU", "EU1":
		base = EndpointEU
	default:
		return "", sdk.Errorf("Unknown Segment region %q: use US or EU.", region)
	}
	return a.env.VendorURL("segment", base) + BatchPath, nil
}

// Execute sends one Segment call per row and answers with the delivery report.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	writeKey := req.Param(ParamWriteKey)
	if writeKey == "" {
		return nil, sdk.Errorf(`Required setting "Segment Write Key" not specified in action settings.`)
	}
	url, err := a.endpoint(req.Params[ParamRegion])
	if err != nil {
		return nil, err
	}
	var event string
	if a.call == Track {
		event = req.FormParams["event"]
		if strings.TrimSpace(event) == "" {
			return sdk.Fail(`Segment Track needs the name of the event: fill in the form's "Event" field.`), nil
		}
	}
	return rowaction.Execute(ctx, req, rowaction.Options{ReportFieldsError: true}, func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
		version := a.env.Get("APP_VERSION")
		if version == "" {
			version = "dev"
		}
		m, msg := newMapper(a.call, run.Fields, req.HiddenFields(), event, version, a.opts.Now(), run.Rows)
		if msg != "" {
			return nil, sdk.Fail(msg), nil
		}
		s := &sender{client: a.client, url: url, key: writeKey, report: run.Report, stop: run.Stop,
			header: http.Header{
				"Content-Type":  {"application/json"},
				"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(writeKey+":"))},
			}}
		return &rowaction.Delivery{Batch: batch.Config{
			MaxItems:      maxItems,
			MaxBytes:      MaxBatchBytes - envelopeReserve,
			MaxItemBytes:  MaxMessageBytes,
			MaxInFlight:   a.opts.MaxInFlight,
			FlushInterval: flushInterval,
		}, Send: s.send, Map: m.mapRow}, nil, nil
	})
}

// sender posts batches to /v1/batch.
type sender struct {
	client *vendorhttp.Client
	url    string
	key    string
	header http.Header
	report *sdk.Report
	stop   func(reason string) // the report's fatal error; stops the execute
}

// send posts one batch. Segment answers 200 for a whole batch or 400 for a malformed or
// oversized one; it has no per-message status. A refused write key stops the execute.
func (s *sender) send(ctx context.Context, b *batch.Batch) error {
	sentAt := time.Now().UTC().Format(timeLayout)
	body := b.Joined(`{"batch":[`, ",", `],"sentAt":"`+sentAt+`"}`)
	resp, err := s.client.Do(ctx, &vendorhttp.Request{
		Method: http.MethodPost, URL: s.url, Header: s.header, Body: body,
		Credential: s.key, Secrets: []string{s.key, s.header.Get("Authorization")},
	})
	s.report.AddRetries(vendorhttp.Retries(resp, err))
	var se *vendorhttp.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden) {
		reason := "Segment refused the write key: " + err.Error()
		b.FailAll(reason)
		s.stop(reason)
		return nil
	}
	return err
}

// retries is the number of retried attempts of a call.

// timeLayout is JavaScript's Date.toISOString: UTC with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"
