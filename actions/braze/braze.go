// Package braze is the "braze" action: it flags the users of a Looker query in Braze by
// adding an export label to their custom array attribute "looker_export", and sets the
// custom attributes the query's fields are tagged with, through Braze's POST /users/track.
//
// Field tags: braze_id marks the user identifier column (its value is sent as external_id
// or braze_id, as the form's "Unique Key" says); braze[<name>] sends a column as the custom
// attribute <name>. Every row becomes one attributes object
//
//	{"_update_existing_only":true,"external_id":"…","<name>":…,"looker_export":{"add":["LOOKER_EXPORT"]}}
//
// exactly as the Node hub sent it, so existing schedules keep their effect.
//
// What changed from the Node action: every batch is awaited and its answer counted (Node
// fired them and forgot, reporting "ok" whatever happened); Braze's per-object errors
// ({"errors":[{"type":…,"input_array":"attributes","index":i}]}) become per-row rejections
// with Braze's reason; requests are paced below Braze's rate limit and 429/5xx answers are
// retried with Retry-After and backoff; rows without an identifier are rejected instead of
// being sent as null; every Braze REST host is accepted (rest.iad-NN.braze.com,
// rest.us-NN.braze.com, rest.fra-NN.braze.eu, rest.au-NN.braze.com, …) with surrounding
// whitespace and a trailing slash tolerated; and the Node hub's silent cap of 100,000 rows
// is now a documented, configurable limit whose excess rows are reported as not sent.
//
// Environment: BRAZE_MAX_EXPORT sends only the first N rows of a result and reports the
// others as not sent (default 0: no cap; the Node hub's silent cap of 100,000 protected a
// process that buffered its requests in memory, which this hub does not);
// BRAZE_RATE_LIMIT sets the requests per second per API key (default 900, see DefaultRate;
// 0 leaves only Braze's 429 answers); ACTION_HUB_VENDOR_URL_BRAZE sends the requests to
// another base URL (tests, proxies) after the endpoint setting was validated.
package braze

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rowaction"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name.
const Name = "braze"

// Params and form fields.
const (
	ParamDescription = "braze_description"
	ParamAPIKey      = "braze_api_key"
	ParamEndpoint    = "braze_api_endpoint"
	FormKey          = "braze_key"
	FormSegment      = "braze_segment"
)

// Constants of the Node action (BrazeConfig).
const (
	// ExportPath is the endpoint's path.
	ExportPath = "/users/track"
	// LookerAttribute is the custom array attribute the export label is added to.
	LookerAttribute = "looker_export"
	// DefaultExportLabel is added when the form's "Export Label" is empty.
	DefaultExportLabel = "LOOKER_EXPORT"
	// IDTag marks the user identifier field.
	IDTag = "braze_id"
)

// MaxObjects is the number of attribute objects sent per request. Braze's English docs say
// 75 attributes, 75 events and 75 purchases per request; the translated pages say 75
// objects in total for accounts not on legacy limits. This action sends attributes only,
// so both readings give 75. https://braze.com/docs/api/api_limits
const MaxObjects = 75

// Braze's /users/track rate limit is 3,000 requests per 3 seconds per workspace.
// https://braze.com/docs/api/api_limits
const (
	RateLimitRequests = 3000
	RateLimitWindow   = 3 // seconds
	// DefaultRate and DefaultBurst keep any 3-second window under the limit
	// (burst + 3 × rate <= 3,000), leaving a little room for other API users.
	DefaultRate  = 900
	DefaultBurst = 300
)

// Environment variables.
const (
	// EnvMaxExport sends only the first N rows of a result; 0 or unset means no cap.
	EnvMaxExport = "BRAZE_MAX_EXPORT"
	// EnvRateLimit is the requests per second per API key (0: no limit of the hub's own).
	EnvRateLimit = "BRAZE_RATE_LIMIT"
)

// DefaultMaxInFlight is the number of requests sent at once.
const DefaultMaxInFlight = 8

// Validation errors, with the Node action's texts.
const (
	errMissingConfig   = "Missing config settings."
	errMissingEndpoint = "Missing Endpoint."
	errMissingProtocol = "Missing Protocol for endpoint."
	errBadEndpoint     = "Bad Endpoint."
	errMissingKey      = "Missing API Key."
	errMissingBrazeKey = "Missing primary Braze key."
	errNoIDField       = "Primary Braze key not found."
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() { sdk.Register(Module(Options{})) }

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

// New returns the action. Invalid BRAZE_MAX_EXPORT or BRAZE_RATE_LIMIT values are errors.
func New(env *sdk.Env, opts Options) (*Action, error) {
	a := &Action{env: env}
	if v := strings.TrimSpace(env.Get(EnvMaxExport)); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s=%q: want a number of rows (0 for no cap)", EnvMaxExport, v)
		}
		a.maxExport = n
	}
	cfg := vendorhttp.Config{Vendor: "braze", Client: env.Client(), Rate: DefaultRate, Burst: DefaultBurst}
	r, set, err := vendorhttp.RateFromEnv(env, EnvRateLimit, "requests per second")
	if err != nil {
		return nil, err
	}
	if set {
		cfg.Rate, cfg.Burst = r, max(1, int(r/3))
	}
	cfg = cfg.Override(opts.HTTP)
	a.client = vendorhttp.New(cfg)
	a.inFlight = opts.MaxInFlight
	if a.inFlight <= 0 {
		a.inFlight = DefaultMaxInFlight
	}
	return a, nil
}

// Action is the braze action.
type Action struct {
	env       *sdk.Env
	client    *vendorhttp.Client
	maxExport int64
	inFlight  int
}

// Definition describes the action as the Node hub lists it. The description names the
// export cap only when one is configured.
func (a *Action) Definition() *sdk.Definition {
	desc := "Flags users from Looker to Braze via the REST API for use with segmentation. " +
		"Ensure there's a '" + IDTag + "' field tagged in the results."
	if a.maxExport > 0 {
		desc += " MAX EXPORT: " + strconv.FormatInt(a.maxExport, 10) + "."
	}
	return &sdk.Definition{
		Name:        Name,
		Label:       "Braze",
		Description: desc,
		Icon:        icon,
		Params: []sdk.Param{
			{Name: ParamDescription, Label: "Braze Description", Required: false, Sensitive: false,
				Description: "Braze Action Description"},
			{Name: ParamAPIKey, Label: "Braze API Key", Required: true, Sensitive: true,
				Description: "Braze API Key from https://dashboard.braze.com/app_settings/developer_console/ with users.track permission."},
			{Name: ParamEndpoint, Label: "Braze REST API Endpoint", Required: true, Sensitive: false,
				Description: "Braze REST API endpoint based on the instance location. " +
					"See: https://www.braze.com/docs/developer_guide/rest_api/basics/#endpoints Example: https://rest.iad-01.braze.com"},
		},
		RequiredFields:                    []sdk.RequiredField{{Tag: IDTag}},
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		SupportedFormats:                  []sdk.Format{sdk.FormatJSONDetail},
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
		Streaming:                         true,
	}
}

// Form asks for the identifier kind and the export label.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{{
		Label: "Unique Key", Name: FormKey, Description: " Primay key for user to map to within Braze.",
		Required: true, Type: sdk.FieldSelect, Default: "external_id",
		Options: []sdk.Option{{Name: "external_id", Label: "external_id"}, {Name: "braze_id", Label: "braze_id"}},
	}, {
		Label: "Export Label", Name: FormSegment,
		Description: "Name of export (Appends to Custom Attribute Array '" + LookerAttribute + "'). Defaults to '" +
			DefaultExportLabel + "'.",
		Required: true, Type: sdk.FieldString, Default: DefaultExportLabel,
	}}}, nil
}

// brazeHost matches the REST hosts of every Braze cluster: rest.iad-01.braze.com,
// rest.us-10.braze.com, rest.fra-02.braze.eu, rest.au-01.braze.com, and the hosts of
// clusters added later under the same domains.
// https://braze.com/docs/user_guide/administrative/access_braze/sdk_endpoints
var brazeHost = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+braze\.(com|eu)$`)

// Endpoint validates the admin's endpoint setting and returns its base URL
// ("https://<host>"): surrounding whitespace, upper case and one trailing slash are
// tolerated, http is upgraded to https as the Node action did, and anything but a Braze
// host (credentials, ports, paths, queries, other domains) is refused.
func Endpoint(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", sdk.Errorf(errMissingEndpoint)
	}
	lower := strings.ToLower(s)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") {
		return "", sdk.Errorf(errMissingProtocol)
	}
	u, err := url.Parse(lower)
	if err != nil || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") || !brazeHost.MatchString(u.Hostname()) {
		return "", sdk.Errorf(errBadEndpoint)
	}
	return "https://" + u.Hostname(), nil
}

// attrTag extracts <name> from a braze[<name>] tag, as the Node action's regular
// expression (?<=braze\[)(.*)(?=\]) did (case-insensitive, anywhere in the tag, up to the
// last "]").
func attrTag(tag string) (string, bool) {
	i := strings.Index(strings.ToLower(tag), "braze[")
	if i < 0 {
		return "", false
	}
	rest := tag[i+len("braze["):]
	j := strings.LastIndexByte(rest, ']')
	if j <= 0 || strings.ContainsAny(rest[:j], "\n\r") {
		return "", false
	}
	return rest[:j], true
}

// Execute sends one attributes object per row and answers with the delivery report.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if len(req.Params) == 0 {
		return nil, sdk.Errorf(errMissingConfig)
	}
	base, err := Endpoint(req.Params[ParamEndpoint])
	if err != nil {
		return nil, err
	}
	apiKey := req.Param(ParamAPIKey)
	if apiKey == "" {
		return nil, sdk.Errorf(errMissingKey)
	}
	key := req.Form(FormKey)
	switch key {
	case "":
		return nil, sdk.Errorf(errMissingBrazeKey)
	case "external_id", "braze_id":
	default:
		return nil, sdk.Errorf("Unknown primary Braze key %q: use external_id or braze_id.", key)
	}
	label := req.FormParams[FormSegment]
	if label == "" {
		label = DefaultExportLabel
	}

	return rowaction.Execute(ctx, req, rowaction.Options{ReportFieldsError: true}, func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
		m, ok := newMapper(run.Fields, key, label, a.maxExport)
		if !ok {
			return nil, sdk.Fail(errNoIDField), nil
		}
		s := &sender{client: a.client, url: a.env.VendorURL("braze", base) + ExportPath, key: apiKey,
			report: run.Report, stop: run.Stop,
			header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + apiKey}}}
		return &rowaction.Delivery{Batch: batch.Config{MaxItems: MaxObjects, MaxInFlight: a.inFlight}, Send: s.send, Map: m.mapRow}, nil, nil
	})
}

// slot is one member of the attributes object: a constant or a field's value.
type slot struct {
	key   []byte // `"name":`
	field string // "" for a constant
	value []byte // the constant's JSON
	id    bool   // the identifier: always sent as a string
}

// mapper turns rows into attributes objects.
type mapper struct {
	idField   string
	slots     []slot
	maxExport int64
	overCap   error
}

var errNoID = errors.New("no value in the field tagged braze_id: Braze needs an identifier for every user")

// newMapper prepares the mapping: false when no field is tagged braze_id.
func newMapper(f *rows.Fields, key, label string, maxExport int64) (*mapper, bool) {
	m := &mapper{maxExport: maxExport}
	all := f.All()
	type attr struct{ name, field string }
	var attrs []attr
	for _, fl := range all {
		if fl.HasTag(IDTag) {
			m.idField = fl.Name // the last tagged field wins, as in the Node action
		}
		for _, t := range fl.Tags {
			if name, ok := attrTag(t); ok {
				attrs = append(attrs, attr{name, fl.Name})
			}
		}
	}
	if m.idField == "" {
		return nil, false
	}
	// The object is built as the Node action built it, with JavaScript's semantics: a
	// key keeps its first position and takes its last value.
	set := func(s slot) {
		for i := range m.slots {
			if string(m.slots[i].key) == string(s.key) {
				m.slots[i] = s
				return
			}
		}
		m.slots = append(m.slots, s)
	}
	set(slot{key: jsonKey("_update_existing_only"), value: []byte("true")})
	set(slot{key: jsonKey(key), field: m.idField, id: true})
	for _, at := range attrs {
		set(slot{key: jsonKey(at.name), field: at.field})
	}
	exp, _ := json.Marshal(map[string][]string{"add": {label}})
	set(slot{key: jsonKey(LookerAttribute), value: exp})
	if maxExport > 0 {
		m.overCap = fmt.Errorf("not sent: over the export limit of %d rows (%s)", maxExport, EnvMaxExport)
	}
	return m, true
}

// mapRow appends the row's attributes object to dst.
func (m *mapper) mapRow(dst []byte, r *rows.Row) ([]byte, error) {
	if m.overCap != nil && r.Number() > m.maxExport {
		return dst, m.overCap
	}
	id, ok := r.Cell(m.idField)
	if !ok || id.Pivoted != nil || id.Value.IsNull() || (id.Value.Kind() == rows.String && len(id.Value.Bytes()) == 0) {
		return dst, errNoID
	}
	dst = append(dst, '{')
	first := true
	for i := range m.slots {
		s := &m.slots[i]
		var v rows.Value
		if s.field != "" {
			c, ok := r.Cell(s.field)
			if !ok || c.Pivoted != nil {
				continue // an undefined value: JSON.stringify left the key out
			}
			v = c.Value
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, s.key...)
		switch {
		case s.field == "":
			dst = append(dst, s.value...)
		case s.id && v.Kind() != rows.String:
			dst = rows.AppendQuoted(dst, v.Bytes()) // Braze identifiers are strings
		default:
			dst = v.AppendJSON(dst)
		}
	}
	return append(dst, '}'), nil
}

func jsonKey(name string) []byte { return append(rows.AppendQuoted(nil, []byte(name)), ':') }

// sender posts batches to /users/track.
type sender struct {
	client *vendorhttp.Client
	url    string
	key    string
	header http.Header
	report *sdk.Report
	stop   func(reason string) // the report's fatal error; stops the execute
}

// trackAnswer is Braze's answer: "success" with the refused objects named in errors.
// https://braze.com/docs/api/errors
type trackAnswer struct {
	Message string `json:"message"`
	Errors  []struct {
		Type       string `json:"type"`
		InputArray string `json:"input_array"`
		Index      *int   `json:"index"`
	} `json:"errors"`
}

// send posts one batch and marks the objects Braze refused.
func (s *sender) send(ctx context.Context, b *batch.Batch) error {
	body := b.Joined(`{"attributes":[`, ",", `]}`)
	resp, err := s.client.Do(ctx, &vendorhttp.Request{
		Method: http.MethodPost, URL: s.url, Header: s.header, Body: body,
		Credential: s.key, Secrets: []string{s.key},
	})
	s.report.AddRetries(vendorhttp.Retries(resp, err))
	var se *vendorhttp.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden) {
		reason := "Braze refused the API key: " + err.Error()
		b.FailAll(reason)
		s.stop(reason)
		return nil
	}
	if err != nil {
		return err
	}
	var ans trackAnswer
	if len(resp.Body) > 0 && json.Unmarshal(resp.Body, &ans) == nil {
		for _, e := range ans.Errors {
			if e.Index == nil || *e.Index < 0 || *e.Index >= b.Len() || (e.InputArray != "" && e.InputArray != "attributes") {
				continue
			}
			b.Fail(*e.Index, "Braze refused the user: "+vendorhttp.Redact(e.Type, s.key))
		}
	}
	return nil
}
