package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	hubspotfake "github.com/actionhub/actionhub/internal/fakes/hubspot"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

const token = "pat-na1-11111111-2222-3333-4444-555555555555"

// testAction returns the action aimed at fake, with instant waits (a fake clock) and a
// per-request timeout long enough for a busy machine; tests of timeouts shorten it.
func testAction(t *testing.T, fake *hubspotfake.Server, o Object) (*Action, *vendorhttptest.FakeClock) {
	t.Helper()
	env := &sdk.Env{Getenv: func(k string) string {
		if k == sdk.VendorURLVar+"HUBSPOT" {
			return fake.URL
		}
		return ""
	}}
	a, err := New(env, o)
	if err != nil {
		t.Fatal(err)
	}
	if a.BaseURL != fake.URL {
		t.Fatalf("BaseURL = %q, want the vendor URL override %q", a.BaseURL, fake.URL)
	}
	clock := vendorhttptest.NewFakeClock(time.Time{})
	a.Limits.Clock = clock
	a.Limits.Timeout = 5 * time.Second
	return a, clock
}

func pushRequest(data []byte, params map[string]string) *sdk.Request {
	if params == nil {
		params = map[string]string{}
	}
	if _, ok := params[paramToken]; !ok {
		params[paramToken] = token
	}
	return &sdk.Request{Type: sdk.TypeQuery, Params: params, FormParams: map[string]string{},
		Attachment: &sdk.Attachment{MimeType: "application/json", Data: data}, Env: &sdk.Env{}}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func execute(t *testing.T, a *Action, req *sdk.Request) *sdk.Response {
	t.Helper()
	resp, err := a.Execute(context.Background(), req)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return resp
}

// genOpts are n rows whose hubspot id is the row number.
func genOpts(n int, tag string) rowsgen.Options {
	return rowsgen.Options{Rows: n, Columns: []rowsgen.Column{
		{Name: "hubspot.object_id", Tags: []string{tag}, Kind: rowsgen.Int},
		{Name: "users.email", Kind: rowsgen.Email},
		{Name: "users.name", Kind: rowsgen.String},
		{Name: "orders.total", Kind: rowsgen.Float, Measure: true},
	}}
}

func TestDefinition(t *testing.T) {
	for _, o := range []Object{Contacts, Companies} {
		a, err := New(&sdk.Env{Getenv: func(string) string { return "" }}, o)
		if err != nil {
			t.Fatal(err)
		}
		d := a.Definition()
		if d.Name != o.Name || d.Label != o.Label || d.Description != o.Description {
			t.Errorf("%s: name/label/description = %q %q %q", o.Name, d.Name, d.Label, d.Description)
		}
		if !d.Streaming || !reflect.DeepEqual(d.SupportedActionTypes, []sdk.ActionType{sdk.TypeQuery}) ||
			!reflect.DeepEqual(d.SupportedFormattings, []sdk.Formatting{sdk.Unformatted}) ||
			!reflect.DeepEqual(d.SupportedVisualizationFormattings, []sdk.VisFormatting{sdk.VisNoApply}) {
			t.Errorf("%s: streaming/types/formattings wrong: %+v", o.Name, d)
		}
		if got := d.FormatsForVersion("6.2.0"); !reflect.DeepEqual(got, []sdk.Format{sdk.FormatJSONDetailLiteStream}) {
			t.Errorf("%s: formats for 6.2.0 = %v", o.Name, got)
		}
		if got := d.FormatsForVersion("6.0.0"); !reflect.DeepEqual(got, []sdk.Format{sdk.FormatJSONDetail}) {
			t.Errorf("%s: formats for 6.0.0 = %v", o.Name, got)
		}
		if !reflect.DeepEqual(d.RequiredFields, []sdk.RequiredField{{AnyTag: []string{o.Tag}}}) {
			t.Errorf("%s: required fields = %+v", o.Name, d.RequiredFields)
		}
		if len(d.Params) != 2 || d.Params[0].Name != "hubspot_access_token" || d.Params[0].Label != "Hubspot Access Token" ||
			!d.Params[0].Required || !d.Params[0].Sensitive || d.Params[1].Name != "hubspot_batch_update_size" ||
			d.Params[1].Label != "Batch Update Size" || d.Params[1].Required || d.Params[1].Sensitive {
			t.Errorf("%s: params = %+v", o.Name, d.Params)
		}
		if !strings.HasPrefix(d.Icon, "data:image/svg+xml;base64,") {
			t.Errorf("%s: icon = %.40q", o.Name, d.Icon)
		}
	}
}

func TestRateLimitVariable(t *testing.T) {
	env := func(v string) *sdk.Env {
		return &sdk.Env{Getenv: func(k string) string {
			if k == RateLimitVar {
				return v
			}
			return ""
		}}
	}
	a, err := New(env(""), Contacts)
	if err != nil || a.Limits.Rate != 9 || a.Limits.Burst != 10 {
		t.Fatalf("default limits = %+v, %v; want 9/s burst 10 (at most 100 in any 10 s)", a.Limits, err)
	}
	if a, err = New(env("190"), Contacts); err != nil || a.Limits.Rate != 17.1 || a.Limits.Burst != 19 {
		t.Fatalf("190 per 10 s: %+v, %v", a.Limits, err)
	}
	if a, err = New(env("0"), Contacts); err != nil || a.Limits.Rate != 0 {
		t.Fatalf("0 must lift the limit: %+v, %v", a.Limits, err)
	}
	if _, err = New(env("fast"), Contacts); err == nil {
		t.Fatal("a non-number must be refused")
	}
}

// Node: "works with hubspot_contact_id".
func TestNodeWorksWithContactID(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	a, _ := testAction(t, fake, Contacts)
	data := mustJSON(t, map[string]any{
		"fields": map[string]any{"dimensions": []any{
			map[string]any{"name": "contact_id", "tags": []string{"hubspot_contact_id"}},
			map[string]any{"name": "property_one"},
			map[string]any{"name": "property.two"},
		}},
		"data": []any{
			map[string]any{"contact_id": map[string]any{"value": "0123456"}, "property_one": map[string]any{"value": "property_one_value_1"},
				"property.two": map[string]any{"value": "property_two_value_1"}},
			map[string]any{"contact_id": map[string]any{"value": "9876543"}, "property_one": map[string]any{"value": "property_one_value_2"},
				"property.two": map[string]any{"value": "property_two_value_2"}},
		},
	})
	resp := execute(t, a, pushRequest(data, nil))
	if !resp.Success || resp.Message != "Delivered 2 of 2 rows." {
		t.Fatalf("response = %+v", resp)
	}
	want := []hubspotfake.Update{
		{Object: "contacts", ID: "0123456", Properties: map[string]any{"property_one": "property_one_value_1", "property_two": "property_two_value_1"}},
		{Object: "contacts", ID: "9876543", Properties: map[string]any{"property_one": "property_one_value_2", "property_two": "property_two_value_2"}},
	}
	if got := fake.Updates(); !reflect.DeepEqual(got, want) {
		t.Fatalf("updates = %+v\nwant %+v", got, want)
	}
	if got := fake.BatchSizes(); !reflect.DeepEqual(got, []int{2}) {
		t.Fatalf("one batch call expected, got %v", got)
	}
}

// Node: "should fail without a hubspot_contact_id" (and the companies mirror).
func TestNodeFailsWithoutTag(t *testing.T) {
	for _, o := range []Object{Contacts, Companies} {
		fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
		a, _ := testAction(t, fake, o)
		data := mustJSON(t, map[string]any{
			"fields": map[string]any{"dimensions": []any{map[string]any{"name": "contact_id"}, map[string]any{"name": "property_one"}}},
			"data":   []any{map[string]any{"contact_id": map[string]any{"value": "0123456"}, "property_one": map[string]any{"value": "v"}}},
		})
		resp := execute(t, a, pushRequest(data, nil))
		want := "Dimension with the " + o.Tag + " tag is required"
		if resp.Success || resp.Message != want {
			t.Fatalf("%s: response = %+v, want failure %q", o.Name, resp, want)
		}
		if fake.Requests() != 0 {
			t.Fatalf("%s: nothing may be sent", o.Name)
		}
	}
}

// Node: "doesn't send hidden fields"; also the companies endpoint and tag.
func TestNodeHiddenFieldsCompanies(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	a, _ := testAction(t, fake, Companies)
	data := mustJSON(t, map[string]any{
		"fields": map[string]any{"dimensions": []any{
			map[string]any{"name": "company_id", "tags": []string{"hubspot_company_id"}},
			map[string]any{"name": "property_one"}, map[string]any{"name": "hidden_property"},
		}},
		"data": []any{
			map[string]any{"company_id": map[string]any{"value": "0123456"}, "property_one": map[string]any{"value": "property_one_value_1"},
				"hidden_property": map[string]any{"value": "do_not_send"}},
			map[string]any{"company_id": map[string]any{"value": "9876543"}, "property_one": map[string]any{"value": "property_one_value_2"},
				"hidden_property": map[string]any{"value": "do_not_send"}},
		},
	})
	req := pushRequest(data, nil)
	req.ScheduledPlan = &sdk.ScheduledPlan{Query: &sdk.Query{VisConfig: map[string]any{"hidden_fields": []any{"hidden_property"}}}}
	resp := execute(t, a, req)
	if !resp.Success {
		t.Fatalf("response = %+v", resp)
	}
	want := []hubspotfake.Update{
		{Object: "companies", ID: "0123456", Properties: map[string]any{"property_one": "property_one_value_1"}},
		{Object: "companies", ID: "9876543", Properties: map[string]any{"property_one": "property_one_value_2"}},
	}
	if got := fake.Updates(); !reflect.DeepEqual(got, want) {
		t.Fatalf("updates = %+v\nwant %+v", got, want)
	}
}

func TestBatchSizes(t *testing.T) {
	cases := []struct {
		param string
		want  []int
	}{
		{"", []int{100, 100, 50}},
		{"10", []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}},
		{"500", []int{100, 100, 50}}, // capped at HubSpot's limit
		{"abc", []int{100, 100, 50}},
	}
	for _, c := range cases {
		fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
		a, _ := testAction(t, fake, Contacts)
		a.Limits.MaxInFlight = 1 // keep the order of the calls
		resp := execute(t, a, pushRequest(rowsgen.Bytes(genOpts(250, Contacts.Tag)), map[string]string{paramBatchSize: c.param}))
		if !resp.Success || resp.Message != "Delivered 250 of 250 rows." {
			t.Fatalf("size %q: %+v", c.param, resp)
		}
		if got := fake.BatchSizes(); !reflect.DeepEqual(got, c.want) {
			t.Fatalf("size %q: batches %v, want %v", c.param, got, c.want)
		}
	}
}

func TestValuesAndProperties(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	a, _ := testAction(t, fake, Contacts)
	opts := genOpts(3, Contacts.Tag)
	opts.NullEvery = 3 // some null values
	resp := execute(t, a, pushRequest(rowsgen.Bytes(opts), nil))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	for _, u := range fake.Updates() {
		var n int
		fmt.Sscan(u.ID, &n)
		for col, prop := range map[int]string{1: "users_email", 2: "users_name", 3: "orders_total"} {
			text, null := opts.Text(n, col, 0)
			got, ok := u.Properties[prop]
			if !ok {
				t.Fatalf("row %d: property %s missing: %v", n, prop, u.Properties)
			}
			switch {
			case null && got != nil:
				t.Errorf("row %d %s = %v, want null", n, prop, got)
			case !null && fmt.Sprint(got) != text && fmt.Sprintf("%.2f", got) != text:
				t.Errorf("row %d %s = %v, want %s", n, prop, got, text)
			}
		}
		if _, ok := u.Properties["hubspot_object_id"]; ok {
			t.Errorf("the id column must not be sent as a property")
		}
	}
}

func TestRowsWithoutIDAreSkipped(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	a, _ := testAction(t, fake, Contacts)
	opts := genOpts(10, Contacts.Tag)
	opts.NullEvery = 5 // id column (0) is null in rows 5 and 10
	resp := execute(t, a, pushRequest(rowsgen.Bytes(opts), nil))
	if !resp.Success || resp.Message != "Delivered 8 of 10 rows; 2 skipped." {
		t.Fatalf("%+v", resp)
	}
	if n := len(fake.Updates()); n != 8 {
		t.Fatalf("%d updates, want 8", n)
	}
}

// HubSpot's 207 Multi-Status: objects that do not exist become rejected rows with
// HubSpot's reason; the others are delivered.
func TestMultiStatusPerRowRejections(t *testing.T) {
	missing := map[string]bool{"7": true, "42": true, "43": true, "150": true}
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token,
		Exists: func(_, id string) bool { return !missing[id] }})
	a, _ := testAction(t, fake, Contacts)
	resp := execute(t, a, pushRequest(rowsgen.Bytes(genOpts(200, Contacts.Tag)), nil))
	s := resp.Report.Snapshot()
	if resp.Success || s.Read != 200 || s.Delivered != 196 || s.Rejected != 4 {
		t.Fatalf("response %+v, report %+v", resp, s)
	}
	rejected := map[int64]bool{}
	for _, r := range s.Rejections {
		rejected[r.Row] = true
		if !strings.HasPrefix(r.Reason, "OBJECT_NOT_FOUND: Could not get some CONTACT objects") {
			t.Errorf("row %d reason %q", r.Row, r.Reason)
		}
	}
	if !reflect.DeepEqual(rejected, map[int64]bool{7: true, 42: true, 43: true, 150: true}) {
		t.Fatalf("rejected rows %v", rejected)
	}
	if !strings.Contains(resp.Message, "Delivered 196 of 200 rows; 4 rejected: row ") {
		t.Fatalf("message %q", resp.Message)
	}
}

// A refused token stops the delivery at once, and the token never shows.
func TestBadTokenStops(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: "another-token"})
	a, _ := testAction(t, fake, Contacts)
	resp := execute(t, a, pushRequest(rowsgen.Bytes(genOpts(5000, Contacts.Tag)), nil))
	s := resp.Report.Snapshot()
	if resp.Success || !strings.Contains(s.Fatal, "HubSpot refused the access token (HTTP 401)") {
		t.Fatalf("response %+v, report %+v", resp, s)
	}
	if n := fake.BadAuth(); n > DefaultMaxInFlight {
		t.Fatalf("%d requests after the token was refused; the delivery must stop", n)
	}
	if s.Delivered != 0 || s.Read == 5000 && s.Rejected == 5000 {
		t.Fatalf("report %+v: reading must stop early", s)
	}
	if strings.Contains(resp.Message, token) {
		t.Fatal("the token leaked into the message")
	}
}

// A batch HubSpot refuses as such (an unknown property) rejects its rows with HubSpot's
// message; the delivery goes on.
func TestValidationErrorRejectsBatch(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token, Properties: []string{"users_email", "users_name"}})
	a, _ := testAction(t, fake, Contacts)
	resp := execute(t, a, pushRequest(rowsgen.Bytes(genOpts(150, Contacts.Tag)), nil))
	s := resp.Report.Snapshot()
	if resp.Success || s.Rejected != 150 || s.Fatal != "" {
		t.Fatalf("response %+v report %+v", resp, s)
	}
	if !strings.Contains(s.Rejections[0].Reason, `Property \"orders_total\" does not exist`) &&
		!strings.Contains(s.Rejections[0].Reason, `Property "orders_total" does not exist`) {
		t.Fatalf("reason %q", s.Rejections[0].Reason)
	}
}

// Rows repeating an id in one batch are merged (HubSpot refuses duplicates), later
// values winning.
func TestDuplicateIDsMerged(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	a, _ := testAction(t, fake, Contacts)
	data := mustJSON(t, map[string]any{
		"fields": map[string]any{"dimensions": []any{
			map[string]any{"name": "c.id", "tags": []string{"hubspot_contact_id"}},
			map[string]any{"name": "c.a"}, map[string]any{"name": "c.b"},
		}},
		"data": []any{
			map[string]any{"c.id": map[string]any{"value": "1"}, "c.a": map[string]any{"value": "a1"}, "c.b": map[string]any{"value": nil}},
			map[string]any{"c.id": map[string]any{"value": "2"}, "c.a": map[string]any{"value": "x"}, "c.b": map[string]any{"value": "y"}},
			map[string]any{"c.id": map[string]any{"value": "1"}, "c.a": map[string]any{"value": "a2"}, "c.b": map[string]any{"value": "b2"}},
			map[string]any{"c.id": map[string]any{"value": "1"}, "c.a": map[string]any{"value": "a3"}},
		},
	})
	resp := execute(t, a, pushRequest(data, nil))
	if !resp.Success || resp.Message != "Delivered 4 of 4 rows." {
		t.Fatalf("%+v", resp)
	}
	want := []hubspotfake.Update{
		{Object: "contacts", ID: "1", Properties: map[string]any{"c_a": "a3", "c_b": "b2"}},
		{Object: "contacts", ID: "2", Properties: map[string]any{"c_a": "x", "c_b": "y"}},
	}
	if got := fake.Updates(); !reflect.DeepEqual(got, want) {
		t.Fatalf("updates %+v\nwant %+v", got, want)
	}
}

// Faults that leave HubSpot untouched (429 with Retry-After, 503, no answer, dropped
// connections before the request is read): every row arrives exactly once and the report
// is exact.
func TestFaultsBeforeCommitExactlyOnce(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	fake.Faults.Func = faults.Random(7, 0.5, 3, faults.RateLimit, faults.ServerError, faults.TimeoutBefore, faults.DropBefore)
	fake.Faults.RetryAfter = "1"
	a, clock := testAction(t, fake, Contacts)
	// long enough that an answer is never late on a busy machine (a late answer is an
	// ambiguous failure, tested below), short enough for the timeout faults
	a.Limits.Timeout = 400 * time.Millisecond
	a.Limits.MaxInFlight = 1 // calls in sequence: no call meets more faults in a row than the plan allows
	const n = 1000
	resp := execute(t, a, pushRequest(rowsgen.Bytes(genOpts(n, Contacts.Tag)), nil))
	s := resp.Report.Snapshot()
	if !resp.Success || s.Read != n || s.Delivered != n || s.Rejected != 0 || s.Retries == 0 {
		t.Fatalf("response %+v report %+v", resp, s)
	}
	applied := fake.Applied()
	if len(applied) != n {
		t.Fatalf("%d distinct ids updated, want %d", len(applied), n)
	}
	for id, times := range applied {
		if times != 1 {
			t.Fatalf("%s updated %d times", id, times)
		}
	}
	if fake.Faults.Count(faults.RateLimit) == 0 || fake.Faults.Count(faults.TimeoutBefore) == 0 || fake.Faults.Count(faults.DropBefore) == 0 {
		t.Fatalf("the fault plan did not inject every kind")
	}
	if int(s.Retries) != fake.Faults.Total() {
		t.Fatalf("report counts %d retries, the fake injected %d faults", s.Retries, fake.Faults.Total())
	}
	// Retry-After: 1 was honoured for each 429
	ones := 0
	for _, d := range clock.Sleeps() {
		if d == time.Second {
			ones++
		}
	}
	if ones < fake.Faults.Count(faults.RateLimit) {
		t.Fatalf("%d one-second waits for %d 429s", ones, fake.Faults.Count(faults.RateLimit))
	}
}

// Faults after HubSpot applied a batch (the answer is lost): the batch is re-sent, which
// is harmless for an update (same values); every row is delivered and counted once.
func TestFaultsAfterCommitResend(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	fake.Faults.Push(faults.DropAfter, faults.None, faults.TimeoutAfter)
	a, _ := testAction(t, fake, Contacts)
	a.Limits.Timeout = 300 * time.Millisecond
	a.Limits.MaxInFlight = 1
	resp := execute(t, a, pushRequest(rowsgen.Bytes(genOpts(300, Contacts.Tag)), nil))
	s := resp.Report.Snapshot()
	if !resp.Success || s.Delivered != 300 || s.Retries != 2 {
		t.Fatalf("response %+v report %+v", resp, s)
	}
	applied := fake.Applied()
	twice := 0
	for _, times := range applied {
		if times == 2 {
			twice++
		} else if times != 1 {
			t.Fatalf("an id applied %d times", times)
		}
	}
	if len(applied) != 300 || twice != 200 {
		t.Fatalf("%d ids, %d applied twice; want 300 and the two faulted batches (200)", len(applied), twice)
	}
}

// A HubSpot that keeps failing stops the delivery instead of retrying every batch.
func TestPersistentOutageStops(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	fake.Faults.Func = func(int64) faults.Kind { return faults.ServerError }
	a, _ := testAction(t, fake, Contacts)
	a.Limits.MaxInFlight = 1
	resp := execute(t, a, pushRequest(rowsgen.Bytes(genOpts(10000, Contacts.Tag)), nil))
	s := resp.Report.Snapshot()
	if resp.Success || !strings.Contains(s.Fatal, "HubSpot kept failing") || s.Delivered != 0 {
		t.Fatalf("response %+v report %+v", resp, s)
	}
	if got := fake.Faults.Count(faults.ServerError); got > 40 {
		t.Fatalf("%d calls to a failing HubSpot", got)
	}
}

// The token bucket keeps the client under HubSpot's rolling limit: the fake counts no
// request over it.
func TestRateLimitRespected(t *testing.T) {
	// at most 1 + 0.5 s × 5/s = 3 requests in any 500 ms: one request of slack for
	// arrivals bunched by a busy machine
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token + "-rate", RateLimit: 4, RateWindow: 500 * time.Millisecond})
	a, _ := testAction(t, fake, Contacts)
	a.Limits.Clock = nil // real time
	a.Limits.Rate, a.Limits.Burst = 5, 1
	start := time.Now()
	resp := execute(t, a, pushRequest(rowsgen.Bytes(genOpts(80, Contacts.Tag)), map[string]string{
		paramToken: token + "-rate", paramBatchSize: "10"})) // its own token bucket
	if !resp.Success || fake.Requests() != 8 {
		t.Fatalf("%+v, %d requests", resp, fake.Requests())
	}
	if n := fake.OverLimit(); n != 0 {
		t.Fatalf("%d requests over the vendor's limit", n)
	}
	if el := time.Since(start); el < 1300*time.Millisecond {
		t.Fatalf("8 requests at 5/s took %v: the limiter did not pace them", el)
	}
}

// A download cut in the middle: the rows read are delivered, the report says the
// delivery stopped and how many rows were not sent.
func TestCutDownload(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	a, _ := testAction(t, fake, Contacts)
	full := rowsgen.Bytes(genOpts(1000, Contacts.Tag))
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(full)))
		w.Write(full[:len(full)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer dl.Close()
	req := pushRequest(nil, nil)
	req.Attachment = nil
	req.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: dl.URL + "/secret-download"}
	resp := execute(t, a, req)
	s := resp.Report.Snapshot()
	if resp.Success || s.Fatal == "" || s.Read == 0 || s.Read >= 1000 || s.Delivered != s.Read {
		t.Fatalf("response %+v report %+v", resp, s)
	}
	if got := len(fake.Applied()); int64(got) != s.Delivered {
		t.Fatalf("fake has %d, report says %d delivered", got, s.Delivered)
	}
	if strings.Contains(resp.Message, "secret-download") {
		t.Fatal("the download URL leaked")
	}
}

func TestItemID(t *testing.T) {
	for in, want := range map[string]string{
		`{"id":"123","properties":{}}`:       "123",
		`{"id":"a\"b","properties":{"x":1}}`: `a"b`,
		`{"id":"\u00e9","properties":{}}`:    "é",
	} {
		if got := itemID([]byte(in)); got != want {
			t.Errorf("itemID(%s) = %q, want %q", in, got, want)
		}
	}
}
