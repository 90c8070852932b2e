package airtable

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	airtablefake "github.com/actionhub/actionhub/internal/fakes/airtable"
	"github.com/actionhub/actionhub/internal/fakes/faults"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

const (
	clientID     = "airtable-client"
	clientSecret = "airtable-secret-0123456789"
	cipherMaster = "281243e09385f19773569e4d99d306065efb0cf0f6e3ca4c705571c173722c99"
)

type fixture struct {
	a     *Action
	fake  *airtablefake.Server
	clock *vendorhttptest.FakeClock
	env   map[string]string
}

// setup starts a fake Airtable with base "mybase" (tables "mytable" and "Contacts") and
// an action aimed at it, with instant waits and a timeout long enough for a busy machine.
func setup(t *testing.T, opts airtablefake.Options, env map[string]string) *fixture {
	t.Helper()
	opts.ClientID, opts.ClientSecret = clientID, clientSecret
	if opts.Tables == nil {
		opts.Tables = map[string][]string{"mybase": {"mytable", "Contacts"}}
	}
	fake := airtablefake.New(t, opts)
	vars := map[string]string{"AIRTABLE_CLIENT_ID": clientID, "AIRTABLE_CLIENT_SECRET": clientSecret,
		sdk.VendorURLVar + "AIRTABLE_API": fake.URL, sdk.VendorURLVar + "AIRTABLE_AUTH": fake.URL}
	for k, v := range env {
		vars[k] = v
	}
	a, err := New(&sdk.Env{Getenv: func(k string) string { return vars[k] }, Crypto: actioncrypto.New(cipherMaster),
		BaseURL: "https://hub.example"})
	if err != nil {
		t.Fatal(err)
	}
	clock := vendorhttptest.NewFakeClock(time.Time{})
	a.Limits.Clock = clock
	a.Limits.Rate = 0
	a.Limits.Timeout = 5 * time.Second
	return &fixture{a: a, fake: fake, clock: clock, env: vars}
}

func (f *fixture) request(data []byte, state string, form map[string]string) *sdk.Request {
	req := &sdk.Request{Type: sdk.TypeQuery, Params: map[string]string{"state_json": state, "state_url": "https://looker.example/state/1"},
		FormParams: form, Env: f.a.Env, ActionName: Name}
	if data != nil {
		req.Attachment = &sdk.Attachment{MimeType: "application/json", Data: data}
	}
	return req
}

// login grants tokens and returns them as Looker's state.
func (f *fixture) login(access, refresh string) string {
	f.fake.Grant(access, refresh)
	b, _ := json.Marshal(Tokens{AccessToken: access, RefreshToken: refresh})
	return string(b)
}

func (f *fixture) execute(t *testing.T, req *sdk.Request) *sdk.Response {
	t.Helper()
	resp, err := f.a.Execute(context.Background(), req)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return resp
}

var baseForm = map[string]string{"base": "mybase", "table": "mytable"}

func nodeData(field map[string]any, value any) []byte {
	b, _ := json.Marshal(map[string]any{"fields": map[string]any{"dimensions": []any{field}},
		"data": []any{map[string]any{"coolview.coolfield": map[string]any{"value": value}}}})
	return b
}

// numbered are rows whose "Num" field is the row number.
func numbered(n int) rowsgen.Options {
	return rowsgen.Options{Rows: n, Columns: []rowsgen.Column{
		{Name: "t.num", Label: "Num", Kind: rowsgen.Int},
		{Name: "users.email", Label: "Email", Kind: rowsgen.Email},
		{Name: "users.name", Label: "Name", Kind: rowsgen.String},
	}}
}

// recordNums returns how many records hold each Num.
func recordNums(t *testing.T, recs []airtablefake.Record) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, r := range recs {
		n, ok := r.Fields["Num"].(float64)
		if !ok {
			t.Fatalf("record without Num: %v", r.Fields)
		}
		out[int(n)]++
	}
	return out
}

func TestRegistrationAndDefinition(t *testing.T) {
	if _, err := New(&sdk.Env{Getenv: func(string) string { return "" }}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("New without client id/secret: %v", err)
	}
	f := setup(t, airtablefake.Options{}, nil)
	d := f.a.Definition()
	if d.Name != "airtable" || d.Label != "Airtable" || d.Description != "Add records to an Airtable table." ||
		len(d.Params) != 0 || d.Params == nil || !d.Streaming || !sdk.UsesOAuth(f.a) ||
		!reflect.DeepEqual(d.SupportedFormattings, []sdk.Formatting{sdk.Unformatted}) ||
		!reflect.DeepEqual(d.SupportedVisualizationFormattings, []sdk.VisFormatting{sdk.VisNoApply}) ||
		!strings.HasPrefix(d.Icon, "data:image/svg+xml;base64,") {
		t.Fatalf("definition %+v", d)
	}
	if got := d.FormatsForVersion("6.0.0"); !reflect.DeepEqual(got, []sdk.Format{sdk.FormatJSONDetail}) {
		t.Fatalf("formats %v", got)
	}
}

// Node: "errors if the input has no attachment", "errors if there is no url" (base or
// table), and the invalid payload check.
func TestNodeValidation(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	state := f.login("test", "lol")
	cases := []struct {
		req  *sdk.Request
		want string
	}{
		{f.request(nil, state, baseForm), "No attached json."},
		{f.request(nodeData(map[string]any{"name": "coolview.coolfield"}, "x"), state, map[string]string{}), "Missing Airtable base or table."},
		{f.request([]byte(`{"data":[{"a":{"value":1}}]}`), state, baseForm), "Request payload is an invalid format."},
	}
	for _, c := range cases {
		_, err := f.a.Execute(context.Background(), c.req)
		if e, ok := sdk.AsError(err); !ok || e.Text != c.want {
			t.Errorf("error %v, want the user error %q", err, c.want)
		}
	}
}

// Node: "sends right body" and "with label_short if present"; the reply's state holds
// the tokens in the nested shape.
func TestNodeSendsRightBody(t *testing.T) {
	for _, c := range []struct {
		field map[string]any
		key   string
	}{
		{map[string]any{"name": "coolview.coolfield", "tags": []string{"user_id"}}, "coolview.coolfield"},
		{map[string]any{"name": "coolview.coolfield", "label_short": "cool field", "label": "coolview coolfield"}, "cool field"},
		{map[string]any{"name": "coolview.coolfield", "label": "coolview coolfield"}, "coolview coolfield"},
	} {
		f := setup(t, airtablefake.Options{}, nil)
		resp := f.execute(t, f.request(nodeData(c.field, "funvalue"), f.login("test", "lol"), baseForm))
		if !resp.Success || resp.Message != "Delivered 1 of 1 rows." {
			t.Fatalf("%+v", resp)
		}
		recs := f.fake.Records("mybase", "mytable")
		if len(recs) != 1 || !reflect.DeepEqual(recs[0].Fields, map[string]any{c.key: "funvalue"}) {
			t.Fatalf("records %+v", recs)
		}
		if resp.State == nil || resp.State.Data == nil || *resp.State.Data != `{"tokens":{"refresh_token":"lol","access_token":"test"}}` {
			t.Fatalf("state %+v", resp.State)
		}
	}
}

// Node: "returns failure on airtable create error": the message carries Airtable's, the
// state is kept, and the delivery stops at once.
func TestNodeCreateError(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	state := f.login("test", "lol")
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(500)), state, map[string]string{"base": "mybase", "table": "Contacts123"}))
	s := resp.Report.Snapshot()
	if resp.Success || !strings.Contains(resp.Message, "Could not find table Contacts123 in application mybase") || s.Delivered != 0 {
		t.Fatalf("%+v %+v", resp, s)
	}
	if s.Read >= 500 {
		t.Fatalf("reading must stop at the first refusal: %+v", s)
	}
	if *resp.State.Data != state {
		t.Fatalf("state %q, want it kept", *resp.State.Data)
	}
}

// Node: encrypted state {cid,payload} works, and is given back as plain nested JSON
// when ENCRYPT_PAYLOAD_AIRTABLE is off, encrypted when it is on. Legacy flat state works.
func TestStateShapes(t *testing.T) {
	crypto := actioncrypto.New(cipherMaster)
	wrapped, err := crypto.Wrap(map[string]any{"tokens": map[string]any{"access_token": "test", "refresh_token": "lol"}})
	if err != nil {
		t.Fatal(err)
	}
	encrypted, _ := json.Marshal(wrapped)
	legacy := `{"access_token":"test","refresh_token":"lol","redirectUri":"https://hub.example/actions/airtable/oauth_redirect"}`

	for _, c := range []struct {
		state, encrypt string
		want           func(string) bool
	}{
		{string(encrypted), "", func(s string) bool { return s == `{"tokens":{"refresh_token":"lol","access_token":"test"}}` }},
		{legacy, "", func(s string) bool {
			return s == `{"tokens":{"refresh_token":"lol","access_token":"test"},"redirect":"https://hub.example/actions/airtable/oauth_redirect"}`
		}},
		{legacy, "true", func(s string) bool {
			var p actioncrypto.Payload
			var tok Tokens
			return json.Unmarshal([]byte(s), &p) == nil && p.CID == crypto.CipherID() &&
				crypto.DecryptJSON(p.Payload, &tok) == nil && tok.AccessToken == "test" && tok.RefreshToken == "lol"
		}},
	} {
		f := setup(t, airtablefake.Options{}, map[string]string{"ENCRYPT_PAYLOAD_AIRTABLE": c.encrypt})
		f.fake.Grant("test", "lol")
		resp := f.execute(t, f.request(nodeData(map[string]any{"name": "coolview.coolfield"}, "v"), c.state, baseForm))
		if !resp.Success || resp.State == nil || !c.want(*resp.State.Data) {
			t.Fatalf("state %s (encrypt %q): %+v %v", c.state, c.encrypt, resp, *resp.State.Data)
		}
		ok, _ := f.a.OAuthCheck(context.Background(), f.request(nil, c.state, nil))
		if !ok {
			t.Fatalf("OAuthCheck(%s) = false", c.state)
		}
	}
	f := setup(t, airtablefake.Options{}, nil)
	for _, state := range []string{"", "reset", "null", "{not json", `{"cid":"x","payload":"garbage"}`} {
		if ok, _ := f.a.OAuthCheck(context.Background(), f.request(nil, state, nil)); ok {
			t.Errorf("OAuthCheck(%q) = true", state)
		}
	}
}

// Node: the form has base and table and gives the state back; after the access token is
// refused it refreshes the tokens once and gives back the new ones; without a working
// login it is the login form.
func TestForm(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	state := f.login("test", "lol")
	form, err := f.a.Form(context.Background(), f.request(nil, state, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.Field{{Label: "Airtable Base", Name: "base", Required: true, Type: "string"},
		{Label: "Airtable Table", Name: "table", Required: true, Type: "string"}}
	if !reflect.DeepEqual(form.Fields, want) || *form.State.Data != state {
		t.Fatalf("form %+v state %v", form.Fields, form.State)
	}

	f.fake.ExpireAccessTokens()
	form, err = f.a.Form(context.Background(), f.request(nil, state, nil))
	if err != nil || !reflect.DeepEqual(form.Fields, want) {
		t.Fatalf("form after expiry: %+v %v", form, err)
	}
	var tok Tokens
	json.Unmarshal([]byte(*form.State.Data), &tok)
	if tok.AccessToken == "test" || tok.RefreshToken == "lol" || tok.AccessToken == "" {
		t.Fatalf("the form must give back the refreshed tokens: %+v", tok)
	}
	if refreshes, _, _ := f.fake.Stats(); refreshes != 1 {
		t.Fatalf("%d refreshes", refreshes)
	}
	ex := f.fake.Exchanges()
	if last := ex[len(ex)-1]; last.Get("grant_type") != "refresh_token" || last.Get("client_id") != clientID || last.Get("refresh_token") != "lol" {
		t.Fatalf("refresh form %v", last)
	}

	// the old refresh token was used up: now the login form
	form, err = f.a.Form(context.Background(), f.request(nil, state, nil))
	if err != nil || len(form.Fields) != 1 {
		t.Fatalf("login form expected: %+v %v", form, err)
	}
	fl := form.Fields[0]
	if fl.Name != "oauth" || fl.Type != sdk.FieldOAuthLink || fl.Label != "Login" ||
		!strings.HasPrefix(fl.OAuthURL, "https://hub.example/actions/airtable/oauth?state=") {
		t.Fatalf("login field %+v", fl)
	}
	// the link's state carries Looker's state URL and a 128-character PKCE verifier
	enc := strings.TrimPrefix(fl.OAuthURL, "https://hub.example/actions/airtable/oauth?state=")
	var st map[string]any
	if err := actioncrypto.New(cipherMaster).DecryptJSON(enc, &st); err != nil {
		t.Fatal(err)
	}
	if v, _ := st["verifier"].(string); len(v) != 128 || st["stateurl"] != "https://looker.example/state/1" {
		t.Fatalf("login state %v", st)
	}
}

func TestOAuthURLAndExchange(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	verifier := newVerifier()
	u, err := f.a.OAuthURL(context.Background(), "https://hub.example/actions/airtable/oauth_redirect", "ENCSTATE",
		map[string]any{"verifier": verifier, "stateurl": "x"})
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	if pu.Path != "/oauth2/v1/authorize" || q.Get("client_id") != clientID || q.Get("response_type") != "code" ||
		q.Get("scope") != Scope || q.Get("state") != "ENCSTATE" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") != challenge(verifier) || q.Get("redirect_uri") != "https://hub.example/actions/airtable/oauth_redirect" {
		t.Fatalf("authorize URL %s", u)
	}
	if _, err := f.a.OAuthURL(context.Background(), "r", "s", map[string]any{}); err == nil {
		t.Fatal("a state without verifier must be refused")
	}
	if _, err := f.a.OAuthUserState(context.Background(), &sdk.OAuthCallback{Code: "bogus", RedirectURI: "r",
		State: map[string]any{"verifier": verifier}}); err == nil || err.Error() != "OAuth did not work" {
		t.Fatalf("bad code: %v", err)
	}
}

func TestBatchesOfTen(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	f.a.Limits.MaxInFlight = 1
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(95)), f.login("a1", "r1"), baseForm))
	if !resp.Success || resp.Message != "Delivered 95 of 95 rows." {
		t.Fatalf("%+v", resp)
	}
	if got := f.fake.BatchSizes(); !reflect.DeepEqual(got, []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 5}) {
		t.Fatalf("batches %v", got)
	}
	nums := recordNums(t, f.fake.Records("mybase", "mytable"))
	opts := numbered(95)
	recs := f.fake.Records("mybase", "mytable")
	for i, r := range recs {
		email, _ := opts.Text(i+1, 1, 0)
		if r.Fields["Email"] != email || r.Fields["Num"] != float64(i+1) {
			t.Fatalf("record %d: %v", i, r.Fields)
		}
	}
	if len(nums) != 95 {
		t.Fatalf("%d distinct records", len(nums))
	}
}

// An expired access token is refreshed once for all the batches in flight, and the new
// tokens come back in the reply's state.
func TestRefreshDuringExecute(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	state := f.login("a1", "r1")
	f.fake.ExpireAccessTokens()
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(200)), state, baseForm))
	if !resp.Success || resp.Message != "Delivered 200 of 200 rows." {
		t.Fatalf("%+v", resp)
	}
	refreshes, _, unauthorized := f.fake.Stats()
	if refreshes != 1 || unauthorized < 1 || unauthorized > DefaultMaxInFlight {
		t.Fatalf("%d refreshes, %d refused calls", refreshes, unauthorized)
	}
	var tok Tokens
	json.Unmarshal([]byte(*resp.State.Data), &tok)
	if tok.AccessToken == "a1" || tok.RefreshToken == "r1" {
		t.Fatalf("state must hold the new tokens: %+v", tok)
	}
	if n := len(recordNums(t, f.fake.Records("mybase", "mytable"))); n != 200 {
		t.Fatalf("%d records", n)
	}
}

// A refused refresh token ends the login: the delivery stops and the state is reset so
// the next form asks to log in.
func TestRefreshRefusedResetsState(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	f.fake.Grant("a1", "r-other")
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(50)), `{"tokens":{"access_token":"expired","refresh_token":"r-unknown"}}`, baseForm))
	if resp.Success || !strings.Contains(resp.Report.Snapshot().Fatal, "log in again") || *resp.State.Data != "reset" {
		t.Fatalf("%+v %+v", resp, resp.Report.Snapshot())
	}
	if strings.Contains(resp.Message, "r-unknown") || strings.Contains(resp.Message, clientSecret) {
		t.Fatal("a secret leaked")
	}
}

func TestNoLoginResets(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(5)), "", baseForm))
	if resp.Success || *resp.State.Data != "reset" || len(f.fake.BatchSizes()) != 0 {
		t.Fatalf("%+v", resp)
	}
}

// Airtable refusing one batch's values rejects that batch's rows; the others go on.
func TestRecordRefusalRejectsBatch(t *testing.T) {
	f := setup(t, airtablefake.Options{Reject: func(fields map[string]any) (string, string) {
		if fields["Num"] == float64(25) {
			return "INVALID_VALUE_FOR_COLUMN", `Field "Num" cannot accept the provided value`
		}
		return "", ""
	}}, nil)
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(50)), f.login("a1", "r1"), baseForm))
	s := resp.Report.Snapshot()
	if resp.Success || s.Delivered != 40 || s.Rejected != 10 || s.Fatal != "" ||
		s.Rejections[0].Reason != `Field "Num" cannot accept the provided value` || s.Rejections[0].Row != 21 {
		t.Fatalf("%+v %+v", resp, s)
	}
}

// An unknown field name would fail every batch: the delivery stops at once.
func TestUnknownFieldStops(t *testing.T) {
	f := setup(t, airtablefake.Options{Fields: []string{"Num", "Email"}}, nil)
	f.a.Limits.MaxInFlight = 1
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(1000)), f.login("a1", "r1"), baseForm))
	s := resp.Report.Snapshot()
	if resp.Success || !strings.Contains(s.Fatal, `Unknown field name: "Name"`) || s.Rejected != 10 {
		t.Fatalf("%+v %+v", resp, s)
	}
}

// Error answers (429, 503) mean nothing was created: the batch is re-sent and every row
// is created exactly once. A 429 without Retry-After waits Airtable's 30 seconds.
func TestErrorAnswersRetried(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	f.a.Limits.MaxInFlight = 1
	f.fake.Faults.RetryAfter = "none"
	f.fake.Faults.Push(faults.RateLimit, faults.None, faults.ServerError, faults.ServerError)
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(100)), f.login("a1", "r1"), baseForm))
	s := resp.Report.Snapshot()
	if !resp.Success || s.Delivered != 100 || s.Retries != 3 {
		t.Fatalf("%+v %+v", resp, s)
	}
	for n, k := range recordNums(t, f.fake.Records("mybase", "mytable")) {
		if k != 1 {
			t.Fatalf("row %d created %d times", n, k)
		}
	}
	if sl := f.clock.Sleeps(); len(sl) == 0 || sl[0] != 30*time.Second {
		t.Fatalf("sleeps %v: the 429 must wait 30s", sl)
	}
}

// Failures after the request was sent (dropped connection, no answer) are ambiguous:
// the rows are not re-sent and are reported unconfirmed. Whether Airtable created them
// (after) or not (before), no row is ever created twice.
func TestAmbiguousFailuresNotResent(t *testing.T) {
	for _, k := range []faults.Kind{faults.DropAfter, faults.TimeoutAfter, faults.DropBefore, faults.TimeoutBefore} {
		f := setup(t, airtablefake.Options{}, nil)
		f.a.Limits.MaxInFlight = 1
		f.a.Limits.Timeout = 300 * time.Millisecond
		f.fake.Faults.Push(faults.None, k) // the second batch: rows 11-20
		resp := f.execute(t, f.request(rowsgen.Bytes(numbered(40)), f.login("a1", "r1"), baseForm))
		s := resp.Report.Snapshot()
		if resp.Success || s.Delivered != 30 || s.Rejected != 10 || s.Retries != 0 || s.Rejections[0].Row != 11 ||
			s.Rejections[0].Reason != unconfirmed {
			t.Fatalf("%v: %+v %+v", k, resp, s)
		}
		nums := recordNums(t, f.fake.Records("mybase", "mytable"))
		for n := 1; n <= 40; n++ {
			want := 1
			if n >= 11 && n <= 20 && !k.Committing() {
				want = 0
			}
			if nums[n] != want {
				t.Fatalf("%v: row %d created %d times, want %d", k, n, nums[n], want)
			}
		}
	}
}

// A random mix of every fault: each row counted delivered exists exactly once, each row
// reported unconfirmed at most once, and the counts add up.
func TestFaultMixNeverDuplicates(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	f.a.Limits.Timeout = 300 * time.Millisecond
	f.a.Limits.MaxInFlight = 1
	f.fake.Faults.Func = faults.Random(11, 0.4, 3, faults.RateLimit, faults.ServerError, faults.DropBefore,
		faults.DropAfter, faults.TimeoutAfter, faults.RateLimit, faults.ServerError)
	const n = 600
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(n)), f.login("a1", "r1"), baseForm))
	s := resp.Report.Snapshot()
	if s.Read != n || s.Delivered+s.Rejected != n {
		t.Fatalf("report %+v", s)
	}
	for _, r := range s.Rejections {
		if r.Reason != unconfirmed {
			t.Fatalf("rejection %+v", r)
		}
	}
	nums := recordNums(t, f.fake.Records("mybase", "mytable"))
	for row, k := range nums {
		if k > 1 {
			t.Fatalf("row %d created %d times", row, k)
		}
	}
	missing := 0
	for row := 1; row <= n; row++ {
		if nums[row] == 0 {
			missing++
		}
	}
	committedLost := (f.fake.Faults.Count(faults.DropAfter) + f.fake.Faults.Count(faults.TimeoutAfter)) * 10
	lostBefore := f.fake.Faults.Count(faults.DropBefore) * 10
	if int(s.Rejected) != committedLost+lostBefore || missing != lostBefore || int(s.Delivered) != len(nums)-committedLost {
		t.Fatalf("report %+v; fake has %d rows, %d missing; faults: %d committed-then-lost rows, %d lost-before rows",
			s, len(nums), missing, committedLost, lostBefore)
	}
	if committedLost == 0 || lostBefore == 0 || f.fake.Faults.Count(faults.RateLimit) == 0 {
		t.Fatal("the plan did not inject every kind")
	}
}

// The token bucket keeps the client within Airtable's 5 requests per second per base.
func TestRateLimitRespected(t *testing.T) {
	f := setup(t, airtablefake.Options{RateLimit: true}, nil)
	f.a.Limits.Clock = nil
	// 1 + 3 = 4 requests in any second, one under Airtable's 5: slack for arrivals
	// bunched by a busy machine (DefaultRate leaves none)
	f.a.Limits.Rate, f.a.Limits.Burst = 3, 1
	start := time.Now()
	resp := f.execute(t, f.request(rowsgen.Bytes(numbered(80)), f.login("a1", "r1"), baseForm))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	if _, limited, _ := f.fake.Stats(); limited != 0 {
		t.Fatalf("%d requests over Airtable's limit", limited)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Fatalf("8 requests at 3/s took %v", el)
	}
}

func TestMissingAndPivotedCells(t *testing.T) {
	f := setup(t, airtablefake.Options{}, nil)
	data := []byte(`{"fields":{"dimensions":[{"name":"a.x","label_short":"X"},{"name":"a.y","label_short":"Y"}],
	 "measures":[{"name":"m.c","label_short":"C"}]},
	 "pivots":[{"key":"p1","data":{}}],
	 "data":[{"a.x":{"value":"only x"},"m.c":{"p1":{"value":3}}},{"a.x":{"value":null},"a.y":{"value":true}}]}`)
	resp := f.execute(t, f.request(data, f.login("a1", "r1"), baseForm))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	recs := f.fake.Records("mybase", "mytable")
	if len(recs) != 2 || !reflect.DeepEqual(recs[0].Fields, map[string]any{"X": "only x"}) ||
		!reflect.DeepEqual(recs[1].Fields, map[string]any{"X": nil, "Y": true}) {
		t.Fatalf("records %+v", recs)
	}
}

func TestRateLimitVariable(t *testing.T) {
	for v, want := range map[string]float64{"": DefaultRate, "0": 0, "10": 9, "5": DefaultRate} {
		vars := map[string]string{"AIRTABLE_CLIENT_ID": "x", "AIRTABLE_CLIENT_SECRET": "y", RateLimitVar: v}
		a, err := New(&sdk.Env{Getenv: func(k string) string { return vars[k] }})
		if err != nil || a.Limits.Rate != want {
			t.Fatalf("%s=%q: %+v %v", RateLimitVar, v, a, err)
		}
		if a.APIURL != DefaultAPIURL || a.AuthURL != DefaultAuthURL {
			t.Fatalf("default URLs %s %s", a.APIURL, a.AuthURL)
		}
	}
	vars := map[string]string{"AIRTABLE_CLIENT_ID": "x", "AIRTABLE_CLIENT_SECRET": "y", RateLimitVar: "fast"}
	if _, err := New(&sdk.Env{Getenv: func(k string) string { return vars[k] }}); err == nil {
		t.Fatal("a non-number must be refused")
	}
}
