// Package airtable is the "airtable" action: it creates one Airtable record per query
// row in a base and table the user names, logging in with Airtable's OAuth (PKCE).
//
// Compared with the Node action: rows are streamed from Looker's download URL (Node held
// the whole json_detail in memory) and created ten per request, Airtable's maximum (Node
// made one call per row, all at once); requests keep under Airtable's 5 requests per
// second per base with a token bucket, and a 429 waits the 30 seconds Airtable asks for;
// an expired access token is refreshed once, by one call however many batches noticed,
// and the new tokens (Airtable's refresh tokens are single use) go back to Looker in the
// reply's state; a refused refresh resets the state so the next form asks to log in.
//
// Node retried every failure by creating all the rows again, duplicating those already
// created. Here a batch is re-sent only when Airtable certainly did not create it: an
// error answer (429, 5xx: Airtable's create requests are all or nothing) or a request
// that never completely left. When the request was sent but no answer came (a dropped
// connection, a timeout), Airtable may have created the records: they are not re-sent,
// and their rows are reported as rejected with a reason saying their creation is
// unconfirmed. Rows are never created twice; in that rare case some may exist in Airtable
// although the report counts them as not delivered.
//
// Errors that would repeat for every batch (the table or base not found, no permission,
// an unknown field name) stop the delivery at once with Airtable's message.
package airtable

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rowaction"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name.
const Name = "airtable"

// Airtable's limits and this action's defaults.
const (
	// MaxRecordsPerRequest is the most records one create request may hold.
	// https://airtable.com/developers/web/api/create-records
	MaxRecordsPerRequest = 10
	// RequestsPerSecond is Airtable's limit per base; DefaultRate and DefaultBurst keep
	// a token bucket within it in any one-second window (1 + 4 = 5).
	// https://airtable.com/developers/web/api/rate-limits
	RequestsPerSecond = 5
	DefaultRate       = 4
	DefaultBurst      = 1
	// DefaultMaxInFlight is the create requests one execute sends at once.
	DefaultMaxInFlight = 3
	// DefaultAPIURL and DefaultAuthURL are Airtable's hosts; ACTION_HUB_VENDOR_URL_AIRTABLE_API
	// and ACTION_HUB_VENDOR_URL_AIRTABLE_AUTH override them.
	DefaultAPIURL  = "https://api.airtable.com"
	DefaultAuthURL = "https://airtable.com"
	// RateLimitVar sets the requests per second per base for the bucket to keep within
	// ("0" lifts the limit).
	RateLimitVar = "AIRTABLE_RATE_LIMIT"
	// maxFailedBatches is how many batches in a row may fail whole before the delivery
	// stops.
	maxFailedBatches = 3
)

// Form field names.
const (
	fieldBase  = "base"
	fieldTable = "table"
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

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
type Limits = vendorhttp.Limits

// Action is the airtable action.
type Action struct {
	Env                    *sdk.Env
	ClientID, ClientSecret string
	// APIURL and AuthURL are Airtable's API and OAuth base URLs.
	APIURL, AuthURL string
	Limits          Limits
}

// New returns the action, or an error wrapping sdk.ErrNotConfigured without
// AIRTABLE_CLIENT_ID and AIRTABLE_CLIENT_SECRET.
func New(env *sdk.Env) (*Action, error) {
	v, err := env.Require("AIRTABLE_CLIENT_ID", "AIRTABLE_CLIENT_SECRET")
	if err != nil {
		return nil, err
	}
	a := &Action{Env: env, ClientID: v[0], ClientSecret: v[1],
		APIURL:  env.VendorURL("airtable_api", DefaultAPIURL),
		AuthURL: env.VendorURL("airtable_auth", DefaultAuthURL),
		Limits:  Limits{Rate: DefaultRate, Burst: DefaultBurst, MaxInFlight: DefaultMaxInFlight, MaxRetries: 5, MinBackoff: time.Second}}
	n, set, err := vendorhttp.RateFromEnv(env, RateLimitVar, "requests per second")
	if err != nil {
		return nil, err
	}
	if set {
		// a bucket of 1 refilled at n-1 per second lets n through in any second
		a.Limits.Rate, a.Limits.Burst = max(n-1, n/2), 1
	}
	return a, nil
}

// Definition describes the action. The Node action pushed json_detail; this one streams
// (json_detail_lite_stream from Looker 6.2, json_detail before) so that large results
// are never held whole.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                              Name,
		Label:                             "Airtable",
		Description:                       "Add records to an Airtable table.",
		Icon:                              icon,
		Params:                            []sdk.Param{},
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		FormatsFor:                        sdk.LiteStreamFormats,
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
		Streaming:                         true,
	}
}

func (a *Action) apiClient() *vendorhttp.Client {
	base := a.Env.Client()
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc := &http.Client{Transport: &transport{base: rt}, CheckRedirect: base.CheckRedirect, Jar: base.Jar}
	return vendorhttp.New(a.Limits.Config("airtable", hc))
}

// Form asks for the base and table once the login works (checked by listing the user's
// bases, refreshing the tokens if needed); otherwise it is the login form.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	if tok, ok := readTokens(req); ok {
		s := &session{a: a, tok: tok}
		if err := s.checkLogin(ctx); err == nil {
			state, err := s.State()
			if err != nil {
				return nil, err
			}
			return &sdk.Form{Fields: []sdk.Field{
				{Label: "Airtable Base", Name: fieldBase, Required: true, Type: sdk.FieldString},
				{Label: "Airtable Table", Name: fieldTable, Required: true, Type: sdk.FieldString},
			}, State: state}, nil
		}
	}
	return a.loginForm(req)
}

// Execute streams the rows into record creations.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if !req.HasData() {
		return nil, sdk.Errorf("No attached json.")
	}
	base, table := req.Form(fieldBase), req.Form(fieldTable)
	if base == "" || table == "" {
		return nil, sdk.Errorf("Missing Airtable base or table.")
	}
	tok, ok := readTokens(req)
	if !ok {
		return &sdk.Response{Success: false, Message: "Log in to Airtable from the action's form first.",
			State: sdk.ResetState()}, nil
	}
	var sess *session
	resp, err := rowaction.Execute(ctx, req, rowaction.Options{}, func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
		m := newMapper(run.Fields.All())
		if m == nil {
			return nil, nil, sdk.Errorf("Request payload is an invalid format.")
		}
		sess = &session{a: a, tok: tok}
		s := &sender{session: sess, client: a.apiClient(), report: run.Report, base: base,
			url:  a.APIURL + "/v0/" + url.PathEscape(base) + "/" + url.PathEscape(table),
			stop: run.Stop}
		return &rowaction.Delivery{Batch: batch.Config{MaxItems: MaxRecordsPerRequest, MaxInFlight: max(1, a.Limits.MaxInFlight)},
			Send: s.send, Map: m.mapRow}, nil, nil
	})
	if err != nil || sess == nil {
		return resp, err
	}
	// The login may have been refreshed during the delivery: Looker keeps the new one.
	if resp.State, err = sess.State(); err != nil {
		return nil, err
	}
	return resp, nil
}

// mapper turns a row into {"fields":{…}}, keyed by each field's short label, label or
// name, as the Node action did.
type mapper struct {
	cols []column
}

type column struct {
	field string
	key   []byte // quoted Airtable field name and colon
}

// newMapper returns nil when there are no fields.
func newMapper(fields []rows.Field) *mapper {
	if len(fields) == 0 {
		return nil
	}
	m := &mapper{}
	pos := map[string]int{}
	for _, f := range fields {
		name := f.LabelShort
		if name == "" {
			name = f.Label
		}
		if name == "" {
			name = f.Name
		}
		c := column{field: f.Name, key: append(rows.AppendQuoted(nil, []byte(name)), ':')}
		if i, dup := pos[name]; dup {
			m.cols[i] = c // a later field with the same name wins, as in Node
			continue
		}
		pos[name] = len(m.cols)
		m.cols = append(m.cols, c)
	}
	return m
}

func (m *mapper) mapRow(dst []byte, row *rows.Row) ([]byte, error) {
	dst = append(dst, `{"fields":{`...)
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
	return append(dst, "}}"...), nil
}

// sender creates the records of one execute.
type sender struct {
	session *session
	client  *vendorhttp.Client
	report  *sdk.Report
	base    string
	url     string
	stop    func(msg string)
	failed  atomic.Int32
}

// unconfirmed is the reason of rows whose create request got no answer.
const unconfirmed = "no answer from Airtable after the records were sent (connection lost or timed out): " +
	"they may or may not have been created, and were not sent again to avoid duplicates"

func (s *sender) send(ctx context.Context, b *batch.Batch) error {
	if b.Attempt > 0 {
		s.report.AddRetries(1)
	}
	body := b.Joined(`{"records":[`, ",", "]}")
	for renewed := false; ; renewed = true {
		tok := s.session.access()
		// Sent once: Airtable's 429 and 5xx mean nothing was created (requests are all or
		// nothing), but a lost answer to a written request may hide created records.
		resp, err := s.client.Do(ctx, &vendorhttp.Request{Method: http.MethodPost, URL: s.url, Body: body,
			Credential: s.base, Secrets: []string{tok}, NoResendAfterWrite: true,
			Header: http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}})
		maybe := errors.Is(err, vendorhttp.ErrMaybeSent) && ctx.Err() == nil
		s.report.AddRetries(vendorhttp.Retries(resp, err))
		switch {
		case maybe:
			s.failed.Store(0)
			b.FailAll(unconfirmed)
			return nil
		case err == nil:
			s.failed.Store(0)
			return nil
		case ctx.Err() != nil:
			return err
		}
		var se *vendorhttp.StatusError
		if !errors.As(err, &se) {
			// no answer, and the request never completely left: nothing was created
			return s.again(b, err.Error())
		}
		if se.Status == http.StatusUnauthorized && !renewed {
			if _, rerr := s.session.refresh(ctx, tok); rerr != nil {
				msg := rerr.Error()
				if !errors.Is(rerr, errLoginGone) {
					msg = "refreshing the Airtable login failed: " + msg
				}
				b.FailAll(msg)
				s.stop(msg)
				return nil
			}
			continue
		}
		return s.refused(b, se, resp, tok)
	}
}

// refused handles an error answer: nothing was created.
func (s *sender) refused(b *batch.Batch, se *vendorhttp.StatusError, resp *vendorhttp.Response, tok string) error {
	typ, msg := airtableError(resp.Body)
	if msg == "" {
		msg = se.Error()
	}
	msg = vendorhttp.Redact(msg, tok)
	switch {
	case se.Retryable:
		return s.again(b, msg)
	case se.Status == http.StatusUnauthorized, se.Status == http.StatusForbidden, se.Status == http.StatusNotFound,
		typ == "UNKNOWN_FIELD_NAME", typ == "INVALID_PERMISSIONS":
		// the same for every batch: stop
		b.FailAll(msg)
		s.stop(msg)
		return nil
	}
	s.failed.Store(0)
	b.FailAll(msg) // a refusal of these records (422 INVALID_VALUE_FOR_COLUMN, ...)
	return nil
}

// again gives the rows back to the batcher to be sent later, and stops the delivery when
// Airtable keeps failing.
func (s *sender) again(b *batch.Batch, msg string) error {
	if s.failed.Add(1) >= maxFailedBatches {
		b.FailAll(msg)
		s.stop("Airtable kept failing: " + msg)
		return nil
	}
	for i := range b.Items {
		b.Retry(i, msg)
	}
	return nil
}

// airtableError reads {"error":{"type","message"}} or {"error":"TYPE"}.
func airtableError(body []byte) (typ, msg string) {
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.Error) == 0 {
		return "", ""
	}
	var e struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	if json.Unmarshal(v.Error, &e) == nil {
		return e.Type, e.Message
	}
	var s string
	json.Unmarshal(v.Error, &s)
	return s, s
}
