package segment

import (
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	segmentfake "github.com/actionhub/actionhub/internal/fakes/segment"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

const testKey = "wk_test_0123456789"

var (
	fixedNow = time.Date(2026, 11, 24, 10, 30, 0, 123e6, time.UTC)
	nowJSON  = "2026-11-24T10:30:00.123Z"
	uuidRe   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// fastHTTP keeps retries quick in tests.
var fastHTTP = vendorhttp.Config{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	MaxRetryAfter: 3 * time.Second, Rate: -1}

type harness struct {
	fake *segmentfake.Server
	env  *sdk.Env
	act  sdk.Action
	vars map[string]string
}

func newHarness(t *testing.T, call Call, fopts segmentfake.Options) *harness {
	t.Helper()
	if fopts.WriteKey == "" {
		fopts.WriteKey = testKey
	}
	h := &harness{fake: segmentfake.New(t, fopts)}
	h.vars = map[string]string{"ACTION_HUB_VENDOR_URL_SEGMENT": h.fake.URL}
	h.env = &sdk.Env{Getenv: func(k string) string { return h.vars[k] }}
	a, err := New(h.env, call, Options{HTTP: fastHTTP, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	h.act = a
	return h
}

func queryRequest(t *testing.T, doc any) *sdk.Request {
	t.Helper()
	data, ok := doc.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
	}
	return &sdk.Request{Type: sdk.TypeQuery, Params: map[string]string{ParamWriteKey: testKey},
		FormParams: map[string]string{}, Attachment: &sdk.Attachment{MimeType: "application/json", Data: data}}
}

func (h *harness) exec(t *testing.T, req *sdk.Request) *sdk.Response {
	t.Helper()
	req.Env = h.env
	resp, err := h.act.Execute(context.Background(), req)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if p := h.fake.Problems(); len(p) > 0 {
		t.Fatalf("the fake refused requests: %v", p)
	}
	return resp
}

// normalized returns the fake's messages with messageId checked and removed, and a
// generated anonymousId replaced by "<generated>".
func (h *harness) normalized(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range h.fake.Messages() {
		id, _ := m["messageId"].(string)
		if !uuidRe.MatchString(id) {
			t.Errorf("messageId %q is not a UUID v4", id)
		}
		delete(m, "messageId")
		if a, ok := m["anonymousId"].(string); ok && uuidRe.MatchString(a) {
			m["anonymousId"] = "<generated>"
		}
		out = append(out, m)
	}
	return out
}

func expectMessage(t *testing.T, h *harness, call Call, want map[string]any) {
	t.Helper()
	base := map[string]any{
		"type":      string(call),
		"context":   map[string]any{"app": map[string]any{"name": "looker/actions", "version": "dev"}},
		"timestamp": nowJSON,
	}
	if call == Track {
		base["properties"] = map[string]any{}
	} else {
		base["traits"] = map[string]any{}
	}
	for k, v := range want {
		base[k] = v
	}
	var wantJSON map[string]any
	b, _ := json.Marshal(base)
	json.Unmarshal(b, &wantJSON)
	got := h.normalized(t)
	if len(got) != 1 {
		t.Fatalf("got %d messages, want 1: %v", len(got), got)
	}
	if !reflect.DeepEqual(got[0], wantJSON) {
		gj, _ := json.Marshal(got[0])
		t.Errorf("message:\n got %s\nwant %s", gj, b)
	}
}

func doc(dims []map[string]any, row map[string]any) map[string]any {
	return map[string]any{"fields": map[string]any{"dimensions": dims}, "data": []any{row}}
}

func dim(name string, tags ...string) map[string]any {
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{"name": name, "tags": tags}
}

func val(v any) map[string]any { return map[string]any{"value": v} }

func TestIdentify(t *testing.T) {
	cases := []struct {
		name string
		doc  any
		want map[string]any
	}{
		{"works with user_id",
			doc([]map[string]any{dim("coolfield", "user_id")}, map[string]any{"coolfield": val("funvalue")}),
			map[string]any{"userId": "funvalue", "anonymousId": nil}},
		{"works with email",
			doc([]map[string]any{dim("coolfield", "email")}, map[string]any{"coolfield": val("funvalue")}),
			map[string]any{"anonymousId": "<generated>", "userId": nil, "traits": map[string]any{"email": "funvalue"}}},
		{"works with pivoted values",
			map[string]any{
				"fields": map[string]any{"dimensions": []any{dim("coolfield", "user_id")}, "measures": []any{map[string]any{"name": "users.count"}}},
				"data": []any{map[string]any{"coolfield": val("funvalue"),
					"users.count": map[string]any{"f": val(1), "z": val(3)}}},
			},
			map[string]any{"userId": "funvalue", "anonymousId": nil,
				"traits": map[string]any{"users.count": []any{map[string]any{"f": 1}, map[string]any{"z": 3}}}}},
		{"works with email and user id",
			doc([]map[string]any{dim("coolemail", "email"), dim("coolid", "user_id")},
				map[string]any{"coolemail": val("email@email.email"), "coolid": val("id")}),
			map[string]any{"userId": "id", "traits": map[string]any{"email": "email@email.email"}, "anonymousId": nil}},
		{"works with email, user id and anonymous id",
			doc([]map[string]any{dim("coolemail", "email"), dim("coolid", "user_id"), dim("coolanonymousid", "segment_anonymous_id")},
				map[string]any{"coolemail": val("email@email.email"), "coolid": val("id"), "coolanonymousid": val("anon_id")}),
			map[string]any{"userId": "id", "traits": map[string]any{"email": "email@email.email"}, "anonymousId": "anon_id"}},
		{"works with email, user id and anonymous id and trait",
			doc([]map[string]any{dim("coolemail", "email"), dim("coolid", "user_id"), dim("coolanonymousid", "segment_anonymous_id"), dim("cooltrait")},
				map[string]any{"coolemail": val("emailemail"), "coolid": val("id"), "coolanonymousid": val("anon_id"), "cooltrait": val("funtrait")}),
			map[string]any{"userId": "id", "traits": map[string]any{"email": "emailemail", "cooltrait": "funtrait"}, "anonymousId": "anon_id"}},
		{"works with user id and anonymous id",
			doc([]map[string]any{dim("coolid", "user_id"), dim("coolanonymousid", "segment_anonymous_id")},
				map[string]any{"coolid": val("id"), "coolanonymousid": val("anon_id")}),
			map[string]any{"userId": "id", "anonymousId": "anon_id"}},
		// Fixed: Node sent the anonymous id as userId too.
		{"works with anonymous id (never as userId)",
			doc([]map[string]any{dim("coolanonymousid", "segment_anonymous_id")}, map[string]any{"coolanonymousid": val("anon_id")}),
			map[string]any{"userId": nil, "anonymousId": "anon_id"}},
		{"works with null user_ids",
			doc([]map[string]any{dim("coolfield", "user_id")}, map[string]any{"coolfield": val(nil)}),
			map[string]any{"userId": nil, "anonymousId": "<generated>"}},
		{"NULL trait values are null traits",
			doc([]map[string]any{dim("coolid", "user_id"), dim("nulltrait"), dim("zero"), dim("no"), dim("empty")},
				map[string]any{"coolid": val("id"), "nulltrait": val(nil), "zero": val(0), "no": val(false), "empty": val("")}),
			map[string]any{"userId": "id", "anonymousId": nil,
				"traits": map[string]any{"nulltrait": nil, "zero": 0, "no": false, "empty": ""}}},
		{"NULL pivot values are null",
			map[string]any{
				"fields": map[string]any{"dimensions": []any{dim("coolid", "user_id")}, "measures": []any{map[string]any{"name": "users.count"}}},
				"data":   []any{map[string]any{"coolid": val("id"), "users.count": map[string]any{"f": val(nil), "z": val(3)}}},
			},
			map[string]any{"userId": "id", "anonymousId": nil,
				"traits": map[string]any{"users.count": []any{map[string]any{"f": nil}, map[string]any{"z": 3}}}}},
		{"numeric user id is sent as a string",
			doc([]map[string]any{dim("coolid", "user_id")}, map[string]any{"coolid": val(12345)}),
			map[string]any{"userId": "12345", "anonymousId": nil}},
		{"works with ran_at",
			[]byte(`{"fields":{"dimensions":[{"name":"coolfield","tags":["email"]}]},"ran_at":"2017-07-28T02:25:19+00:00",` +
				`"data":[{"coolfield":{"value":"funvalue"}}]}`),
			map[string]any{"anonymousId": "<generated>", "userId": nil, "timestamp": "2017-07-28T02:25:19.000Z",
				"traits": map[string]any{"email": "funvalue"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Identify, segmentfake.Options{})
			resp := h.exec(t, queryRequest(t, c.doc))
			if !resp.Success {
				t.Fatalf("not a success: %s", resp.Message)
			}
			if resp.Message != "Delivered 1 of 1 rows." {
				t.Errorf("message %q", resp.Message)
			}
			expectMessage(t, h, Identify, c.want)
		})
	}
}

func TestIdentifyHiddenFields(t *testing.T) {
	h := newHarness(t, Identify, segmentfake.Options{})
	req := queryRequest(t, doc([]map[string]any{dim("coolfield", "email"), {"name": "hiddenfield"}, {"name": "nonhiddenfield"}},
		map[string]any{"coolfield": val("funvalue"), "hiddenfield": val("hiddenvalue"), "nonhiddenfield": val("nonhiddenvalue")}))
	req.ScheduledPlan = &sdk.ScheduledPlan{Query: &sdk.Query{VisConfig: map[string]any{"hidden_fields": []any{"hiddenfield"}}}}
	if resp := h.exec(t, req); !resp.Success {
		t.Fatal(resp.Message)
	}
	expectMessage(t, h, Identify, map[string]any{"anonymousId": "<generated>", "userId": nil,
		"traits": map[string]any{"email": "funvalue", "nonhiddenfield": "nonhiddenvalue"}})
}

func TestIdentifyTimestampFromRanAtAfterData(t *testing.T) {
	// ran_at may follow the rows in the stream: rows read before it get the execute time.
	h := newHarness(t, Identify, segmentfake.Options{})
	raw := []byte(`{"fields":{"dimensions":[{"name":"u","tags":["user_id"]}]},"data":[{"u":{"value":"a"}}],"ran_at":"2017-07-28T02:25:19+00:00"}`)
	if resp := h.exec(t, queryRequest(t, raw)); !resp.Success {
		t.Fatal(resp.Message)
	}
	if got := h.fake.Messages()[0]["timestamp"]; got != nowJSON {
		t.Errorf("timestamp %v, want the execute time %s", got, nowJSON)
	}
}

func TestIdentifyErrors(t *testing.T) {
	t.Run("no attachment", func(t *testing.T) {
		h := newHarness(t, Identify, segmentfake.Options{})
		req := &sdk.Request{Type: sdk.TypeQuery, Params: map[string]string{ParamWriteKey: testKey}, Env: h.env}
		_, err := h.act.Execute(context.Background(), req)
		e, ok := sdk.AsError(err)
		if !ok || e.Text != "A streaming action was sent incompatible data. The action must have a download url or an attachment." {
			t.Fatalf("err = %v", err)
		}
	})
	for name, d := range map[string]any{
		"no fields":       map[string]any{"data": []any{map[string]any{"coolfield": val("funvalue")}}},
		"no tagged field": doc([]map[string]any{dim("coolfield")}, map[string]any{"coolfield": val("funvalue")}),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Identify, segmentfake.Options{})
			resp := h.exec(t, queryRequest(t, d))
			if resp.Success || resp.Message != "Query requires a field tagged email or user_id or segment_anonymous_id." {
				t.Fatalf("got %+v", resp)
			}
			if h.fake.Requests() != 0 {
				t.Error("something was sent")
			}
		})
	}
	t.Run("no write key", func(t *testing.T) {
		h := newHarness(t, Identify, segmentfake.Options{})
		req := queryRequest(t, doc([]map[string]any{dim("coolfield", "user_id")}, nil))
		req.Params = map[string]string{}
		req.Env = h.env
		_, err := h.act.Execute(context.Background(), req)
		if e, ok := sdk.AsError(err); !ok || e.Text != `Required setting "Segment Write Key" not specified in action settings.` {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong write key stops with a fatal error", func(t *testing.T) {
		h := newHarness(t, Identify, segmentfake.Options{WriteKey: "another"})
		resp, err := h.act.Execute(context.Background(), withEnv(queryRequest(t, doc([]map[string]any{dim("u", "user_id")},
			map[string]any{"u": val("a")})), h.env))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Success || !strings.Contains(resp.Message, "Segment refused the write key") || strings.Contains(resp.Message, testKey) {
			t.Fatalf("got %q", resp.Message)
		}
	})
	t.Run("unknown region", func(t *testing.T) {
		h := newHarness(t, Identify, segmentfake.Options{})
		req := queryRequest(t, doc([]map[string]any{dim("u", "user_id")}, map[string]any{"u": val("a")}))
		req.Params[ParamRegion] = "mars"
		_, err := h.act.Execute(context.Background(), withEnv(req, h.env))
		if e, ok := sdk.AsError(err); !ok || !strings.Contains(e.Text, "Unknown Segment region") {
			t.Fatalf("err = %v", err)
		}
	})
}

func withEnv(r *sdk.Request, env *sdk.Env) *sdk.Request { r.Env = env; return r }

func TestRegionEndpoints(t *testing.T) {
	a := &Action{env: &sdk.Env{Getenv: func(string) string { return "" }}}
	for region, want := range map[string]string{
		"": EndpointUS + BatchPath, "US": EndpointUS + BatchPath, " eu ": EndpointEU + BatchPath, "EU1": EndpointEU + BatchPath,
	} {
		got, err := a.endpoint(region)
		if err != nil || got != want {
			t.Errorf("region %q: %q, %v; want %q", region, got, err, want)
		}
	}
	a.env = &sdk.Env{Getenv: func(k string) string {
		if k == "ACTION_HUB_VENDOR_URL_SEGMENT" {
			return "http://127.0.0.1:9/"
		}
		return ""
	}}
	if got, _ := a.endpoint("EU"); got != "http://127.0.0.1:9/v1/batch" {
		t.Errorf("override: %q", got)
	}
}

func TestGroup(t *testing.T) {
	cases := []struct {
		name string
		doc  map[string]any
		want map[string]any
	}{
		{"works with segment_group_id and user_id",
			doc([]map[string]any{dim("coolfield", "segment_group_id"), dim("coolid", "user_id")},
				map[string]any{"coolfield": val("funvalue"), "coolid": val("id")}),
			map[string]any{"groupId": "funvalue", "userId": "id", "anonymousId": nil}},
		{"works with segment_group_id, user id and email",
			doc([]map[string]any{dim("coolemail", "email"), dim("coolfield", "segment_group_id"), dim("coolid", "user_id"),
				dim("coolanonymousid", "segment_anonymous_id"), dim("cooltrait")},
				map[string]any{"coolemail": val("emailemail"), "coolfield": val("funvalue"), "coolid": val("id"),
					"coolanonymousid": val("anon_id"), "cooltrait": val("funtrait")}),
			map[string]any{"groupId": "funvalue", "userId": "id", "anonymousId": "anon_id",
				"traits": map[string]any{"email": "emailemail", "cooltrait": "funtrait"}}},
		{"works with segment_group_id, user id and anonymous id",
			doc([]map[string]any{dim("coolfield", "segment_group_id"), dim("coolid", "user_id"), dim("coolanonymousid", "segment_anonymous_id")},
				map[string]any{"coolfield": val("funvalue"), "coolid": val("id"), "coolanonymousid": val("anon_id")}),
			map[string]any{"groupId": "funvalue", "userId": "id", "anonymousId": "anon_id"}},
		{"works with 0 dimension value",
			doc([]map[string]any{dim("coolfield", "segment_group_id"), dim("coolid", "user_id"), {"name": "zerofield"}},
				map[string]any{"coolfield": val("funvalue"), "coolid": val("id"), "zerofield": val(0)}),
			map[string]any{"groupId": "funvalue", "anonymousId": nil, "userId": "id", "traits": map[string]any{"zerofield": 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Group, segmentfake.Options{})
			if resp := h.exec(t, queryRequest(t, c.doc)); !resp.Success {
				t.Fatalf("not a success: %s", resp.Message)
			}
			expectMessage(t, h, Group, c.want)
		})
	}
}

// Node sent group calls without any user id, which Segment refuses, one identical error per
// row. They are rejected per row here, with one counted reason.
func TestGroupRowsWithoutUserAreRejected(t *testing.T) {
	h := newHarness(t, Group, segmentfake.Options{})
	var data []any
	for i := 0; i < 5; i++ {
		data = append(data, map[string]any{"g": val("acme"), "u": val(nil)})
	}
	data = append(data, map[string]any{"g": val("acme"), "u": val("bob")}, map[string]any{"g": val(nil), "u": val("eve")})
	resp := h.exec(t, queryRequest(t, map[string]any{
		"fields": map[string]any{"dimensions": []any{dim("g", "segment_group_id"), dim("u", "user_id")}}, "data": data}))
	if resp.Success {
		t.Fatal("success with rejected rows")
	}
	snap := resp.Report.Snapshot()
	if snap.Read != 7 || snap.Delivered != 1 || snap.Rejected != 6 {
		t.Fatalf("report %+v", snap)
	}
	want := "Delivered 1 of 7 rows; 6 rejected: row 1: " + errNoUser.Error() + " (x5); row 7: " + errNoGroupID.Error() + "."
	if resp.Message != want {
		t.Errorf("message\n got %q\nwant %q", resp.Message, want)
	}
	if msgs := h.fake.Messages(); len(msgs) != 1 || msgs[0]["userId"] != "bob" {
		t.Errorf("sent %v", msgs)
	}
}

func TestGroupNeedsGroupField(t *testing.T) {
	h := newHarness(t, Group, segmentfake.Options{})
	resp := h.exec(t, queryRequest(t, doc([]map[string]any{dim("u", "user_id")}, map[string]any{"u": val("a")})))
	if resp.Success || resp.Message != "Query requires a field tagged segment_group_id." {
		t.Fatalf("%+v", resp)
	}
}

func TestTrack(t *testing.T) {
	h := newHarness(t, Track, segmentfake.Options{})
	req := queryRequest(t, doc([]map[string]any{dim("coolfield", "user_id")}, map[string]any{"coolfield": val("funvalue")}))
	req.FormParams["event"] = "funevent"
	if resp := h.exec(t, req); !resp.Success {
		t.Fatal(resp.Message)
	}
	expectMessage(t, h, Track, map[string]any{"userId": "funvalue", "anonymousId": nil, "event": "funevent"})

	t.Run("without event", func(t *testing.T) {
		h := newHarness(t, Track, segmentfake.Options{})
		resp := h.exec(t, queryRequest(t, doc([]map[string]any{dim("coolfield", "user_id")}, map[string]any{"coolfield": val("x")})))
		if resp.Success || !strings.Contains(resp.Message, `"Event"`) || h.fake.Requests() != 0 {
			t.Fatalf("%+v", resp)
		}
	})
}

func TestForms(t *testing.T) {
	env := &sdk.Env{Getenv: func(string) string { return "" }}
	for _, c := range []Call{Identify, Group, Track} {
		a, err := New(env, c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fa, hasForm := a.(sdk.FormAction)
		if hasForm != (c == Track) {
			t.Errorf("%s: has form = %v", c, hasForm)
		}
		if hasForm {
			f, err := fa.Form(context.Background(), &sdk.Request{})
			if err != nil || len(f.Fields) != 1 || f.Fields[0].Name != "event" || !f.Fields[0].Required || f.Fields[0].Type != sdk.FieldString {
				t.Errorf("form %+v %v", f, err)
			}
		}
	}
}

func TestDefinitions(t *testing.T) {
	env := &sdk.Env{Getenv: func(string) string { return "" }}
	want := map[Call]struct{ name, label, desc, min string }{
		Identify: {"segment_event", "Segment Identify", "Add traits via identify to your Segment users.", "4.20.0"},
		Group:    {"segment_group", "Segment Group", "Add traits and / or users to your Segment groups.", "5.5.0"},
		Track:    {"segment_track", "Segment Track", "Add traits via track to your Segment users.", "5.5.0"},
	}
	for c, w := range want {
		a, _ := New(env, c, Options{})
		d := a.Definition()
		if d.Name != w.name || d.Label != w.label || d.Description != w.desc || d.MinimumVersion() != w.min {
			t.Errorf("%s: %+v", c, d)
		}
		if !d.Streaming || !d.SupportsType(sdk.TypeQuery) || len(d.SupportedActionTypes) != 1 {
			t.Errorf("%s: types/streaming %+v", c, d)
		}
		if f := d.FormatsForVersion("6.0.0"); !reflect.DeepEqual(f, []sdk.Format{sdk.FormatJSONDetail}) {
			t.Errorf("%s 6.0.0: %v", c, f)
		}
		if f := d.FormatsForVersion("6.2.0"); !reflect.DeepEqual(f, []sdk.Format{sdk.FormatJSONDetailLiteStream}) {
			t.Errorf("%s 6.2.0: %v", c, f)
		}
		if d.Params[0].Name != ParamWriteKey || !d.Params[0].Required || !d.Params[0].Sensitive || d.Params[0].Label != "Segment Write Key" {
			t.Errorf("%s params %+v", c, d.Params)
		}
		if d.Params[1].Name != ParamRegion || d.Params[1].Required {
			t.Errorf("%s region param %+v", c, d.Params[1])
		}
		rf := d.RequiredFields[0]
		if !reflect.DeepEqual(rf.AnyTag, []string{"email", "user_id", "segment_anonymous_id"}) || (rf.Tag == "segment_group_id") != (c == Group) {
			t.Errorf("%s required fields %+v", c, d.RequiredFields)
		}
		if !strings.HasPrefix(d.Icon, "data:image/svg+xml;base64,") {
			t.Errorf("%s icon", c)
		}
	}
}

func TestAppVersion(t *testing.T) {
	h := newHarness(t, Identify, segmentfake.Options{})
	h.vars["APP_VERSION"] = "1.2.3"
	if resp := h.exec(t, queryRequest(t, doc([]map[string]any{dim("u", "user_id")}, map[string]any{"u": val("a")}))); !resp.Success {
		t.Fatal(resp.Message)
	}
	ctx := h.fake.Messages()[0]["context"].(map[string]any)["app"].(map[string]any)
	if ctx["version"] != "1.2.3" || ctx["name"] != "looker/actions" {
		t.Errorf("context.app %v", ctx)
	}
}

func TestOversizedMessageRejected(t *testing.T) {
	h := newHarness(t, Identify, segmentfake.Options{})
	big := strings.Repeat("x", MaxMessageBytes)
	resp := h.exec(t, queryRequest(t, map[string]any{
		"fields": map[string]any{"dimensions": []any{dim("u", "user_id"), dim("blob")}},
		"data":   []any{map[string]any{"u": val("a"), "blob": val(big)}, map[string]any{"u": val("b"), "blob": val("small")}},
	}))
	snap := resp.Report.Snapshot()
	if resp.Success || snap.Delivered != 1 || snap.Rejected != 1 || snap.Rejections[0].Row != 1 ||
		!strings.Contains(snap.Rejections[0].Reason, "over Segment's limit of 32000 bytes per message") {
		t.Fatalf("%+v", snap)
	}
}
