// Package hubspot is the "hubspot_contacts" and "hubspot_companies" actions: they update
// properties of existing HubSpot contacts or companies from a query's rows. The column
// tagged hubspot_contact_id (or hubspot_company_id) holds the object's HubSpot id; every
// other visible column becomes a property named after the LookML field with "." turned
// into "_" (the Node actions' mapping, kept so existing HubSpot properties still match).
//
// Compared with the Node actions: the rows are streamed from Looker's download URL into
// batches of up to 100 inputs (HubSpot's limit; Node defaulted to 10 and held every row
// in memory first); requests go through the shared vendor client with a token bucket
// per access token instead of a fixed 500 ms sleep, and are retried on 429, 5xx and
// network failures (a batch update sets the same values again, so re-sending is safe);
// HubSpot's 207 Multi-Status answers are read and each object it could not update
// becomes a rejected row with HubSpot's reason; a refused token (401/403) stops the
// delivery at once instead of failing every batch; rows that repeat an id within one
// batch are merged, later values winning, because HubSpot refuses duplicate ids in a
// batch; rows without an id are counted as skipped (Node dropped them silently).
//
// The actions run in their own process in the Node hub, so their validation errors
// reach Looker as a 200 reply with success false; they do here as well.
package hubspot

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rowaction"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// HubSpot's limits and defaults.
const (
	// MaxBatchInputs is the most inputs HubSpot accepts in one batch request. The
	// limit is widely documented for the CRM batch endpoints but not stated on the pages
	// checked (vendors.md): https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/batch/update-contacts
	MaxBatchInputs = 100
	// DefaultRequestsPer10s is HubSpot's burst limit for a private app on a Free or
	// Starter account, the strictest of the private-app tiers (Professional and
	// Enterprise allow 190, the API limit increase 250); see bucket for how the token
	// bucket keeps within it:
	// https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines
	DefaultRequestsPer10s = 100
	// DefaultMaxInFlight is the number of batch requests sent at once per execute.
	DefaultMaxInFlight = 4
	// DefaultBaseURL is HubSpot's API host; ACTION_HUB_VENDOR_URL_HUBSPOT overrides it.
	DefaultBaseURL = "https://api.hubapi.com"
	// RateLimitVar is the environment variable that sets the requests allowed per 10
	// seconds per access token, for accounts with higher limits ("0" lifts the limit).
	RateLimitVar = "HUBSPOT_RATE_LIMIT"
	// maxFailedBatches is how many batches in a row may fail whole, after the client's
	// retries and the batcher's re-sends, before the delivery is stopped.
	maxFailedBatches = 3
)

// Param names.
const (
	paramToken     = "hubspot_access_token"
	paramBatchSize = "hubspot_batch_update_size"
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

// Object describes one of the two actions.
type Object struct {
	// Name, Label and Description are listed to Looker.
	Name, Label, Description string
	// Tag marks the column holding the object's id.
	Tag string
	// Path is the CRM object type in the API path ("contacts", "companies").
	Path string
}

// The two HubSpot object types the actions update.
var (
	Contacts = Object{Name: "hubspot_contacts", Label: "Hubspot Contacts",
		Description: "Update properties on your Hubspot contacts.", Tag: "hubspot_contact_id", Path: "contacts"}
	Companies = Object{Name: "hubspot_companies", Label: "Hubspot Companies",
		Description: "Update properties on your Hubspot companies.", Tag: "hubspot_company_id", Path: "companies"}
)

func init() {
	for _, o := range []Object{Contacts, Companies} {
		sdk.Register(Module(o, nil))
	}
}

// Module returns the registration of the action for o. tune, when not nil, adjusts the
// limits after New has set them (benchmarks lift the rate limit this way).
func Module(o Object, tune func(*Limits)) sdk.Module {
	return sdk.Module{Name: o.Name, New: func(env *sdk.Env) (sdk.Action, error) {
		a, err := New(env, o)
		if err == nil && tune != nil {
			tune(&a.Limits)
		}
		return a, err
	}}
}

// Limits tune the delivery. New sets them from the defaults and RateLimitVar.
type Limits = vendorhttp.Limits

// Action is hubspot_contacts or hubspot_companies.
type Action struct {
	Env    *sdk.Env
	Object Object
	// BaseURL is HubSpot's API base URL.
	BaseURL string
	Limits  Limits
}

// New returns the action for o. It needs no environment; RateLimitVar, when set to a
// number, replaces the default rate.
func New(env *sdk.Env, o Object) (*Action, error) {
	a := &Action{Env: env, Object: o, BaseURL: env.VendorURL("hubspot", DefaultBaseURL), Limits: Limits{MaxInFlight: DefaultMaxInFlight}}
	a.Limits.Rate, a.Limits.Burst = bucket(DefaultRequestsPer10s)
	n, set, err := vendorhttp.RateFromEnv(env, RateLimitVar, "requests per 10 seconds")
	if err != nil {
		return nil, err
	}
	if set {
		a.Limits.Rate, a.Limits.Burst = bucket(n)
	}
	return a, nil
}

// bucket returns a token bucket that lets through at most n requests in any 10 seconds:
// a burst of n/10 and a rate of 0.9·n/10 per second (0.1·n + 0.9·n = n). n = 0 lifts the
// limit.
func bucket(n float64) (rate float64, burst int) {
	if n == 0 {
		return 0, 0
	}
	burst = max(1, int(n/10))
	return (n - float64(burst)) / 10, burst
}

// Definition describes the action as the Node hub lists it.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                              a.Object.Name,
		Label:                             a.Object.Label,
		Description:                       a.Object.Description,
		Icon:                              icon,
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		FormatsFor:                        sdk.LiteStreamFormats,
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
		Streaming:                         true,
		RequiredFields:                    []sdk.RequiredField{{AnyTag: []string{a.Object.Tag}}},
		Params: []sdk.Param{
			{Name: paramToken, Label: "Hubspot Access Token", Required: true, Sensitive: true,
				Description: "The access token of a HubSpot private app with write access to " + a.Object.Path + "."},
			{Name: paramBatchSize, Label: "Batch Update Size", Required: false, Sensitive: false,
				Description: fmt.Sprintf("The number of objects to batch update per call (default and maximum %d).", MaxBatchInputs)},
		},
	}
}

// batchSize reads the batch size param: the default and the cap are MaxBatchInputs.
func batchSize(v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > MaxBatchInputs {
		return MaxBatchInputs
	}
	return n
}

// Execute streams the rows into HubSpot batch updates.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	token := req.Param(paramToken)
	if token == "" {
		return nil, errors.New(`Required setting "Hubspot Access Token" not specified in action settings.`)
	}
	return rowaction.Execute(ctx, req, rowaction.Options{}, func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
		// The last tagged field wins, as in Node.
		idField := ""
		for _, f := range run.Fields.All() {
			if f.HasTag(a.Object.Tag) {
				idField = f.Name
			}
		}
		if idField == "" {
			return nil, sdk.Fail(fmt.Sprintf("Dimension with the %s tag is required", a.Object.Tag)), nil
		}
		s := &sender{
			url:    a.BaseURL + "/crm/v3/objects/" + a.Object.Path + "/batch/update",
			token:  token,
			report: run.Report,
			client: vendorhttp.New(a.Limits.Config("hubspot", a.Env.Client())),
			stop:   run.Stop,
		}
		m := &mapper{idField: idField, hidden: req.HiddenFields(), keys: map[string][]byte{}}
		return &rowaction.Delivery{Batch: batch.Config{MaxItems: batchSize(req.Param(paramBatchSize)), MaxInFlight: max(1, a.Limits.MaxInFlight)},
			Send: s.send, Map: m.mapRow}, nil, nil
	})
}

// mapper turns a row into one batch input: {"id":"…","properties":{…}}.
type mapper struct {
	idField string
	hidden  map[string]bool
	// keys caches each column's quoted property name and colon; nil skips the column.
	keys map[string][]byte
}

func (m *mapper) key(name string) []byte {
	k, ok := m.keys[name]
	if !ok {
		if name != m.idField && !m.hidden[name] {
			k = rows.AppendQuoted(nil, []byte(strings.ReplaceAll(name, ".", "_")))
			k = append(k, ':')
		}
		m.keys[name] = k
	}
	return k
}

func (m *mapper) mapRow(dst []byte, row *rows.Row) ([]byte, error) {
	id, ok := row.Cell(m.idField)
	if !ok || id.Pivoted != nil || len(id.Value.Bytes()) == 0 {
		return dst, batch.ErrSkip // no id: nothing to update (Node skipped these too)
	}
	dst = append(dst, `{"id":`...)
	dst = rows.AppendQuoted(dst, id.Value.Bytes())
	dst = append(dst, `,"properties":{`...)
	first := true
	for i := 0; i < row.Len(); i++ {
		k := m.key(row.Name(i))
		if k == nil {
			continue
		}
		c := row.At(i)
		if c.Pivoted != nil {
			continue // a pivoted measure has no single value (Node sent nothing either)
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, k...)
		dst = c.Value.AppendJSON(dst)
	}
	return append(dst, "}}"...), nil
}

// sender sends batches to one execute's endpoint.
type sender struct {
	url, token string
	report     *sdk.Report
	client     *vendorhttp.Client
	stop       func(msg string)
	failed     atomic.Int32 // batches failed whole in a row
}

// multiStatus is HubSpot's batch answer.
type multiStatus struct {
	Results []struct {
		ID string `json:"id"`
	} `json:"results"`
	Errors []struct {
		Category string `json:"category"`
		Message  string `json:"message"`
		Context  struct {
			IDs []string `json:"ids"`
		} `json:"context"`
	} `json:"errors"`
}

func (s *sender) send(ctx context.Context, b *batch.Batch) error {
	ids := make([]string, b.Len())
	for i, it := range b.Items {
		ids[i] = itemID(it)
	}
	body := s.body(b, ids)
	resp, err := s.client.Do(ctx, &vendorhttp.Request{
		Method: http.MethodPost, URL: s.url, Body: body, Credential: s.token, Secrets: []string{s.token},
		Header: http.Header{"Authorization": {"Bearer " + s.token}, "Content-Type": {"application/json"}},
	})
	s.report.AddRetries(retries(b, resp, err))
	if err != nil {
		return s.fail(ctx, b, err)
	}
	s.failed.Store(0)
	if resp.Status == http.StatusMultiStatus {
		s.multiStatus(b, ids, resp.Body)
	}
	return nil
}

// retries counts a call's attempts after the first, plus one when the batch is itself a
// re-send of rows a failed call gave back.
func retries(b *batch.Batch, resp *vendorhttp.Response, err error) int {
	n := vendorhttp.Retries(resp, err)
	if b.Attempt > 0 {
		n++
	}
	return n
}

// fail decides what a failed request means for its batch.
func (s *sender) fail(ctx context.Context, b *batch.Batch, err error) error {
	if ctx.Err() != nil {
		return err // cancelled: the batcher counts the rows as not sent
	}
	var se *vendorhttp.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden) {
		msg := fmt.Sprintf("HubSpot refused the access token (HTTP %d): check the Hubspot Access Token setting and the private app's scopes", se.Status)
		if se.Message != "" {
			msg += ": " + se.Message
		}
		b.FailAll(msg)
		s.stop(msg)
		return nil
	}
	if se != nil && !se.Retryable {
		s.failed.Store(0)
		return err // HubSpot refused the batch as such (400 VALIDATION_ERROR, ...): every row gets its reason
	}
	// A retryable status or a network failure after the client's retries: re-send the
	// rows later (an update is idempotent), and stop if HubSpot keeps failing.
	if s.failed.Add(1) >= maxFailedBatches {
		msg := "HubSpot kept failing: " + err.Error()
		b.FailAll(err.Error())
		s.stop(msg)
		return nil
	}
	for i := range b.Items {
		b.Retry(i, err.Error())
	}
	return nil
}

// multiStatus turns the errors of a 207 answer into rejected rows.
func (s *sender) multiStatus(b *batch.Batch, ids []string, body []byte) {
	var ms multiStatus
	if err := json.Unmarshal(body, &ms); err != nil {
		b.FailAll("HubSpot answered 207 Multi-Status with an unreadable body")
		return
	}
	failed := make([]bool, len(ids))
	unattributed := ""
	for _, e := range ms.Errors {
		reason := e.Message
		if e.Category != "" {
			reason = e.Category + ": " + e.Message
		}
		if len(e.Context.IDs) == 0 {
			if unattributed == "" {
				unattributed = reason
			}
			continue
		}
		for _, id := range e.Context.IDs {
			for i, x := range ids {
				if x == id && !failed[i] {
					failed[i] = true
					b.Fail(i, reason)
				}
			}
		}
	}
	if unattributed == "" {
		return
	}
	// An error HubSpot did not attribute: rows whose object is not among the results
	// were not updated.
	done := make(map[string]bool, len(ms.Results))
	for _, r := range ms.Results {
		done[r.ID] = true
	}
	for i, id := range ids {
		if !failed[i] && !done[id] {
			b.Fail(i, unattributed)
		}
	}
}

// body builds {"inputs":[…]}, merging the inputs of an id that occurs more than once
// (HubSpot refuses duplicate ids in a batch): later rows' properties win, as if the
// updates had been applied one after the other.
func (s *sender) body(b *batch.Batch, ids []string) []byte {
	var dup map[string][]int
	seen := make(map[string]int, len(ids))
	for i, id := range ids {
		if j, ok := seen[id]; ok {
			if dup == nil {
				dup = map[string][]int{}
			}
			if dup[id] == nil {
				dup[id] = []int{j}
			}
			dup[id] = append(dup[id], i)
			continue
		}
		seen[id] = i
	}
	if dup == nil {
		return b.Joined(`{"inputs":[`, ",", "]}")
	}
	var buf bytes.Buffer
	buf.WriteString(`{"inputs":[`)
	n := 0
	for i, it := range b.Items {
		group, isDup := dup[ids[i]]
		if isDup && group[0] != i {
			continue // merged into its first occurrence
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		if !isDup {
			buf.Write(it)
			continue
		}
		buf.Write(mergeInputs(b.Items, group))
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

// mergeInputs merges the properties of several inputs of one id, keeping the first
// occurrence order of the names.
func mergeInputs(items [][]byte, group []int) []byte {
	type input struct {
		ID         json.RawMessage `json:"id"`
		Properties json.RawMessage `json:"properties"`
	}
	var order []string
	vals := map[string]json.RawMessage{}
	var id json.RawMessage
	for _, i := range group {
		var in input
		if json.Unmarshal(items[i], &in) != nil {
			continue
		}
		id = in.ID
		dec := json.NewDecoder(bytes.NewReader(in.Properties))
		dec.UseNumber()
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			continue
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				break
			}
			name, _ := t.(string)
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				break
			}
			if _, ok := vals[name]; !ok {
				order = append(order, name)
			}
			vals[name] = v
		}
	}
	out := append([]byte(`{"id":`), id...)
	out = append(out, `,"properties":{`...)
	for i, name := range order {
		if i > 0 {
			out = append(out, ',')
		}
		out = rows.AppendQuoted(out, []byte(name))
		out = append(out, ':')
		out = append(out, vals[name]...)
	}
	return append(out, "}}"...)
}

// itemID returns the id of an input the mapper made ({"id":"…",…}).
func itemID(item []byte) string {
	rest, ok := bytes.CutPrefix(item, []byte(`{"id":"`))
	if !ok {
		return ""
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	if bytes.IndexByte(rest[:end], '\\') < 0 {
		return string(rest[:end])
	}
	// escaped: let the JSON decoder find the end and unescape
	var v struct {
		ID string `json:"id"`
	}
	dec := json.NewDecoder(bytes.NewReader(item))
	if dec.Decode(&v) != nil {
		return string(rest[:end])
	}
	return v.ID
}
