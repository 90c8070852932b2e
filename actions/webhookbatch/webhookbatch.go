// Package webhookbatch is the webhook_batch action: it POSTs the rows of a query to a
// receiver URL as signed JSON batches.
//
// It is the reference row action of this hub, built only from the shared delivery
// machinery: package rows reads Looker's stream, a mapping turns each row into a JSON
// object, package batch groups the objects with backpressure and counts the outcome,
// package vendorhttp sends with retries, and the answer is the delivery report.
//
// The protocol, for receiver authors. Each request is
//
//	POST <url>
//	Content-Type: application/json
//	Idempotency-Key: <batch_id>
//	X-Signature-SHA256: <hex HMAC-SHA256 of the body, keyed with the secret>
//
//	{"rows":[{"<field name>":<value>,...},...],"batch_id":"<execute id>-<n>"}
//
// A value is the cell's JSON value (string, number, boolean or null); a pivoted measure is
// an object of pivot key → value. Fields hidden in the visualization are left out. The
// same batch_id is sent again when a request is retried (429, 5xx, timeouts, dropped
// connections), so a receiver that remembers the ids it committed delivers every row
// exactly once. A 2xx answer delivers the batch; its JSON body may refuse items by their
// index in "rows": {"rejected":[{"index":0,"reason":"..."}]} for good (reported to the
// Looker user), {"retry":[{"index":1,"reason":"..."}]} for now (sent again in a later batch
// with a new batch_id, up to 3 times).
package webhookbatch

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name in the Action API.
const Name = "webhook_batch"

// Limits. The receiver is the customer's own, so these are this hub's choices, not a
// vendor's.
const (
	// DefaultBatchSize and MaxBatchSize bound the batch_size param (rows per request).
	DefaultBatchSize = 500
	MaxBatchSize     = 10000
	// MaxBodyBytes caps one request body; a batch closes early rather than exceed it.
	MaxBodyBytes = 8 << 20
	// envelopeReserve leaves room for `{"rows":[` and `],"batch_id":"..."}`.
	envelopeReserve = 256
	// maxInFlight is the number of batches sent at once to one receiver.
	maxInFlight = 4
	// itemRetries is how many times an item the receiver asks to retry is sent again.
	itemRetries = 3
)

// Headers of the protocol.
const (
	SignatureHeader   = "X-Signature-SHA256"
	IdempotencyHeader = "Idempotency-Key"
)

//go:embed icon.svg
var icon []byte

func init() {
	sdk.Register(sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
		return New(env, vendorhttp.Config{}), nil
	}})
}

// Action is the webhook_batch action.
type Action struct {
	env    *sdk.Env
	client *vendorhttp.Client
}

// New returns the action. cfg tunes the HTTP client (timeouts, retries, clock); its
// Vendor and Client are set here.
func New(env *sdk.Env, cfg vendorhttp.Config) *Action {
	cfg.Vendor = "webhook"
	cfg.Client = env.Client()
	return &Action{env: env, client: vendorhttp.New(cfg)}
}

var definition = &sdk.Definition{
	Name:  Name,
	Label: "Webhook (JSON batches)",
	Description: "POST the rows of a query as JSON to your endpoint, in batches signed with HMAC-SHA256 " +
		"and safe to retry (Idempotency-Key).",
	Icon: sdk.IconDataURI("image/svg+xml", icon),
	Params: []sdk.Param{
		{Name: "url", Label: "Receiver URL", Required: true,
			Description: "The http(s) URL each batch is POSTed to."},
		{Name: "secret", Label: "Signing secret", Required: true, Sensitive: true,
			Description: "Key of the HMAC-SHA256 signature sent in the X-Signature-SHA256 header (hex)."},
		{Name: "batch_size", Label: "Batch size",
			Description: "Rows per request: " + strconv.Itoa(DefaultBatchSize) + " unless set, at most " + strconv.Itoa(MaxBatchSize) + "."},
	},
	SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
	FormatsFor:                        sdk.LiteStreamFormats,
	SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
	SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
	Streaming:                         true,
}

// Definition describes the action.
func (a *Action) Definition() *sdk.Definition { return definition }

// settings are an execute's validated params.
type settings struct {
	url       string
	secret    string
	batchSize int
}

func parseSettings(req *sdk.Request) (settings, error) {
	s := settings{url: req.Param("url"), secret: req.Params["secret"], batchSize: DefaultBatchSize}
	u, err := url.Parse(s.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return s, sdk.Errorf("The receiver URL must be an absolute http or https URL.")
	}
	if s.secret == "" {
		return s, sdk.Errorf(`Required setting "Signing secret" not specified in action settings.`)
	}
	if v := req.Param("batch_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxBatchSize {
			return s, sdk.Errorf("The batch size must be a whole number from 1 to %d.", MaxBatchSize)
		}
		s.batchSize = n
	}
	return s, nil
}

// Execute streams the rows to the receiver and answers with the delivery report.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	set, err := parseSettings(req)
	if err != nil {
		return nil, err
	}
	data, err := req.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	rd := rows.NewReader(data, "")
	defer rd.Close()

	report := sdk.NewReport()
	ex := &execution{
		client: a.client,
		set:    set,
		report: report,
		prefix: executeID(),
		hidden: req.HiddenFields(),
	}
	b := batch.New(batch.Config{
		MaxItems:    set.batchSize,
		MaxBytes:    MaxBodyBytes - envelopeReserve,
		MaxInFlight: maxInFlight,
		ItemRetries: itemRetries,
	}, report, ex.send)
	batch.Pump(ctx, rd, report, b, ex.mapRow) // every outcome is in the report
	return sdk.FromReport(report), nil
}

// executeID is a random id unique to one execute, the prefix of its batch ids.
func executeID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// execution is the state of one execute.
type execution struct {
	client *vendorhttp.Client
	set    settings
	report *sdk.Report
	prefix string
	hidden map[string]bool

	// quoted names, cached by column: Looker repeats the same names on every row.
	names  []string
	quoted [][]byte
}

// mapRow appends the row as a JSON object of field name → value.
func (x *execution) mapRow(dst []byte, row *rows.Row) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	for i := 0; i < row.Len(); i++ {
		name := row.Name(i)
		if len(x.hidden) > 0 && x.hidden[name] {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, x.quotedName(i, name)...)
		dst = append(dst, ':')
		c := row.At(i)
		if c.Pivoted == nil {
			dst = c.Value.AppendJSON(dst)
			continue
		}
		dst = append(dst, '{')
		for j, pv := range c.Pivoted {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = rows.AppendQuoted(dst, []byte(pv.Key))
			dst = append(dst, ':')
			dst = pv.Value.AppendJSON(dst)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

func (x *execution) quotedName(i int, name string) []byte {
	for len(x.names) <= i {
		x.names = append(x.names, "")
		x.quoted = append(x.quoted, nil)
	}
	if x.quoted[i] == nil || x.names[i] != name {
		x.names[i] = name
		x.quoted[i] = rows.AppendQuoted(nil, []byte(name))
	}
	return x.quoted[i]
}

// answer is the receiver's optional 2xx body.
type answer struct {
	Rejected []itemAnswer `json:"rejected"`
	Retry    []itemAnswer `json:"retry"`
}

type itemAnswer struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// send POSTs one batch and marks the items the receiver refused.
func (x *execution) send(ctx context.Context, b *batch.Batch) error {
	id := x.prefix + "-" + strconv.FormatInt(b.Seq, 10)
	body := b.Joined(`{"rows":[`, ",", `],"batch_id":"`+id+`"}`)
	mac := hmac.New(sha256.New, []byte(x.set.secret))
	mac.Write(body)
	resp, err := x.client.Do(ctx, &vendorhttp.Request{
		Method: http.MethodPost,
		URL:    x.set.url,
		Header: http.Header{
			"Content-Type":  {"application/json"},
			SignatureHeader: {hex.EncodeToString(mac.Sum(nil))},
		},
		Body:           body,
		Credential:     x.set.url + "\x00" + x.set.secret,
		IdempotencyKey: id,
		Secrets:        []string{x.set.secret},
	})
	x.report.AddRetries(vendorhttp.Retries(resp, err))
	if err != nil {
		return err
	}
	if !looksLikeObject(resp.Body) {
		return nil
	}
	var ans answer
	if json.Unmarshal(resp.Body, &ans) != nil {
		return nil // a 2xx with a body of its own: everything delivered
	}
	for _, it := range ans.Rejected {
		if it.Index >= 0 && it.Index < b.Len() {
			b.Fail(it.Index, x.reason(it.Reason, "rejected by the receiver"))
		}
	}
	for _, it := range ans.Retry {
		if it.Index >= 0 && it.Index < b.Len() {
			b.Retry(it.Index, x.reason(it.Reason, "the receiver asked to retry"))
		}
	}
	return nil
}

func looksLikeObject(b []byte) bool {
	s := strings.TrimSpace(string(b[:min(len(b), 16)]))
	return strings.HasPrefix(s, "{")
}

// reason is the receiver's reason for refusing an item, redacted, or def.
func (x *execution) reason(r, def string) string {
	r = strings.TrimSpace(r)
	if r == "" {
		return def
	}
	return vendorhttp.Redact(r, x.set.secret)
}
