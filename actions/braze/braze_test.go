package braze

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	brazefake "github.com/actionhub/actionhub/internal/fakes/braze"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

const testKey = "braze-rest-key-0123456789"

var fastHTTP = vendorhttp.Config{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	MaxRetryAfter: 3 * time.Second, Rate: -1}

type harness struct {
	fake *brazefake.Server
	env  *sdk.Env
	vars map[string]string
	act  *Action
}

func newHarness(t *testing.T, fopts brazefake.Options, vars map[string]string) *harness {
	t.Helper()
	if fopts.APIKey == "" {
		fopts.APIKey = testKey
	}
	h := &harness{fake: brazefake.New(t, fopts), vars: map[string]string{}}
	for k, v := range vars {
		h.vars[k] = v
	}
	h.vars["ACTION_HUB_VENDOR_URL_BRAZE"] = h.fake.URL
	h.env = &sdk.Env{Getenv: func(k string) string { return h.vars[k] }}
	a, err := New(h.env, Options{HTTP: fastHTTP})
	if err != nil {
		t.Fatal(err)
	}
	h.act = a
	return h
}

func request(t *testing.T, doc any) *sdk.Request {
	t.Helper()
	data, ok := doc.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
	}
	return &sdk.Request{Type: sdk.TypeQuery,
		Params:     map[string]string{ParamAPIKey: testKey, ParamEndpoint: "https://rest.iad-01.braze.com"},
		FormParams: map[string]string{FormKey: "external_id", FormSegment: "looker_export"},
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

var sampleBrazeData = map[string]any{
	"fields": map[string]any{
		"measures":   []any{},
		"dimensions": []any{map[string]any{"name": "external_id", "tags": []string{"braze_id"}}},
	},
	"data": []any{map[string]any{"external_id": map[string]any{"value": "abc123"}},
		map[string]any{"external_id": map[string]any{"value": "xyz987"}}},
}

// The Node action's tests, ported.
func TestNodeCases(t *testing.T) {
	h := newHarness(t, brazefake.Options{}, nil)
	errCases := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"no configuration", map[string]string{}, "Missing config settings."},
		{"no endpoint", map[string]string{ParamAPIKey: "AAACCCKKKATTT"}, "Missing Endpoint."},
		{"not a valid endpoint", map[string]string{ParamAPIKey: "AAACCCKKKATTT", ParamEndpoint: "rest.notbraze.com"}, "Missing Protocol for endpoint."},
		{"not a Braze endpoint", map[string]string{ParamAPIKey: "AAACCCKKKATTT", ParamEndpoint: "https://rest.notbraze.com"}, "Bad Endpoint."},
		{"missing API key", map[string]string{ParamAPIKey: "", ParamEndpoint: "https://rest.braze.com"}, "Missing API Key."},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			req := request(t, sampleBrazeData)
			req.Params = c.params
			_, err := h.exec(t, req)
			if e, ok := sdk.AsError(err); !ok || e.Text != c.want {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	t.Run("missing primary key", func(t *testing.T) {
		req := request(t, sampleBrazeData)
		req.FormParams = map[string]string{}
		_, err := h.exec(t, req)
		if e, ok := sdk.AsError(err); !ok || e.Text != "Missing primary Braze key." {
			t.Fatalf("err = %v", err)
		}
	})
	for _, ep := range []string{"https://rest.braze.com", "https://rest.braze.eu"} {
		t.Run("success with sample data "+ep, func(t *testing.T) {
			h := newHarness(t, brazefake.Options{}, nil)
			req := request(t, sampleBrazeData)
			req.Params[ParamEndpoint] = ep
			resp, err := h.exec(t, req)
			if err != nil || !resp.Success || resp.Message != "Delivered 2 of 2 rows." {
				t.Fatalf("%+v %v", resp, err)
			}
			if got := h.fake.UserIDs(); !reflect.DeepEqual(got, []string{"abc123", "xyz987"}) {
				t.Fatalf("users %v", got)
			}
			u := h.fake.Users()["abc123"]
			if u.IDField != "external_id" || !u.UpdateExistingOnly || !reflect.DeepEqual(u.Added["looker_export"], []string{"looker_export"}) {
				t.Errorf("user %+v", u)
			}
		})
	}
	t.Run("has form", func(t *testing.T) {
		f, err := h.act.Form(context.Background(), &sdk.Request{})
		if err != nil || len(f.Fields) != 2 || f.Fields[0].Name != FormKey || f.Fields[0].Default != "external_id" ||
			f.Fields[0].Type != sdk.FieldSelect || len(f.Fields[0].Options) != 2 || f.Fields[1].Name != FormSegment ||
			f.Fields[1].Default != DefaultExportLabel || !f.Fields[1].Required {
			t.Fatalf("%+v %v", f, err)
		}
	})
}

func TestEndpoint(t *testing.T) {
	good := map[string]string{
		"https://rest.iad-01.braze.com":      "https://rest.iad-01.braze.com",
		" https://rest.iad-08.braze.com/ \n": "https://rest.iad-08.braze.com",
		"HTTPS://REST.FRA-01.BRAZE.EU":       "https://rest.fra-01.braze.eu",
		"https://rest.fra-02.braze.eu/":      "https://rest.fra-02.braze.eu",
		"http://rest.us-10.braze.com":        "https://rest.us-10.braze.com",
		"https://rest.au-01.braze.com":       "https://rest.au-01.braze.com",
		"https://rest.braze.com":             "https://rest.braze.com",
	}
	for in, want := range good {
		got, err := Endpoint(in)
		if err != nil || got != want {
			t.Errorf("Endpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                                    errMissingEndpoint,
		"   ":                                 errMissingEndpoint,
		"rest.iad-01.braze.com":               errMissingProtocol,
		"ftp://rest.iad-01.braze.com":         errMissingProtocol,
		"https://rest.notbraze.com":           errBadEndpoint,
		"https://braze.com":                   errBadEndpoint,
		"https://rest.braze.com.evil.example": errBadEndpoint,
		"https://evil.example/rest.iad-01.braze.com": errBadEndpoint,
		"https://user:pw@rest.iad-01.braze.com":      errBadEndpoint,
		"https://rest.iad-01.braze.com:8443":         errBadEndpoint,
		"https://rest.iad-01.braze.com/users/track":  errBadEndpoint,
		"https://rest.iad-01.braze.com?x=1":          errBadEndpoint,
		"https://rest.iad-01.braze.org":              errBadEndpoint,
		"https://rest_iad.braze.com":                 errBadEndpoint,
	}
	for in, want := range bad {
		_, err := Endpoint(in)
		if e, ok := sdk.AsError(err); !ok || e.Text != want {
			t.Errorf("Endpoint(%q): %v, want %q", in, err, want)
		}
	}
}

func TestAttrTag(t *testing.T) {
	for tag, want := range map[string]string{"braze[field_1]": "field_1", "BRAZE[Mixed]": "Mixed", "x-braze[a]b]": "a]b"} {
		if got, ok := attrTag(tag); !ok || got != want {
			t.Errorf("attrTag(%q) = %q, %v", tag, got, ok)
		}
	}
	for _, tag := range []string{"braze_id", "braze[]", "braze[open", "email"} {
		if got, ok := attrTag(tag); ok {
			t.Errorf("attrTag(%q) = %q", tag, got)
		}
	}
}

// The attributes object is the Node action's, member for member.
func TestPayload(t *testing.T) {
	h := newHarness(t, brazefake.Options{}, nil)
	doc := []byte(`{"fields":{"dimensions":[` +
		`{"name":"users.id","tags":["braze_id"]},` +
		`{"name":"users.city","tags":["braze[city]"]},` +
		`{"name":"users.plan","tags":["other","BRAZE[plan_name]"]},` +
		`{"name":"users.untagged","tags":[]}],` +
		`"measures":[{"name":"orders.count","tags":["braze[orders]"]}]},` +
		`"data":[{"users.id":{"value":"u1"},"users.city":{"value":"Paris"},"users.plan":{"value":null},` +
		`"users.untagged":{"value":"x"},"orders.count":{"value":3}},` +
		`{"users.id":{"value":42},"users.city":{"value":"Lyon"},"users.plan":{"value":"pro"},` +
		`"users.untagged":{"value":"y"},"orders.count":{"p1":{"value":1}}}]}`)
	req := request(t, doc)
	req.FormParams[FormSegment] = "Q3 churn"
	resp, err := h.exec(t, req)
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	users := h.fake.Users()
	u1, u42 := users["u1"], users["42"]
	if !reflect.DeepEqual(u1.Attributes, map[string]any{"city": "Paris", "plan_name": nil, "orders": float64(3)}) {
		t.Errorf("u1 %v", u1.Attributes)
	}
	// the pivoted measure has no single value: left out, as JSON.stringify left undefined out
	if !reflect.DeepEqual(u42.Attributes, map[string]any{"city": "Lyon", "plan_name": "pro"}) {
		t.Errorf("u42 %v", u42.Attributes)
	}
	if !reflect.DeepEqual(u1.Added[LookerAttribute], []string{"Q3 churn"}) {
		t.Errorf("looker_export %v", u1.Added)
	}
}

// The exact bytes of one object, in the Node action's member order.
func TestObjectBytes(t *testing.T) {
	f := mustFields(t, `{"dimensions":[{"name":"e","tags":["braze_id"]},{"name":"a","tags":["braze[looker_export]"]},{"name":"b","tags":["braze[b]"]}]}`)
	m, ok := newMapper(f, "braze_id", "LOOKER_EXPORT", 0)
	if !ok {
		t.Fatal("no id field")
	}
	var keys []string
	for _, s := range m.slots {
		keys = append(keys, string(s.key))
	}
	// braze[looker_export] takes the position of its first assignment; the export label
	// overwrites its value, as entry.looker_export = ... did.
	want := []string{`"_update_existing_only":`, `"braze_id":`, `"looker_export":`, `"b":`}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if string(m.slots[2].value) != `{"add":["LOOKER_EXPORT"]}` || m.slots[2].field != "" {
		t.Errorf("looker_export slot %+v", m.slots[2])
	}
}

func TestRowsWithoutIDRejected(t *testing.T) {
	h := newHarness(t, brazefake.Options{}, nil)
	doc := map[string]any{
		"fields": map[string]any{"dimensions": []any{map[string]any{"name": "id", "tags": []string{"braze_id"}}}},
		"data": []any{map[string]any{"id": map[string]any{"value": "a"}}, map[string]any{"id": map[string]any{"value": nil}},
			map[string]any{"id": map[string]any{"value": ""}}, map[string]any{}},
	}
	resp, err := h.exec(t, request(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	snap := resp.Report.Snapshot()
	if resp.Success || snap.Delivered != 1 || snap.Rejected != 3 || !strings.Contains(resp.Message, errNoID.Error()+" (x3)") {
		t.Fatalf("%q %+v", resp.Message, snap)
	}
}

func TestNoIDField(t *testing.T) {
	h := newHarness(t, brazefake.Options{}, nil)
	resp, err := h.exec(t, request(t, map[string]any{"fields": map[string]any{"dimensions": []any{map[string]any{"name": "x"}}}, "data": []any{}}))
	if err != nil || resp.Success || resp.Message != errNoIDField {
		t.Fatalf("%+v %v", resp, err)
	}
}

// Braze's per-object errors become per-row rejections with Braze's reason.
func TestPerObjectErrors(t *testing.T) {
	h := newHarness(t, brazefake.Options{RejectUser: func(id string) string {
		if strings.HasSuffix(id, "7") {
			return "Invalid value for custom attribute"
		}
		return ""
	}}, nil)
	var data []any
	for i := 0; i < 200; i++ {
		data = append(data, map[string]any{"id": map[string]any{"value": "user" + itoa(i)}})
	}
	resp, err := h.exec(t, request(t, map[string]any{
		"fields": map[string]any{"dimensions": []any{map[string]any{"name": "id", "tags": []string{"braze_id"}}}}, "data": data}))
	if err != nil {
		t.Fatal(err)
	}
	snap := resp.Report.Snapshot()
	if resp.Success || snap.Rejected != 20 || snap.Delivered != 180 {
		t.Fatalf("%+v", snap)
	}
	for _, r := range snap.Rejections {
		if r.Row%10 != 8 || r.Reason != "Braze refused the user: Invalid value for custom attribute" {
			t.Errorf("rejection %+v", r)
		}
	}
	if len(h.fake.Users()) != 180 || h.fake.MaxObjectsSeen() != MaxObjects {
		t.Errorf("users %d, largest request %d", len(h.fake.Users()), h.fake.MaxObjectsSeen())
	}
}

func TestMaxExport(t *testing.T) {
	h := newHarness(t, brazefake.Options{}, map[string]string{EnvMaxExport: "150"})
	if d := h.act.Definition().Description; !strings.HasSuffix(d, " MAX EXPORT: 150.") {
		t.Errorf("description %q", d)
	}
	var data []any
	for i := 0; i < 200; i++ {
		data = append(data, map[string]any{"id": map[string]any{"value": "u" + itoa(i)}})
	}
	resp, err := h.exec(t, request(t, map[string]any{
		"fields": map[string]any{"dimensions": []any{map[string]any{"name": "id", "tags": []string{"braze_id"}}}}, "data": data}))
	if err != nil {
		t.Fatal(err)
	}
	snap := resp.Report.Snapshot()
	want := "Delivered 150 of 200 rows; 50 rejected: row 151: not sent: over the export limit of 150 rows (BRAZE_MAX_EXPORT) (x50)."
	if resp.Success || snap.Delivered != 150 || resp.Message != want {
		t.Fatalf("%q %+v", resp.Message, snap)
	}
	if len(h.fake.Users()) != 150 {
		t.Errorf("%d users", len(h.fake.Users()))
	}
}

func TestWrongKeyStops(t *testing.T) {
	h := newHarness(t, brazefake.Options{APIKey: "the-right-one"}, nil)
	resp, err := h.act.Execute(context.Background(), withEnv(request(t, sampleBrazeData), h.env))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || !strings.Contains(resp.Message, "Braze refused the API key") || strings.Contains(resp.Message, testKey) {
		t.Fatalf("%q", resp.Message)
	}
}

func TestDefinition(t *testing.T) {
	a, _ := New(&sdk.Env{Getenv: func(string) string { return "" }}, Options{})
	d := a.Definition()
	if d.Name != "braze" || d.Label != "Braze" || d.Description != "Flags users from Looker to Braze via the REST API for use with segmentation. Ensure there's a 'braze_id' field tagged in the results." {
		t.Errorf("%+v", d)
	}
	if !reflect.DeepEqual(d.SupportedFormats, []sdk.Format{sdk.FormatJSONDetail}) || !d.Streaming ||
		!reflect.DeepEqual(d.RequiredFields, []sdk.RequiredField{{Tag: "braze_id"}}) || d.MinimumVersion() != "5.5.0" {
		t.Errorf("%+v", d)
	}
	want := []struct {
		name      string
		req, sens bool
	}{{ParamDescription, false, false}, {ParamAPIKey, true, true}, {ParamEndpoint, true, false}}
	for i, w := range want {
		if p := d.Params[i]; p.Name != w.name || p.Required != w.req || p.Sensitive != w.sens {
			t.Errorf("param %d %+v", i, p)
		}
	}
	if _, err := New(&sdk.Env{Getenv: func(k string) string {
		if k == EnvMaxExport {
			return "lots"
		}
		return ""
	}}, Options{}); err == nil {
		t.Error("invalid BRAZE_MAX_EXPORT accepted")
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

func withEnv(r *sdk.Request, env *sdk.Env) *sdk.Request { r.Env = env; return r }

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
