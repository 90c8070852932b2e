package mparticle

import (
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	mparticlefake "github.com/actionhub/actionhub/internal/fakes/mparticle"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

const (
	testKey    = "mp-key-0123456789"
	testSecret = "mp-secret-abcdefghij"
)

var (
	fastHTTP = vendorhttp.Config{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		MaxRetryAfter: 3 * time.Second, Rate: -1}
	uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

type harness struct {
	fake *mparticlefake.Server
	env  *sdk.Env
	vars map[string]string
	act  *Action
}

func newHarness(t *testing.T, fopts mparticlefake.Options, cfg vendorhttp.Config, inFlight int) *harness {
	t.Helper()
	if fopts.APIKey == "" {
		fopts.APIKey, fopts.APISecret = testKey, testSecret
	}
	h := &harness{fake: mparticlefake.New(t, fopts), vars: map[string]string{}}
	h.vars["ACTION_HUB_VENDOR_URL_MPARTICLE"] = h.fake.URL
	h.env = &sdk.Env{Getenv: func(k string) string { return h.vars[k] }}
	a, err := New(h.env, Options{HTTP: cfg, MaxInFlight: inFlight})
	if err != nil {
		t.Fatal(err)
	}
	h.act = a
	return h
}

func request(t *testing.T, doc any, dataType string) *sdk.Request {
	t.Helper()
	data, ok := doc.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
	}
	return &sdk.Request{Type: sdk.TypeQuery,
		Params:     map[string]string{ParamAPIKey: testKey, ParamAPISecret: testSecret},
		FormParams: map[string]string{FormDataType: dataType, FormEnvironment: "production"},
		Attachment: &sdk.Attachment{MimeType: "application/json", Data: data}}
}

func (h *harness) exec(t *testing.T, req *sdk.Request) (*sdk.Response, error) {
	t.Helper()
	req.Env = h.env
	resp, err := h.act.Execute(context.Background(), req)
	if p := h.fake.Problems(); len(p) > 0 {
		t.Fatalf("the fake refused requests: %v", p)
	}
	return resp, err
}

// batches returns the fake's batches with source_request_id checked and removed.
func (h *harness) batches(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, b := range h.fake.Batches() {
		if id, _ := b["source_request_id"].(string); !uuidRe.MatchString(id) {
			t.Errorf("source_request_id %q is not a UUID v4", id)
		}
		delete(b, "source_request_id")
		out = append(out, b)
	}
	return out
}

var sampleData = map[string]any{
	"fields": map[string]any{"measures": []any{}, "dimensions": []any{map[string]any{"name": "some.field", "tags": []string{"sometag"}}},
		"table_calculations": []any{}},
	"data": []any{map[string]any{"some.field": map[string]any{"value": "value"}}},
}

// fieldMappingData is the Node test's "field mappings" query.
var fieldMappingData = map[string]any{
	"fields": map[string]any{
		"measures": []any{},
		"dimensions": []any{
			map[string]any{"name": "user.customerid", "tags": []string{"mp_customer_id"}},
			map[string]any{"name": "user.brand", "tags": []string{"mp_device_info"}},
			map[string]any{"name": "user.bad_device_info_field", "tags": []string{"mp_device_info"}},
			map[string]any{"name": "user.good_custom", "tags": []string{"mp_custom_attribute"}},
			map[string]any{"name": "user.bad_custom", "tags": []string{}},
		},
		"table_calculations": []any{},
	},
	"data": []any{map[string]any{
		"user.customerid": map[string]any{"value": "value"}, "user.brand": map[string]any{"value": "foo"},
		"user.bad_device_info_field": map[string]any{"value": "bar"}, "user.good_custom": map[string]any{"value": "good"},
		"user.bad_custom": map[string]any{"value": "bad"},
	}},
}

// The Node action's tests, ported.
func TestNodeCases(t *testing.T) {
	h := newHarness(t, mparticlefake.Options{}, fastHTTP, 0)
	errCases := []struct {
		name     string
		params   map[string]string
		dataType string
		doc      any
		want     string
	}{
		{"no apiKey", map[string]string{ParamAPISecret: "myApiSecret"}, "", sampleData, `Required setting "API Key" not specified in action settings.`},
		{"no apiSecret", map[string]string{ParamAPIKey: "myApiKey"}, "", sampleData, `Required setting "API Secret" not specified in action settings.`},
		{"no data_type", map[string]string{ParamAPIKey: "k", ParamAPISecret: "s"}, "", sampleData, "Missing data type (user|event)."},
		{"no identity tag", map[string]string{ParamAPIKey: "k", ParamAPISecret: "s"}, UserData, sampleData, "Each row must specify at least 1 identity tag."},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			req := request(t, c.doc, c.dataType)
			req.Params = c.params
			_, err := h.exec(t, req)
			if e, ok := sdk.AsError(err); !ok || e.Text != c.want {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	t.Run("sets custom_event_type to 'other'", func(t *testing.T) {
		h := newHarness(t, mparticlefake.Options{}, fastHTTP, 0)
		resp, err := h.exec(t, request(t, fieldMappingData, EventData))
		if err != nil || !resp.Success {
			t.Fatalf("%+v %v", resp, err)
		}
		b := h.batches(t)[0]
		data := b["events"].([]any)[0].(map[string]any)["data"].(map[string]any)
		if data["custom_event_type"] != "other" {
			t.Errorf("custom_event_type %v", data["custom_event_type"])
		}
		if !reflect.DeepEqual(b["device_info"], map[string]any{"brand": "foo"}) {
			t.Errorf("only whitelisted device_info fields: %v", b["device_info"])
		}
		if !reflect.DeepEqual(data["custom_attributes"], map[string]any{"looker_user.good_custom": "good"}) {
			t.Errorf("custom attributes only from mp_custom_attribute: %v", data["custom_attributes"])
		}
	})
}

// The batches are the Node action's, member for member.
func TestPayloads(t *testing.T) {
	doc := []byte(`{"fields":{"measures":[{"name":"orders.count","tags":[]}],` +
		`"dimensions":[{"name":"users.id","tags":["mp_customer_id"]},{"name":"users.email","tags":["x","mp_email"]},` +
		`{"name":"users.ev","tags":["mp_event_name"]},{"name":"users.attr","tags":["mp_user_attribute"]},` +
		`{"name":"users.ts","tags":["mp_timestamp_unixtime_ms"]},{"name":"users.etype","tags":["mp_custom_event_type"]},` +
		`{"name":"device.platform","tags":["mp_device_info"]}],"table_calculations":[{"name":"calc","tags":["mp_custom_attribute"]}]},` +
		`"data":[{"users.id":{"value":42},"users.email":{"value":"a@b.c"},"users.ev":{"value":"Signed up"},` +
		`"users.attr":{"value":"gold"},"users.ts":{"value":1700000000000},"users.etype":{"value":"transaction"},` +
		`"device.platform":{"value":"iOS"},"orders.count":{"value":3},"calc":{"value":1.5}},` +
		`{"users.id":{"value":null},"users.email":{"value":"z@b.c"},"users.ev":{"value":null},"users.attr":{"value":null},` +
		`"users.ts":{"value":1},"users.etype":{"value":null},"device.platform":{"value":"Android"},"orders.count":{"p":{"value":1}},"calc":{"value":null}}]}`)
	t.Run("user data", func(t *testing.T) {
		h := newHarness(t, mparticlefake.Options{}, fastHTTP, 1)
		resp, err := h.exec(t, request(t, doc, UserData))
		if err != nil || !resp.Success {
			t.Fatalf("%+v %v", resp, err)
		}
		got, _ := json.Marshal(h.batches(t))
		want := `[{"device_info":{},"environment":"production","events":[],"schema_version":2,` +
			`"user_attributes":{"looker_calc":1.5,"looker_device.platform":"iOS","looker_orders.count":3,"looker_users.attr":"gold","looker_users.etype":"transaction","looker_users.ts":1700000000000},` +
			`"user_identities":{"customerid":"42","email":"a@b.c"}},` +
			`{"device_info":{},"environment":"production","events":[],"schema_version":2,` +
			`"user_attributes":{"looker_calc":null,"looker_device.platform":"Android","looker_users.attr":null,"looker_users.etype":null,"looker_users.ts":1},` +
			`"user_identities":{"email":"z@b.c"}}]`
		if string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("event data", func(t *testing.T) {
		h := newHarness(t, mparticlefake.Options{}, fastHTTP, 1)
		req := request(t, doc, EventData)
		req.FormParams[FormEnvironment] = "development"
		resp, err := h.exec(t, req)
		if err != nil || !resp.Success {
			t.Fatalf("%+v %v", resp, err)
		}
		got, _ := json.Marshal(h.batches(t))
		want := `[{"device_info":{"platform":"iOS"},"environment":"development",` +
			`"events":[{"data":{"custom_attributes":{"looker_calc":1.5},"custom_event_type":"transaction","event_name":"Signed up","timestamp_unixtime_ms":1700000000000},"event_type":"custom_event"}],` +
			`"schema_version":2,"user_attributes":{"looker_users.attr":"gold"},"user_identities":{"customerid":"42","email":"a@b.c"}},` +
			`{"device_info":{"platform":"Android"},"environment":"development",` +
			`"events":[{"data":{"custom_attributes":{"looker_calc":null},"custom_event_type":"other","event_name":"looker_custom_event","timestamp_unixtime_ms":1},"event_type":"custom_event"}],` +
			`"schema_version":2,"user_attributes":{"looker_users.attr":null},"user_identities":{"email":"z@b.c"}}]`
		if string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

// The member order of the wire bytes is the Node action's.
func TestWireOrder(t *testing.T) {
	f := mustFields(t, `{"dimensions":[{"name":"u.id","tags":["mp_customer_id"]},{"name":"u.x","tags":["mp_custom_attribute"]}]}`)
	m, err := newMapper(f, true, Production)
	if err != nil {
		t.Fatal(err)
	}
	rec := mapOne(t, m, `{"u.id":{"value":"7"},"u.x":{"value":"y"}}`)
	want := regexp.MustCompile(`^\{"events":\[\{"data":\{"custom_attributes":\{"looker_u.x":"y"\},"event_name":"looker_custom_event",` +
		`"custom_event_type":"other"\},"event_type":"custom_event"\}\],"user_attributes":\{\},"user_identities":\{"customerid":"7"\},` +
		`"device_info":\{\},"schema_version":2,"environment":"production","source_request_id":"[0-9a-f-]{36}"\}$`)
	if !want.Match(rec) {
		t.Errorf("record %s", rec)
	}
}

func TestRowsWithoutIdentityRejected(t *testing.T) {
	h := newHarness(t, mparticlefake.Options{}, fastHTTP, 1)
	doc := map[string]any{
		"fields": map[string]any{"dimensions": []any{map[string]any{"name": "u.id", "tags": []string{"mp_customer_id"}},
			map[string]any{"name": "u.mail", "tags": []string{"mp_email"}}}},
		"data": []any{
			map[string]any{"u.id": map[string]any{"value": "1"}, "u.mail": map[string]any{"value": nil}},
			map[string]any{"u.id": map[string]any{"value": nil}, "u.mail": map[string]any{"value": ""}},
			map[string]any{"u.id": map[string]any{"value": nil}, "u.mail": map[string]any{"value": "x@y.z"}},
		},
	}
	resp, err := h.exec(t, request(t, doc, UserData))
	if err != nil {
		t.Fatal(err)
	}
	snap := resp.Report.Snapshot()
	if resp.Success || snap.Delivered != 2 || snap.Rejected != 1 || snap.Rejections[0].Row != 2 || snap.Rejections[0].Reason != errNoIdentity.Error() {
		t.Fatalf("%+v", snap)
	}
	if len(h.fake.Batches()) != 2 {
		t.Errorf("%d batches", len(h.fake.Batches()))
	}
}

func TestPods(t *testing.T) {
	for pod, want := range map[string]string{"": "https://s2s.mparticle.com", "us1": "https://s2s.mparticle.com",
		"US2": "https://s2s.us2.mparticle.com", " eu1 ": "https://s2s.eu1.mparticle.com", "EU": "https://s2s.eu1.mparticle.com",
		"AU1": "https://s2s.au1.mparticle.com"} {
		if got, ok := BaseURL(pod); !ok || got != want {
			t.Errorf("pod %q: %q %v", pod, got, ok)
		}
	}
	if _, ok := BaseURL("mars"); ok {
		t.Error("unknown pod accepted")
	}
	h := newHarness(t, mparticlefake.Options{}, fastHTTP, 1)
	req := request(t, fieldMappingData, UserData)
	req.Params[ParamPod] = "mars"
	if _, err := h.exec(t, req); err == nil || !strings.Contains(err.Error(), "Unknown mParticle pod") {
		t.Errorf("err %v", err)
	}
}

func TestWrongCredentialsStop(t *testing.T) {
	h := newHarness(t, mparticlefake.Options{APIKey: testKey, APISecret: "other"}, fastHTTP, 1)
	req := request(t, fieldMappingData, UserData)
	req.Env = h.env
	resp, err := h.act.Execute(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || !strings.Contains(resp.Message, "mParticle refused the API key and secret") ||
		strings.Contains(resp.Message, testSecret) || strings.Contains(resp.Message, testKey) {
		t.Fatalf("%q", resp.Message)
	}
}

func TestDefinitionAndForm(t *testing.T) {
	a, err := New(&sdk.Env{Getenv: func(string) string { return "" }}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := a.Definition()
	if d.Name != "mparticle" || d.Label != "mParticle" || d.Description != "Send user or event data from Looker to mParticle." ||
		!d.Streaming || d.MinimumVersion() != "5.5.0" || len(d.RequiredFields) != 0 {
		t.Errorf("%+v", d)
	}
	if f := d.FormatsForVersion("6.2.0"); !reflect.DeepEqual(f, []sdk.Format{sdk.FormatJSONDetailLiteStream}) {
		t.Errorf("6.2.0: %v", f)
	}
	if f := d.FormatsForVersion("6.0.0"); !reflect.DeepEqual(f, []sdk.Format{sdk.FormatJSONDetail}) {
		t.Errorf("6.0.0: %v", f)
	}
	if p := d.Params; p[0].Name != "apiKey" || p[0].Label != "API Key" || !p[0].Required || !p[0].Sensitive ||
		p[1].Name != "apiSecret" || !p[1].Sensitive || p[2].Name != ParamPod || p[2].Required {
		t.Errorf("params %+v", p)
	}
	f, _ := a.Form(context.Background(), &sdk.Request{})
	if len(f.Fields) != 2 || f.Fields[0].Name != "data_type" || f.Fields[1].Name != "environment" ||
		f.Fields[0].Options[0].Name != UserData || f.Fields[1].Options[1].Label != "Test/Development" {
		t.Errorf("form %+v", f)
	}
	if _, err := New(&sdk.Env{Getenv: func(k string) string {
		if k == EnvRateLimit {
			return "-3"
		}
		return ""
	}}, Options{}); err == nil {
		t.Error("negative rate accepted")
	}
}

func mustFields(t *testing.T, s string) *rows.Fields {
	t.Helper()
	var f rows.Fields
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// mapOne maps one json_detail row with m.
func mapOne(t *testing.T, m *mapper, row string) []byte {
	t.Helper()
	rd := rows.NewReader(strings.NewReader(`{"data":[`+row+`]}`), "json_detail")
	if !rd.Next() {
		t.Fatalf("no row: %v", rd.Err())
	}
	rec, err := m.mapRow(nil, rd.Row())
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
