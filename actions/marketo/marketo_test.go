package marketo

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	marketofake "github.com/actionhub/actionhub/internal/fakes/marketo"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

const (
	clientID = "client-id-1"
	secret   = "client-secret-XYZ-1234567890"
)

func newFake(t *testing.T, opts marketofake.Options) *marketofake.Server {
	opts.ClientID, opts.ClientSecret = clientID, secret
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	return marketofake.New(t, opts)
}

// testAction has instant waits (a fake clock) and a per-attempt timeout long enough for a
// busy machine; tests of timeouts shorten it.
func testAction(t *testing.T) (*Action, *vendorhttptest.FakeClock) {
	t.Helper()
	a, err := New(&sdk.Env{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	clock := vendorhttptest.NewFakeClock(time.Time{})
	a.Limits.Clock = clock
	a.Limits.Timeout = 5 * time.Second
	a.Limits.Rate = 0
	return a, clock
}

func request(fake *marketofake.Server, data []byte, form map[string]string) *sdk.Request {
	return &sdk.Request{Type: sdk.TypeQuery,
		Params:     map[string]string{"url": fake.URL, "clientID": clientID, "clientSecret": secret},
		FormParams: form, Attachment: &sdk.Attachment{MimeType: "application/json", Data: data}, Env: &sdk.Env{}}
}

func execute(t *testing.T, a *Action, req *sdk.Request) *sdk.Response {
	t.Helper()
	resp, err := a.Execute(context.Background(), req)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return resp
}

// nodeSample is the Node test's sample data.
var nodeSample = []byte(`{"fields":{"measures":[],"dimensions":[
 {"label_short":"ID","name":"users.id","tags":["user_id","marketo:Account__c"]},
 {"label_short":"Email","name":"users.email","tags":["email","marketo:email"]},
 {"label_short":"Gender","name":"users.gender","tags":["marketo:gender"]},
 {"label_short":"random","name":"users.random"}]},
 "data":[
 {"users.id":{"value":4653},"users.email":{"value":"zoraida.gregoire@example.com"},"users.gender":{"value":"f"},"users.random":{"value":7}},
 {"users.id":{"value":629},"users.email":{"value":"zola.summers@example.com"},"users.gender":{"value":"m"},"users.random":{"value":4}},
 {"users.id":{"value":6980},"users.email":{"value":"zoe.brady@example.com"},"users.gender":{"value":"f"},"users.random":{"value":5}}]}`)

var nodeLeads = map[string]map[string]any{
	"zoraida.gregoire@example.com": {"Account__c": float64(4653), "email": "zoraida.gregoire@example.com", "gender": "f"},
	"zola.summers@example.com":     {"Account__c": float64(629), "email": "zola.summers@example.com", "gender": "m"},
	"zoe.brady@example.com":        {"Account__c": float64(6980), "email": "zoe.brady@example.com", "gender": "f"},
}

func checkNodeLeads(t *testing.T, fake *marketofake.Server) []int64 {
	t.Helper()
	leads := fake.Leads("email")
	if len(leads) != 3 {
		t.Fatalf("leads %+v", leads)
	}
	var ids []int64
	for email, want := range nodeLeads {
		l := leads[email]
		if !reflect.DeepEqual(l.Fields, want) || l.Syncs != 1 {
			t.Fatalf("lead %s = %+v, want fields %v synced once", email, l, want)
		}
		ids = append(ids, l.ID)
	}
	if calls := fake.LeadCalls(); !reflect.DeepEqual(calls, []int{3}) {
		t.Fatalf("createOrUpdate calls %v", calls)
	}
	return ids
}

// mapped are rows with marketo tags: email is the lookup field.
func mapped(n int) rowsgen.Options {
	return rowsgen.Options{Rows: n, Columns: []rowsgen.Column{
		{Name: "users.email", Tags: []string{"marketo:email"}, Kind: rowsgen.Email},
		{Name: "users.name", Tags: []string{"marketo:firstName"}, Kind: rowsgen.String},
		{Name: "users.id", Tags: []string{"marketo:Account__c"}, Kind: rowsgen.Int},
		{Name: "users.created", Kind: rowsgen.Date},
	}}
}

func TestDefinitionAndForm(t *testing.T) {
	a, _ := testAction(t)
	d := a.Definition()
	if d.Name != "marketo" || d.Label != "Marketo" || d.Description != "Update Marketo leads and their campaign/list membership." ||
		!d.Streaming || len(d.RequiredFields) != 0 || !strings.HasPrefix(d.Icon, "data:image/svg+xml;base64,") {
		t.Fatalf("definition %+v", d)
	}
	want := []sdk.Param{
		{Name: "url", Label: "URL", Required: true, Description: "Identity server host URL"},
		{Name: "clientID", Label: "Client ID", Required: true, Description: "Client ID from Marketo"},
		{Name: "clientSecret", Label: "Client Secret", Required: true, Sensitive: true, Description: "Client Secret from Marketo"},
	}
	if !reflect.DeepEqual(d.Params, want) {
		t.Fatalf("params %+v", d.Params)
	}
	if f := d.FormatsForVersion("6.0.0"); !reflect.DeepEqual(f, []sdk.Format{sdk.FormatJSONDetail}) {
		t.Fatalf("6.0 formats %v", f)
	}
	if f := d.FormatsForVersion("6.2.0"); !reflect.DeepEqual(f, []sdk.Format{sdk.FormatJSONDetailLiteStream}) {
		t.Fatalf("6.2 formats %v", f)
	}
	form, err := a.Form(context.Background(), &sdk.Request{})
	if err != nil {
		t.Fatal(err)
	}
	// Node: the form keeps lookupField, subaction and campaignId, and addCampaign is the
	// default subaction (legacy schedules meant it).
	names := []string{}
	for _, f := range form.Fields {
		names = append(names, f.Name)
	}
	if !reflect.DeepEqual(names, []string{"lookupField", "subaction", "campaignId"}) ||
		form.Fields[0].Default != "email" || form.Fields[1].Default != "addCampaign" || len(form.Fields[1].Options) != 4 {
		t.Fatalf("form %+v", form.Fields)
	}
}

// Node's validation tests. The action runs in its own process in Node, so these are
// plain errors (a 200 with success false), not Looker-facing 404s.
func TestNodeValidation(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	a, _ := testAction(t)
	cases := []struct {
		form map[string]string
		want string
	}{
		{map[string]string{}, "Missing Lookup Field."}, // legacy mode with no ids
		{map[string]string{"subaction": "none", "campaignId": "123"}, "Additional action of 'none' was selected, but additional action ID was provided"},
		{map[string]string{"subaction": "addCampaign", "campaignId": ""}, "'Add to campaign' was selected, but additional action ID was not provided"},
		{map[string]string{"subaction": "addList"}, "'Add to list' was selected, but additional action ID was not provided"},
		{map[string]string{"subaction": "removeList"}, "'Remove from list' was selected, but additional action ID was not provided"},
		{map[string]string{"subaction": "somethingUnexpected"}, "Unrecognized additional action type"},
		{map[string]string{"campaignId": "12345"}, "Missing Lookup Field."},
		{map[string]string{"campaignId": "1243", "lookupField": "guid"}, "Marketo Lookup Field for lead not present in query."},
		{map[string]string{"campaignId": "12/../34", "lookupField": "email"}, `Campaign/List ID "12/../34" is not a number`},
	}
	for _, c := range cases {
		_, err := a.Execute(context.Background(), request(fake, nodeSample, c.form))
		if err == nil || err.Error() != c.want {
			t.Errorf("form %v: error %v, want %q", c.form, err, c.want)
		}
		if _, isUserError := sdk.AsError(err); isUserError {
			t.Errorf("form %v: a forked action's error must not be a 404", c.form)
		}
	}
	if calls, _, _, _, _ := fake.Stats(); calls != 0 {
		t.Fatalf("%d calls made for invalid requests", calls)
	}
}

func TestNodeLegacyCampaign(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	a, _ := testAction(t)
	resp := execute(t, a, request(fake, nodeSample, map[string]string{"campaignId": "101", "lookupField": "email"}))
	if !resp.Success || resp.Message != "Delivered 3 of 3 rows." {
		t.Fatalf("%+v", resp)
	}
	ids := checkNodeLeads(t, fake)
	trig := fake.Triggers("101")
	for _, id := range ids {
		if trig[id] != 1 {
			t.Fatalf("triggers %v", trig)
		}
	}
}

func TestNodeSubactions(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		fake := newFake(t, marketofake.Options{})
		a, _ := testAction(t)
		resp := execute(t, a, request(fake, nodeSample, map[string]string{"subaction": "none", "lookupField": "email"}))
		if !resp.Success {
			t.Fatalf("%+v", resp)
		}
		checkNodeLeads(t, fake)
	})
	t.Run("addCampaign", func(t *testing.T) {
		fake := newFake(t, marketofake.Options{})
		a, _ := testAction(t)
		resp := execute(t, a, request(fake, nodeSample, map[string]string{"subaction": "addCampaign", "campaignId": "202", "lookupField": "email"}))
		if !resp.Success {
			t.Fatalf("%+v", resp)
		}
		ids := checkNodeLeads(t, fake)
		if trig := fake.Triggers("202"); len(trig) != 3 || trig[ids[0]] != 1 {
			t.Fatalf("triggers %v", trig)
		}
	})
	t.Run("addList", func(t *testing.T) {
		fake := newFake(t, marketofake.Options{})
		a, _ := testAction(t)
		resp := execute(t, a, request(fake, nodeSample, map[string]string{"subaction": "addList", "campaignId": "303", "lookupField": "email"}))
		if !resp.Success {
			t.Fatalf("%+v", resp)
		}
		ids := checkNodeLeads(t, fake)
		members := fake.ListMembers("303")
		for _, id := range ids {
			if !members[id] {
				t.Fatalf("members %v", members)
			}
		}
	})
	t.Run("removeList", func(t *testing.T) {
		fake := newFake(t, marketofake.Options{})
		a, _ := testAction(t)
		// the leads exist and are in the list before; the third is not in it
		resp := execute(t, a, request(fake, nodeSample, map[string]string{"subaction": "none", "lookupField": "email"}))
		if !resp.Success {
			t.Fatal(resp.Message)
		}
		leads := fake.Leads("email")
		fake.AddToList("404", leads["zoraida.gregoire@example.com"].ID, leads["zola.summers@example.com"].ID, 999)
		resp = execute(t, a, request(fake, nodeSample, map[string]string{"subaction": "removeList", "campaignId": "404", "lookupField": "email"}))
		if !resp.Success || resp.Message != "Delivered 3 of 3 rows." {
			t.Fatalf("%+v", resp)
		}
		if m := fake.ListMembers("404"); !reflect.DeepEqual(m, map[int64]bool{999: true}) {
			t.Fatalf("members after removal %v", m)
		}
	})
	t.Run("several ids", func(t *testing.T) {
		fake := newFake(t, marketofake.Options{})
		a, _ := testAction(t)
		resp := execute(t, a, request(fake, nodeSample, map[string]string{"subaction": "addList", "campaignId": " 7 ,8,, 9", "lookupField": "email"}))
		if !resp.Success {
			t.Fatalf("%+v", resp)
		}
		for _, l := range []string{"7", "8", "9"} {
			if n := len(fake.ListMembers(l)); n != 3 {
				t.Fatalf("list %s has %d members", l, n)
			}
		}
	})
}

func TestBatchesOf300AndTriggersOf100(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	a, _ := testAction(t)
	a.Limits.MaxInFlight = 1
	resp := execute(t, a, request(fake, rowsgen.Bytes(mapped(1000)), map[string]string{"subaction": "addCampaign", "campaignId": "55", "lookupField": "email"}))
	if !resp.Success || resp.Message != "Delivered 1,000 of 1,000 rows." {
		t.Fatalf("%+v", resp)
	}
	if calls := fake.LeadCalls(); !reflect.DeepEqual(calls, []int{300, 300, 300, 100}) {
		t.Fatalf("lead calls %v", calls)
	}
	trig := fake.Triggers("55")
	if len(trig) != 1000 {
		t.Fatalf("%d leads triggered", len(trig))
	}
	calls, _, _, tokens, _ := fake.Stats()
	if calls != 4+10 || tokens != 1 { // 4 syncs, 10 triggers of 100; one token for the execute
		t.Fatalf("%d calls, %d token requests", calls, tokens)
	}
	leads := fake.Leads("email")
	opts := mapped(1000)
	for n := 1; n <= 1000; n++ {
		email, _ := opts.Text(n, 0, 0)
		name, _ := opts.Text(n, 1, 0)
		l := leads[email]
		if l.Fields["firstName"] != name || l.Fields["Account__c"] != float64(n) || len(l.Fields) != 3 || l.Syncs != 1 {
			t.Fatalf("lead %d: %+v", n, l)
		}
	}
}

// Leads Marketo skips become rejected rows with Marketo's reason; rows without a lookup
// value are rejected before sending.
func TestSkippedLeadsPerRow(t *testing.T) {
	fake := newFake(t, marketofake.Options{Reject: func(l map[string]any) (string, string) {
		if e, _ := l["email"].(string); strings.HasPrefix(e, "user7") {
			return "1003", "Invalid email address"
		}
		return "", ""
	}})
	a, _ := testAction(t)
	opts := mapped(100)
	opts.NullEvery = 50 // email (column 0) is null in rows 50 and 100
	resp := execute(t, a, request(fake, rowsgen.Bytes(opts), map[string]string{"subaction": "addList", "campaignId": "9", "lookupField": "email"}))
	s := resp.Report.Snapshot()
	// user7 and user70..79 are refused: 11 rows; rows 50 and 100 have no email
	if resp.Success || s.Read != 100 || s.Delivered != 87 || s.Rejected != 13 {
		t.Fatalf("%+v %+v", resp, s)
	}
	byRow := map[int64]string{}
	for _, r := range s.Rejections {
		byRow[r.Row] = r.Reason
	}
	if byRow[7] != "Marketo skipped the lead: [1003] Invalid email address" || byRow[50] != "the lookup field email is empty" {
		t.Fatalf("rejections %v", byRow)
	}
	if n := len(fake.ListMembers("9")); n != 87 {
		t.Fatalf("%d leads in the list, want the 87 synced", n)
	}
}

func TestListStepFailures(t *testing.T) {
	fake := newFake(t, marketofake.Options{Lists: []string{"1"}})
	a, _ := testAction(t)
	resp := execute(t, a, request(fake, nodeSample, map[string]string{"subaction": "addList", "campaignId": "2", "lookupField": "email"}))
	s := resp.Report.Snapshot()
	if resp.Success || s.Rejected != 3 || s.Rejections[0].Reason != "lead synced, but adding to list 2 failed: Marketo error [1013] Static list not found" {
		t.Fatalf("%+v %+v", resp, s)
	}
	if len(fake.Leads("email")) != 3 {
		t.Fatal("the leads themselves must be synced")
	}
}

// Expired and invalid tokens (601/602) renew the token once and the call goes on.
func TestTokenRenewal(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	a, _ := testAction(t)
	a.Limits.MaxInFlight = 1
	fake.InjectCodes("", "602", "", "601") // the second and fourth calls: "" keeps a call clean
	resp := execute(t, a, request(fake, rowsgen.Bytes(mapped(1200)), map[string]string{"subaction": "none", "lookupField": "email"}))
	if !resp.Success || resp.Message != "Delivered 1,200 of 1,200 rows." {
		t.Fatalf("%+v", resp)
	}
	_, _, _, tokens, _ := fake.Stats()
	if tokens != 3 { // one, then one renewal after 602 and one after 601
		t.Fatalf("%d token requests, want 3", tokens)
	}
}

// 606 and 615 are Marketo's in-band throttling: retried with backoff, nothing lost.
func TestThrottleCodesRetried(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	a, clock := testAction(t)
	a.Limits.MaxInFlight = 1
	fake.InjectCodes("606", "615", "606", "611")
	resp := execute(t, a, request(fake, rowsgen.Bytes(mapped(600)), map[string]string{"subaction": "addList", "campaignId": "5", "lookupField": "email"}))
	s := resp.Report.Snapshot()
	if !resp.Success || s.Delivered != 600 || s.Retries != 4 {
		t.Fatalf("%+v %+v", resp, s)
	}
	if clock.Slept() < 2*time.Second { // backoff from 1s
		t.Fatalf("backoff slept only %v", clock.Slept())
	}
	for email, l := range fake.Leads("email") {
		if l.Syncs != 1 {
			t.Fatalf("%s synced %d times", email, l.Syncs)
		}
	}
}

func TestDailyQuotaStops(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	a, _ := testAction(t)
	a.Limits.MaxInFlight = 1
	fake.InjectCodes("", "607")
	resp := execute(t, a, request(fake, rowsgen.Bytes(mapped(3000)), map[string]string{"subaction": "none", "lookupField": "email"}))
	s := resp.Report.Snapshot()
	if resp.Success || s.Delivered != 300 || s.Rejected != 300 || !strings.Contains(s.Fatal, "[607] Daily quota reached") {
		t.Fatalf("%+v %+v", resp, s)
	}
	if calls := fake.LeadCalls(); !reflect.DeepEqual(calls, []int{300}) {
		t.Fatalf("committed calls %v: nothing may be sent after the quota was reached", calls)
	}
}

func TestBadCredentialsStop(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	a, _ := testAction(t)
	req := request(fake, rowsgen.Bytes(mapped(2000)), map[string]string{"subaction": "none", "lookupField": "email"})
	req.Params["clientSecret"] = "wrong-secret-0987654321"
	resp := execute(t, a, req)
	s := resp.Report.Snapshot()
	if resp.Success || !strings.Contains(s.Fatal, "Marketo refused the Client ID and Client Secret (HTTP 401)") {
		t.Fatalf("%+v %+v", resp, s)
	}
	if _, _, _, _, bad := fake.Stats(); bad > DefaultMaxInFlight {
		t.Fatalf("%d token requests with bad credentials", bad)
	}
	if strings.Contains(resp.Message, "wrong-secret") {
		t.Fatal("the secret leaked")
	}
}

// Network faults: syncs are upserts and are re-sent; every lead ends synced and the
// report is exact. Faults that leave Marketo untouched sync each lead exactly once.
func TestFaultsExactlyOnce(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	fake.Faults.Func = faults.Random(3, 0.5, 3, faults.RateLimit, faults.ServerError, faults.TimeoutBefore, faults.DropBefore)
	a, _ := testAction(t)
	// long enough that an answer is never late on a busy machine (a late answer is an
	// ambiguous failure, tested elsewhere), short enough for the timeout faults
	a.Limits.Timeout = 400 * time.Millisecond
	a.Limits.MaxInFlight = 1 // calls in sequence: no call meets more faults in a row than the plan allows
	const n = 1500
	resp := execute(t, a, request(fake, rowsgen.Bytes(mapped(n)), map[string]string{"subaction": "addList", "campaignId": "4", "lookupField": "email"}))
	s := resp.Report.Snapshot()
	if !resp.Success || s.Delivered != n || s.Retries == 0 {
		t.Fatalf("%+v %+v", resp, s)
	}
	leads := fake.Leads("email")
	if len(leads) != n || len(fake.ListMembers("4")) != n {
		t.Fatalf("%d leads, %d members", len(leads), len(fake.ListMembers("4")))
	}
	for email, l := range leads {
		if l.Syncs != 1 {
			t.Fatalf("%s synced %d times", email, l.Syncs)
		}
	}
	if int(s.Retries) != fake.Faults.Total() {
		t.Fatalf("%d retries counted, %d faults injected", s.Retries, fake.Faults.Total())
	}
}

// A trigger whose connection fails after it was sent is not re-sent: each lead runs
// through the campaign at most once, and its row says the trigger's fate is unknown.
func TestTriggerNotResentAfterAmbiguousFailure(t *testing.T) {
	for _, k := range []faults.Kind{faults.DropAfter, faults.TimeoutAfter} {
		fake := newFake(t, marketofake.Options{})
		a, _ := testAction(t)
		a.Limits.MaxInFlight = 1
		a.Limits.Timeout = 300 * time.Millisecond
		// call 1: sync of rows 1-300; call 2: trigger of rows 1-100 (fault); 3, 4: triggers
		fake.Faults.Push(faults.None, k, faults.None, faults.None, faults.RateLimit)
		resp := execute(t, a, request(fake, rowsgen.Bytes(mapped(600)), map[string]string{"subaction": "addCampaign", "campaignId": "77", "lookupField": "email"}))
		s := resp.Report.Snapshot()
		if resp.Success || s.Delivered != 500 || s.Rejected != 100 {
			t.Fatalf("%v: %+v %+v", k, resp, s)
		}
		if !strings.Contains(s.Rejections[0].Reason, "not re-sent to avoid doing it twice") || s.Rejections[0].Row != 1 {
			t.Fatalf("%v: rejection %+v", k, s.Rejections[0])
		}
		trig := fake.Triggers("77")
		if len(trig) != 600 {
			t.Fatalf("%v: %d leads triggered, want 600 (the lost answer's trigger happened)", k, len(trig))
		}
		for id, times := range trig {
			if times != 1 {
				t.Fatalf("%v: lead %d triggered %d times", k, id, times)
			}
		}
	}
}

// The token bucket and the concurrency slots keep the client under the instance's
// limits: the fake refuses nothing.
func TestLimitsRespected(t *testing.T) {
	fake := marketofake.New(t, marketofake.Options{ClientID: clientID, ClientSecret: secret,
		RateLimit: 5, RateWindow: 600 * time.Millisecond, Concurrency: 2})
	a, _ := testAction(t)
	a.Limits.Clock = nil
	// at most 1 + 0.6 s × 5/s = 4 calls in any 600 ms: one call of slack for arrivals
	// bunched by a busy machine
	a.Limits.Rate, a.Limits.Burst, a.Limits.Concurrency = 5, 1, 2
	start := time.Now()
	resp := execute(t, a, request(fake, rowsgen.Bytes(mapped(1800)), map[string]string{"subaction": "addList", "campaignId": "1", "lookupField": "email"}))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	calls, limited, maxIn, _, _ := fake.Stats()
	if limited != 0 || maxIn > 2 || calls != 12 {
		t.Fatalf("%d calls, %d refused by the limits, %d concurrent", calls, limited, maxIn)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Fatalf("12 calls at 5/s took %v", el)
	}
}

func TestInstanceURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://123-ABC-456.mktorest.com":           "https://123-ABC-456.mktorest.com",
		"https://123-ABC-456.mktorest.com/rest/":     "https://123-ABC-456.mktorest.com",
		" https://123-ABC-456.mktorest.com/identity": "https://123-ABC-456.mktorest.com",
	} {
		if got, err := instanceURL(in); err != nil || got != want {
			t.Errorf("instanceURL(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"myurl", "ftp://x", "https://u:p@x.com", "https://x.com?a=1"} {
		if _, err := instanceURL(bad); err == nil {
			t.Errorf("instanceURL(%q) accepted", bad)
		}
	}
}

func TestFirstErrorCode(t *testing.T) {
	for body, want := range map[string]string{
		`{"requestId":"1","success":false,"errors":[{"code":"606","message":"Max rate"}]}`: "606",
		`{"success":false,"errors":[{"code":615,"message":"x"}]}`:                          "615",
		`{"success":true,"result":[{"status":"skipped","reasons":[{"code":"1003"}]}]}`:     "",
	} {
		if got := firstErrorCode([]byte(body)); got != want {
			t.Errorf("firstErrorCode(%s) = %q, want %q", body, got, want)
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
	if a, err := New(env("")); err != nil || a.Limits.Rate != DefaultRate || a.Limits.Burst != DefaultBurst {
		t.Fatalf("defaults %+v %v", a, err)
	}
	if a, err := New(env("0")); err != nil || a.Limits.Rate != 0 {
		t.Fatalf("0 must lift the limit: %+v %v", a, err)
	}
	if a, err := New(env("200")); err != nil || a.Limits.Rate != 9.5 || a.Limits.Burst != 10 {
		t.Fatalf("200 per 20 s: %+v %v", a, err)
	}
	if _, err := New(env("-1")); err == nil {
		t.Fatal("a negative rate must be refused")
	}
}
