// Package marketo is the "marketo" action: it creates or updates Marketo leads from a
// query's rows and can then add them to trigger campaigns or static lists, or remove them
// from static lists. Columns are mapped to lead fields with LookML tags "marketo:<field>";
// the form names the lookup field Marketo deduplicates on (email by default).
//
// Compared with the Node action: rows are streamed into batches of 300 leads (Marketo's
// limit; Node sent 100); every call goes through the shared vendor client with a token
// bucket under Marketo's 100 calls per 20 seconds and a process-wide cap on concurrent
// calls per instance (Marketo allows 10); Marketo's in-band throttling codes 606 and 615
// and its transient errors are retried with backoff, token errors 601/602 renew the
// access token once; each lead Marketo skipped is a rejected row carrying Marketo's
// reason code and message (Node keyed its report on the email, undefined for other lookup
// fields); a lead whose list or campaign step failed is a rejected row saying so; a
// campaign trigger whose connection failed after sending is not re-sent (a trigger runs a
// flow: doing it twice may send an email twice); missing cells no longer crash; the daily
// quota (607) and refused credentials stop the delivery at once.
//
// The action runs in its own process in the Node hub, so its validation errors reach
// Looker as a 200 reply with success false; they do here as well.
package marketo

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
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rowaction"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name.
const Name = "marketo"

// Marketo's limits and this action's defaults.
// https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/marketo-integration-best-practices
const (
	// MaxLeadsPerCall is the most records of a createOrUpdate or list membership call.
	MaxLeadsPerCall = 300
	// MaxTriggerLeads is the most leads of one trigger-campaign request.
	// https://experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/assets/smart-campaigns
	MaxTriggerLeads = 100
	// MaxPayloadBytes is Marketo's request size limit (1 MB); larger requests get 413.
	MaxPayloadBytes = 1 << 20
	// CallsPer20s is Marketo's rate limit per instance, shared by every integration.
	CallsPer20s = 100
	// MaxConcurrentCalls is Marketo's concurrency limit per instance.
	MaxConcurrentCalls = 10
	// DefaultRate keeps a token bucket of burst DefaultBurst under CallsPer20s: in any
	// 20 s it lets through at most 5 + 20*4.5 = 95 calls.
	DefaultRate  = 4.5
	DefaultBurst = 5
	// DefaultConcurrency is the calls this hub makes at once per instance, leaving room
	// under MaxConcurrentCalls for the instance's other integrations.
	DefaultConcurrency = 6
	// DefaultMaxInFlight is the batches one execute sends at once.
	DefaultMaxInFlight = 4
	// RateLimitVar sets the calls allowed per 20 seconds per instance ("0" lifts it).
	RateLimitVar = "MARKETO_RATE_LIMIT"
	// maxFailedBatches is how many batches in a row may fail whole before the delivery
	// stops.
	maxFailedBatches = 3
)

// Param and form field names.
const (
	paramURL          = "url"
	paramClientID     = "clientID"
	paramClientSecret = "clientSecret"
	fieldLookup       = "lookupField"
	fieldSubaction    = "subaction"
	fieldCampaignID   = "campaignId"
	tagPrefix         = "marketo:"
)

// Subactions.
const (
	subNone        = "none"
	subAddCampaign = "addCampaign"
	subAddList     = "addList"
	subRemoveList  = "removeList"
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

var jsonUnmarshal = json.Unmarshal

func init() { sdk.Register(Module(nil)) }

// Module returns the action's registration; tune, when not nil, adjusts the limits after
// New (benchmarks lift the rate limit this way).
func Module(tune func(*Limits)) sdk.Module {
	return sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
		a, err := New(env)
		if err == nil && tune != nil {
			tune(&a.Limits)
		}
		return a, err
	}}
}

// Limits tune the delivery. New sets them from the defaults and RateLimitVar.
type Limits struct {
	vendorhttp.Limits
	// Concurrency caps the calls in progress per instance in this process (0: no cap).
	Concurrency int
}

// Action is the marketo action.
type Action struct {
	Env    *sdk.Env
	Limits Limits
}

// New returns the action. RateLimitVar, when set, replaces the default rate.
func New(env *sdk.Env) (*Action, error) {
	a := &Action{Env: env, Limits: Limits{Concurrency: DefaultConcurrency, Limits: vendorhttp.Limits{Rate: DefaultRate,
		Burst: DefaultBurst, MaxInFlight: DefaultMaxInFlight, MaxRetries: 6, MinBackoff: time.Second, MaxBackoff: 20 * time.Second}}}
	n, set, err := vendorhttp.RateFromEnv(env, RateLimitVar, "calls per 20 seconds")
	if err != nil {
		return nil, err
	}
	if set {
		a.Limits.Rate = n / 20 * 0.95
		a.Limits.Burst = max(1, int(n/20))
	}
	return a, nil
}

// Definition describes the action as the Node hub lists it.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                              Name,
		Label:                             "Marketo",
		Description:                       "Update Marketo leads and their campaign/list membership.",
		Icon:                              icon,
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		FormatsFor:                        sdk.LiteStreamFormats,
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
		Streaming:                         true,
		Params: []sdk.Param{
			{Name: paramURL, Label: "URL", Required: true, Sensitive: false, Description: "Identity server host URL"},
			{Name: paramClientID, Label: "Client ID", Required: true, Sensitive: false, Description: "Client ID from Marketo"},
			{Name: paramClientSecret, Label: "Client Secret", Required: true, Sensitive: true, Description: "Client Secret from Marketo"},
		},
	}
}

// Form is the Node action's form; its field names are kept for existing schedules.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{
		{Label: "Lead Lookup Field", Name: fieldLookup, Type: sdk.FieldString,
			Description: "Marketo field to use when looking up leads to update", Default: "email", Required: true},
		{Label: "Additional Action", Name: fieldSubaction, Type: sdk.FieldSelect, Options: []sdk.Option{
			{Name: subAddCampaign, Label: "Update lead and add to below Campaign ID"},
			{Name: subAddList, Label: "Update lead and add to below List ID"},
			{Name: subRemoveList, Label: "Update lead and remove from below List ID"},
			{Name: subNone, Label: "None - Update lead only"},
		}, Description: "Additional action to take", Default: subAddCampaign, Required: true},
		{Label: "Campaign/List ID for Additional Action", Name: fieldCampaignID, Type: sdk.FieldString,
			Description: "Either a Campaign ID or a List ID, depending on above selection", Required: false},
	}}, nil
}

// plan is what the form asked for.
type plan struct {
	lookup                           string
	quoted                           string // lookup as a JSON string
	campaigns, addLists, removeLists []string
}

var idSplit = regexp.MustCompile(`\s*,\s*`)

// parsePlan validates the form as the Node action does, with its messages.
func parsePlan(req *sdk.Request) (*plan, error) {
	var ids []string
	for _, id := range idSplit.Split(req.FormParams[fieldCampaignID], -1) {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	p := &plan{}
	switch sub := strings.TrimSpace(req.FormParams[fieldSubaction]); sub {
	case "": // schedules made before the subaction field meant "add to campaign"
		p.campaigns = ids
	case subNone:
		if len(ids) > 0 {
			return nil, errors.New("Additional action of 'none' was selected, but additional action ID was provided")
		}
	case subAddCampaign:
		if len(ids) == 0 {
			return nil, errors.New("'Add to campaign' was selected, but additional action ID was not provided")
		}
		p.campaigns = ids
	case subAddList:
		if len(ids) == 0 {
			return nil, errors.New("'Add to list' was selected, but additional action ID was not provided")
		}
		p.addLists = ids
	case subRemoveList:
		if len(ids) == 0 {
			return nil, errors.New("'Remove from list' was selected, but additional action ID was not provided")
		}
		p.removeLists = ids
	default:
		return nil, errors.New("Unrecognized additional action type")
	}
	for _, id := range append(append(append([]string(nil), p.campaigns...), p.addLists...), p.removeLists...) {
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			return nil, fmt.Errorf("Campaign/List ID %q is not a number", id)
		}
	}
	p.lookup = strings.TrimSpace(req.FormParams[fieldLookup])
	if p.lookup == "" {
		return nil, errors.New("Missing Lookup Field.")
	}
	p.quoted = string(rows.AppendQuoted(nil, []byte(p.lookup)))
	return p, nil
}

// instanceURL checks the url param and removes a trailing /rest or /identity.
func instanceURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return "", errors.New("The Marketo URL setting must be the instance's REST host, like https://123-ABC-456.mktorest.com")
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(strings.TrimSuffix(p, "/rest"), "/identity")
	return u.Scheme + "://" + u.Host + p, nil
}

// Execute streams the rows into lead syncs and the chosen list or campaign step.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, err := parsePlan(req)
	if err != nil {
		return nil, err
	}
	base, err := instanceURL(req.Params[paramURL])
	if err != nil {
		return nil, err
	}
	clientID, secret := req.Param(paramClientID), req.Param(paramClientSecret)
	if clientID == "" || secret == "" {
		return nil, errors.New("The Marketo Client ID and Client Secret settings are required.")
	}
	return rowaction.Execute(ctx, req, rowaction.Options{}, func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
		m := newMapper(run.Fields.All(), p.lookup)
		if m == nil {
			return nil, nil, errors.New("Marketo Lookup Field for lead not present in query.")
		}
		c := a.client(base, clientID, secret)
		s := &sender{client: c, plan: p, report: run.Report, stop: run.Stop}
		envelope := len(`{"action":"createOrUpdate","lookupField":,"input":[]}`) + len(p.quoted) + 64
		return &rowaction.Delivery{Batch: batch.Config{MaxItems: MaxLeadsPerCall, MaxBytes: MaxPayloadBytes - envelope,
			MaxInFlight: max(1, a.Limits.MaxInFlight)}, Send: s.send, Map: m.mapRow}, nil, nil
	})
}

// mapper turns a row into a lead object.
type mapper struct {
	cols   []column // in field order, one per Marketo field (the last column mapped to it)
	lookup int      // index in cols of the lookup field
	name   string   // the lookup field
}

type column struct {
	field string
	key   []byte // quoted Marketo field name and colon
}

// newMapper maps the fields tagged marketo:<name>; nil when no field maps to lookup.
func newMapper(fields []rows.Field, lookup string) *mapper {
	m := &mapper{lookup: -1, name: lookup}
	pos := map[string]int{}
	for _, f := range fields {
		for _, t := range f.Tags {
			name, ok := strings.CutPrefix(t, tagPrefix)
			if !ok || name == "" {
				continue
			}
			key := append(rows.AppendQuoted(nil, []byte(name)), ':')
			if i, dup := pos[name]; dup {
				m.cols[i] = column{field: f.Name, key: key} // a later column wins, as in Node
				continue
			}
			pos[name] = len(m.cols)
			m.cols = append(m.cols, column{field: f.Name, key: key})
		}
	}
	i, ok := pos[lookup]
	if !ok {
		return nil
	}
	m.lookup = i
	return m
}

func (m *mapper) mapRow(dst []byte, row *rows.Row) ([]byte, error) {
	if c, ok := row.Cell(m.cols[m.lookup].field); !ok || c.Pivoted != nil || len(c.Value.Bytes()) == 0 {
		return dst, fmt.Errorf("the lookup field %s is empty", m.name)
	}
	dst = append(dst, '{')
	n := 0
	for _, col := range m.cols {
		c, ok := row.Cell(col.field)
		if !ok || c.Pivoted != nil {
			continue // a missing or pivoted cell sets nothing (Node crashed)
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, col.key...)
		dst = c.Value.AppendJSON(dst)
	}
	return append(dst, '}'), nil
}

// client calls one Marketo instance with one set of credentials.
type client struct {
	base, clientID, secret string
	http                   *vendorhttp.Client
	// identity calls the token endpoint, which Marketo does not count against the
	// REST limits: it has no token bucket.
	identity   *vendorhttp.Client
	credential string

	mu    sync.Mutex
	token string
	exp   time.Time
	clock vendorhttp.Clock
}

func (a *Action) client(base, clientID, secret string) *client {
	t := &transport{base: a.Env.Client().Transport, maxSlots: a.Limits.Concurrency}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	hc := &http.Client{Transport: t, CheckRedirect: a.Env.Client().CheckRedirect, Jar: a.Env.Client().Jar}
	clock := a.Limits.Clock
	if clock == nil {
		clock = vendorhttp.RealClock{}
	}
	cfg := a.Limits.Config("marketo", hc)
	// the identity service is not paced by the REST API's bucket
	idCfg := cfg
	idCfg.Rate, idCfg.Burst = 0, 0
	identity := vendorhttp.New(idCfg)
	return &client{base: base, clientID: clientID, secret: secret, credential: base, clock: clock,
		http: vendorhttp.New(cfg), identity: identity}
}

// errAuth is a refusal of the credentials; it stops the delivery.
type errAuth struct{ msg string }

func (e *errAuth) Error() string { return e.msg }

// accessToken returns a valid token, asking the identity service for a new one when it
// has none, it expires within a minute, or stale is the token Marketo just refused.
func (c *client) accessToken(ctx context.Context, stale string) (string, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.token != stale && c.clock.Now().Before(c.exp) {
		return c.token, 0, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.secret}}
	resp, err := c.identity.Do(ctx, &vendorhttp.Request{Method: http.MethodPost, URL: c.base + "/identity/oauth/token",
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(form.Encode()),
		Secrets: []string{c.secret, c.clientID}})
	retries := resp.Retries()
	var se *vendorhttp.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusBadRequest || se.Status == http.StatusForbidden) {
		return "", retries, &errAuth{"Marketo refused the Client ID and Client Secret (HTTP " + strconv.Itoa(se.Status) + ")"}
	}
	if err != nil {
		return "", retries, fmt.Errorf("getting a Marketo access token failed: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if json.Unmarshal(resp.Body, &tok) != nil || tok.AccessToken == "" {
		return "", retries, errors.New("the Marketo identity service answered without an access token")
	}
	c.token = tok.AccessToken
	c.exp = c.clock.Now().Add(time.Duration(tok.ExpiresIn)*time.Second - time.Minute)
	return c.token, retries, nil
}

// apiError is one of Marketo's errors[] or reasons[].
type apiError struct {
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
}

func (e apiError) code() string { return strings.Trim(string(e.Code), `"`) }

func (e apiError) String() string { return "[" + e.code() + "] " + e.Message }

// reply is Marketo's answer envelope; Result points to where the result is decoded, so
// the answer is read in one pass.
type reply struct {
	Success bool       `json:"success"`
	Errors  []apiError `json:"errors"`
	Result  any        `json:"result"`
}

// callError is a call that failed; fatal ones stop the delivery.
type callError struct {
	msg   string
	fatal bool
	// again says the failure was transient (the client's retries ran out): the rows may
	// be re-sent later.
	again bool
	// maybe says a send-once call may have been received although it failed.
	maybe bool
}

func (e *callError) Error() string { return e.msg }

// call sends one REST call and decodes its result into out (nil: ignored), renewing the
// token once if Marketo refuses it. Retries are counted into report. A once call is not
// re-sent once it may have reached Marketo (a campaign trigger would run the campaign's
// flow again): see vendorhttp.Request.NoResendAfterWrite.
func (c *client) call(ctx context.Context, report *sdk.Report, method, path string, body []byte, once bool, out any) error {
	stale := ""
	for renew := 0; ; renew++ {
		tok, n, err := c.accessToken(ctx, stale)
		report.AddRetries(n)
		if err != nil {
			var ae *errAuth
			if errors.As(err, &ae) {
				return &callError{msg: ae.msg, fatal: true}
			}
			return &callError{msg: err.Error(), again: ctx.Err() == nil}
		}
		resp, err := c.http.Do(ctx, &vendorhttp.Request{Method: method, URL: c.base + path, Body: body,
			Credential: c.credential, Secrets: []string{tok, c.secret}, NoResendAfterWrite: once,
			Header: http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}})
		maybe := once && errors.Is(err, vendorhttp.ErrMaybeSent) && ctx.Err() == nil
		report.AddRetries(vendorhttp.Retries(resp, err))
		if maybe {
			return &callError{msg: errMaybeSent.Error(), maybe: true}
		}
		var se *vendorhttp.StatusError
		if errors.As(err, &se) {
			code := resp.Header.Get(errorHeader)
			if se.Status == http.StatusUnauthorized && code != "" && renew == 0 {
				stale = tok
				continue // the token expired or was revoked: get a new one, once
			}
			msg := se.Error()
			if code != "" {
				msg = "Marketo error " + code + ": " + se.Message
			}
			return &callError{msg: msg, fatal: se.Status == http.StatusUnauthorized, again: se.Retryable}
		}
		if err != nil {
			return &callError{msg: err.Error(), again: ctx.Err() == nil}
		}
		r := reply{Result: out}
		if out == nil {
			r.Result = &json.RawMessage{}
		}
		if err := json.Unmarshal(resp.Body, &r); err != nil {
			return &callError{msg: "Marketo answered with unreadable JSON"}
		}
		if !r.Success {
			if len(r.Errors) == 0 {
				return &callError{msg: "Marketo answered success:false without an error"}
			}
			e := r.Errors[0]
			return &callError{msg: "Marketo error " + e.String(), fatal: e.code() == "607" || e.code() == "603"}
		}
		return nil
	}
}

// sender sends the batches of one execute.
type sender struct {
	client *client
	plan   *plan
	report *sdk.Report
	stop   func(msg string)
	failed atomic.Int32
}

// result is one entry of a createOrUpdate or list answer.
type result struct {
	ID      int64      `json:"id"`
	Status  string     `json:"status"`
	Reasons []apiError `json:"reasons"`
}

func reasons(r []apiError) string {
	if len(r) == 0 {
		return "no reason given"
	}
	parts := make([]string, len(r))
	for i, x := range r {
		parts[i] = x.String()
	}
	return strings.Join(parts, "; ")
}

func (s *sender) send(ctx context.Context, b *batch.Batch) error {
	if b.Attempt > 0 {
		s.report.AddRetries(1)
	}
	body := b.Joined(`{"action":"createOrUpdate","lookupField":`+s.plan.quoted+`,"input":[`, ",", "]}")
	var results []result
	if err := s.client.call(ctx, s.report, http.MethodPost, "/rest/v1/leads.json", body, false, &results); err != nil {
		return s.failBatch(ctx, b, err)
	}
	if len(results) != b.Len() {
		b.FailAll(fmt.Sprintf("Marketo answered %d results for %d leads", len(results), b.Len()))
		return nil
	}
	s.failed.Store(0)
	ok := make([]int, 0, len(results)) // items whose lead was synced
	for i, r := range results {
		if r.ID == 0 || (r.Status != "created" && r.Status != "updated") {
			b.Fail(i, "Marketo skipped the lead: "+reasons(r.Reasons))
			continue
		}
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return nil
	}
	for _, id := range s.plan.campaigns {
		if ok = s.trigger(ctx, b, results, ok, id); len(ok) == 0 {
			return nil
		}
	}
	for _, id := range s.plan.addLists {
		if ok = s.membership(ctx, b, results, ok, id, true); len(ok) == 0 {
			return nil
		}
	}
	for _, id := range s.plan.removeLists {
		if ok = s.membership(ctx, b, results, ok, id, false); len(ok) == 0 {
			return nil
		}
	}
	return nil
}

// failBatch decides what a failed lead sync means for the batch.
func (s *sender) failBatch(ctx context.Context, b *batch.Batch, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var ce *callError
	if !errors.As(err, &ce) {
		return err
	}
	switch {
	case ce.fatal:
		b.FailAll(ce.msg)
		s.stop(ce.msg)
		return nil
	case ce.again:
		// a createOrUpdate is an upsert on the lookup field: re-sending it is safe
		if s.failed.Add(1) >= maxFailedBatches {
			b.FailAll(ce.msg)
			s.stop("Marketo kept failing: " + ce.msg)
			return nil
		}
		for i := range b.Items {
			b.Retry(i, ce.msg)
		}
		return nil
	}
	s.failed.Store(0)
	return err
}

// stepFailed marks the synced leads of items as rejected for a failed list or campaign
// step, and stops the delivery when the failure is fatal.
func (s *sender) stepFailed(ctx context.Context, b *batch.Batch, items []int, what string, err error) {
	if ctx.Err() != nil {
		return // cancelled: the rows are counted as not sent
	}
	msg := err.Error()
	var ce *callError
	if errors.As(err, &ce) {
		if ce.fatal {
			s.stop(ce.msg)
		}
		if ce.maybe {
			msg = "the connection failed after the request was sent; Marketo may or may not have received it, and it was not re-sent to avoid doing it twice"
		}
	}
	for _, i := range items {
		b.Fail(i, "lead synced, but "+what+" failed: "+msg)
	}
}

// trigger requests campaign id for the synced leads, MaxTriggerLeads at a time, and
// returns the items still fine.
func (s *sender) trigger(ctx context.Context, b *batch.Batch, results []result, ok []int, id string) []int {
	var keep []int
	for start := 0; start < len(ok); start += MaxTriggerLeads {
		chunk := ok[start:min(len(ok), start+MaxTriggerLeads)]
		body := []byte(`{"input":{"leads":[`)
		for j, i := range chunk {
			if j > 0 {
				body = append(body, ',')
			}
			body = strconv.AppendInt(append(body, `{"id":`...), results[i].ID, 10)
			body = append(body, '}')
		}
		body = append(body, "]}}"...)
		// A trigger runs the campaign's flow: it must not be re-sent once it may have
		// been received.
		if err := s.client.call(ctx, s.report, http.MethodPost, "/rest/v1/campaigns/"+id+"/trigger.json", body, true, nil); err != nil {
			s.stepFailed(ctx, b, chunk, "triggering campaign "+id, err)
			continue
		}
		keep = append(keep, chunk...)
	}
	return keep
}

// membership adds the synced leads to, or removes them from, static list id, and returns
// the items still fine.
func (s *sender) membership(ctx context.Context, b *batch.Batch, results []result, ok []int, id string, add bool) []int {
	what, method := "adding to list "+id, http.MethodPost
	if !add {
		what, method = "removing from list "+id, http.MethodDelete
	}
	body := []byte(`{"input":[`)
	for j, i := range ok {
		if j > 0 {
			body = append(body, ',')
		}
		body = strconv.AppendInt(append(body, `{"id":`...), results[i].ID, 10)
		body = append(body, '}')
	}
	body = append(body, "]}"...)
	var rs []result
	if err := s.client.call(ctx, s.report, method, "/rest/v1/lists/"+id+"/leads.json", body, false, &rs); err != nil {
		s.stepFailed(ctx, b, ok, what, err)
		return nil
	}
	byID := make(map[int64]result, len(rs))
	for _, r := range rs {
		byID[r.ID] = r
	}
	keep := ok[:0:0]
	for _, i := range ok {
		r, found := byID[results[i].ID]
		switch {
		case !found:
			b.Fail(i, "lead synced, but "+what+" failed: Marketo did not answer for this lead")
		case r.Status == "added" || r.Status == "removed":
			keep = append(keep, i)
		case !add && r.Status == "skipped" && len(r.Reasons) > 0 && r.Reasons[0].code() == "1015":
			keep = append(keep, i) // "Lead not in list": it is not in the list, as asked
		default:
			b.Fail(i, "lead synced, but "+what+" failed: "+reasons(r.Reasons))
		}
	}
	return keep
}
