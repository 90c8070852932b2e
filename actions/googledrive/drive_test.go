package googledrive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	googlefake "github.com/actionhub/actionhub/internal/fakes/google"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

const cipherMaster = "281243e09385f19773569e4d99d306065efb0cf0f6e3ca4c705571c173722c99"

const redirect = "https://hub.example.com/actions/google_drive/oauth_redirect"

type fixture struct {
	fake *googlefake.Server
	env  *sdk.Env
	act  *Action
}

func setup(t *testing.T, extra map[string]string) *fixture {
	t.Helper()
	fake := googlefake.New(t, "cid.apps.googleusercontent.com", "csecret")
	vars := fake.Env()
	for k, v := range extra {
		vars[k] = v
	}
	env := &sdk.Env{BaseURL: "https://hub.example.com", Getenv: func(k string) string { return vars[k] },
		Crypto: actioncrypto.New(cipherMaster), Logger: slog.New(slog.DiscardHandler)}
	a, err := New(env)
	if err != nil {
		t.Fatal(err)
	}
	act := a.(*Action)
	act.Retry.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	act.ChunkSize = ResumableChunkMultiple
	return &fixture{fake: fake, env: env, act: act}
}

func (f *fixture) tokens() map[string]any {
	return f.fake.IssueTokens("user@example.com", ScopeDrive+" "+ScopeEmail)
}

func stateJSON(t *testing.T, tokens map[string]any) string {
	b, err := json.Marshal(TokenPayload{Tokens: tokens, Redirect: redirect})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) req(t *testing.T, state string, params, form map[string]any, data string) *sdk.Request {
	t.Helper()
	d := map[string]any{"state_url": "https://looker.example.com/action_hub_state/abc"}
	for k, v := range params {
		d[k] = v
	}
	if state != "" {
		d["state_json"] = state
	}
	body := map[string]any{"type": "query", "data": d, "form_params": form}
	if data != "" {
		body["attachment"] = map[string]any{"mimetype": "text/csv", "extension": "csv", "data": data}
	}
	b, _ := json.Marshal(body)
	r, err := sdk.DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	r.Env, r.ActionName, r.WebhookID = f.env, Name, "hook123"
	return r
}

func readState(t *testing.T, env *sdk.Env, st *sdk.State) TokenPayload {
	t.Helper()
	if st == nil || st.Data == nil {
		t.Fatal("no state")
	}
	r := &sdk.Request{Params: map[string]string{"state_json": *st.Data}, Env: env}
	var p TokenPayload
	if !r.OAuthTokens(&p) {
		t.Fatalf("unreadable state %s", *st.Data)
	}
	return p
}

func TestNotConfigured(t *testing.T) {
	if _, err := New(&sdk.Env{Getenv: func(string) string { return "" }}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatal(err)
	}
}

func TestDefinition(t *testing.T) {
	f := setup(t, nil)
	d := f.act.Definition()
	if d.Name != "google_drive" || d.Label != "Google Drive" || !d.Streaming || d.MinimumLookerVersion != "7.3.0" ||
		d.SupportedFormats != nil || len(d.Params) != 1 || d.Params[0].Name != "domain_allowlist" || d.Params[0].Sensitive {
		t.Fatalf("%+v", d)
	}
	if _, ok := sdk.Action(f.act).(sdk.OAuthV2Action); !ok {
		t.Fatal("google_drive is OAuth v2")
	}
}

func TestOAuthURL(t *testing.T) {
	f := setup(t, nil)
	u, err := f.act.OAuthURL(context.Background(), redirect, "1043022state", nil)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	if !strings.HasPrefix(u, f.fake.URL+"/o/oauth2/auth?") || q.Get("access_type") != "offline" || q.Get("prompt") != "consent" ||
		q.Get("scope") != ScopeDrive+" "+ScopeEmail || q.Get("state") != "1043022state" || q.Get("redirect_uri") != redirect ||
		q.Get("client_id") != "cid.apps.googleusercontent.com" || q.Get("response_type") != "code" {
		t.Fatalf("%s", u)
	}
	// without the override, Google's own endpoint
	b := NewBase(&sdk.Env{Getenv: func(string) string { return "" }}, Name, LogPrefix, "id", "secret", []string{ScopeDrive})
	u, _ = b.OAuthURL(context.Background(), redirect, "s", nil)
	if !strings.HasPrefix(u, "https://accounts.google.com/o/oauth2/auth?") {
		t.Fatalf("%s", u)
	}
}

func TestOAuthExchange(t *testing.T) {
	f := setup(t, map[string]string{"ENCRYPT_PAYLOAD": "true"})
	if !f.act.EncryptState() {
		t.Fatal("ENCRYPT_PAYLOAD=true must encrypt")
	}
	code := f.fake.IssueCode(redirect, ScopeDrive)
	v, err := f.act.OAuthExchange(context.Background(), code, redirect)
	if err != nil {
		t.Fatal(err)
	}
	tok := v.(map[string]any)
	if tok["access_token"] == "" || tok["refresh_token"] == "" || tok["expiry_date"] == nil || tok["scope"] != ScopeDrive {
		t.Fatalf("%v", tok)
	}
	if _, err := f.act.OAuthExchange(context.Background(), code, redirect); err == nil {
		t.Fatal("code used twice")
	}
	f.fake.NoRefreshToken = true
	_, err = f.act.OAuthExchange(context.Background(), f.fake.IssueCode(redirect, ScopeDrive), redirect)
	if err == nil || err.Error() != "OAuth tokens are invalid." {
		t.Fatalf("got %v", err)
	}
	f.fake.NoRefreshToken = false
	st, err := f.act.OAuthUserState(context.Background(), &sdk.OAuthCallback{Code: f.fake.IssueCode(redirect, ScopeDrive), RedirectURI: redirect})
	if err != nil || st.(TokenPayload).Redirect != redirect || st.(TokenPayload).Tokens["refresh_token"] == nil {
		t.Fatalf("%v %v", st, err)
	}
}

func TestNodeEncryptedStateVector(t *testing.T) {
	// requests/07 and crypto.json state_json_vectors[google_drive_tokens]
	f := setup(t, nil)
	state := `{"cid":"fcd3b1e90ba8910c45fb1d138fa1c7fc1b8a839e1a1d4f328ce1faec11a9dc1c","payload":"1043022sMlFyvqzvqnkAIBsI2oykgGDjBFoFR9xQ8pNKvTW6u-qABfUTaO0ZYLXTnfXW0PRg9FbroD7qaGGc8aI2G36VnSQgq1H2t24TXl_4UyLI0qQdh1T_1hFOtZ1uPfl6tx-S_IZaPx_RHp73dsVSv0kFP5c1jZbhgIQuE7wZStUDNJB-hU_5sTdqrbOsaTwPVgde4udC7dvhYuru8mFhA-q7AXJbuoNLU1STc2r9jFXmSgl9l5l8JFQC9e0N6Qi3Eal0uN-jyrh1lhmqtbNEScz5bj6Wb7GCoX4EPio2zWnNlbWUSyqZU_DxTNFR-5nStyReizbdpn7VBfuZ4_LTZJSh4rOkHRfm3IJs2exNyJbV30xEa4QbIbssYhQzbsAVfl9IbPkcG3b4Hg8yzodW2XRD_V5dzNzBola-iyVjlPuHlbtTl5Y8utIp5XYQMbofD_eR974jwKHTAXr5VnO7eQ4HtF79eFAw1TmcifSp-ohG"}`
	s, err := f.act.Session(f.req(t, state, nil, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	if s.payload.Redirect != "https://actionhub.example.com/actions/google_drive/oauth_redirect" ||
		s.tok.AccessToken != "ya29.a0AfH6SMBexample" || s.tok.RefreshToken != "1//0gExampleRefreshToken" ||
		s.tok.Expiry.UnixMilli() != 1700000000000 {
		t.Fatalf("%+v %+v", s.payload, s.tok)
	}
	// Those tokens are unknown to Google: the form asks for a new login and clears the state.
	form, err := f.act.Form(context.Background(), f.req(t, state, nil, map[string]any{"drive": "mydrive"}, ""))
	if err != nil || len(form.Fields) != 1 || form.Fields[0].Type != sdk.FieldOAuthLinkGoogle || *form.State.Data != "reset" {
		t.Fatalf("%v %+v", err, form)
	}
}

func TestFormLoggedIn(t *testing.T) {
	f := setup(t, nil)
	f.fake.AddSharedDrive("0ATeam", "Team Drive")
	tok := f.tokens()
	form, err := f.act.Form(context.Background(), f.req(t, stateJSON(t, tok), nil, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fl := range form.Fields {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "drive,folderid,fetchpls,filename" {
		t.Fatalf("%v", names)
	}
	d := form.Fields[0]
	if d.Default != "mydrive" || !d.Interactive || len(d.Options) != 2 || d.Options[1] != (sdk.Option{Name: "0ATeam", Label: "Team Drive"}) {
		t.Fatalf("%+v", d)
	}
	if form.Fields[1].Label != "Google Drive Destination URL" || form.Fields[3].Label != "Enter a filename" {
		t.Fatalf("%+v", form.Fields)
	}
	p := readState(t, f.env, form.State)
	if p.Tokens["access_token"] != tok["access_token"] || p.Redirect != redirect || strings.Contains(*form.State.Data, "cid") {
		t.Fatalf("%s", *form.State.Data)
	}
}

func TestFormFetchFoldersOfSharedDrive(t *testing.T) {
	f := setup(t, map[string]string{"ENCRYPT_PAYLOAD": "true"})
	f.fake.AddSharedDrive("0ATeam", "Team Drive")
	f.fake.AddFolder("fMine", "Mine", "")
	f.fake.AddFolder("fTeam", "Team folder", "0ATeam")
	form, err := f.act.Form(context.Background(), f.req(t, stateJSON(t, f.tokens()), nil,
		map[string]any{"drive": "0ATeam", "fetchpls": "fetch"}, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(form.Fields) != 3 || form.Fields[1].Name != "folder" {
		t.Fatalf("%+v", form.Fields)
	}
	opts := form.Fields[1].Options
	if len(opts) != 2 || opts[0] != (sdk.Option{Name: "root", Label: "Drive Root"}) || opts[1].Name != "fTeam" {
		t.Fatalf("%+v", opts)
	}
	calls := f.fake.Calls("files.list")
	u, _ := url.Parse(calls[len(calls)-1].URL)
	if u.Query().Get("corpora") != "drive" || u.Query().Get("driveId") != "0ATeam" || u.Query().Get("orderBy") != "recency desc" {
		t.Fatalf("%s", calls[len(calls)-1].URL)
	}
	if !strings.Contains(*form.State.Data, `"cid"`) {
		t.Fatal("ENCRYPT_PAYLOAD=true must store {cid,payload}")
	}
}

func TestLoginForm(t *testing.T) {
	f := setup(t, nil)
	for _, v2 := range []bool{false, true} {
		r := f.req(t, "", map[string]any{"state_redir_url": "https://looker.example.com/redir/1"}, nil, "")
		r.SetOAuthV2(v2)
		form, err := f.act.Form(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		fl := form.Fields[0]
		if len(form.Fields) != 1 || fl.Type != sdk.FieldOAuthLinkGoogle || !strings.Contains(fl.Description, "hook123") ||
			!strings.HasPrefix(fl.OAuthURL, "https://hub.example.com/actions/google_drive/oauth?state=") {
			t.Fatalf("%+v", form)
		}
		u, _ := url.Parse(fl.OAuthURL)
		var st map[string]string
		if err := f.env.Crypto.DecryptJSON(u.Query().Get("state"), &st); err != nil {
			t.Fatal(err)
		}
		if v2 && st["tokenurl"] != "https://looker.example.com/redir/1" || !v2 && st["stateurl"] == "" {
			t.Fatalf("v2=%v: %v", v2, st)
		}
	}
}

func TestDomainAllowlist(t *testing.T) {
	if !EmailInDomains("a@Facts.com", ParseAllowlist(" @facts.com, car.com ")) || EmailInDomains("a@evilfacts.com", ParseAllowlist("facts.com")) ||
		EmailInDomains("nobody", ParseAllowlist("facts.com")) || len(ParseAllowlist(" , ")) != 0 {
		t.Fatal("allowlist matching")
	}
	f := setup(t, nil)
	tok := f.tokens()
	form, err := f.act.Form(context.Background(), f.req(t, stateJSON(t, tok), map[string]any{"domain_allowlist": "example.com"}, nil, ""))
	if err != nil || len(form.Fields) != 4 {
		t.Fatalf("allowed user: %v %+v", err, form)
	}
	form, err = f.act.Form(context.Background(), f.req(t, stateJSON(t, tok), map[string]any{"domain_allowlist": "ample.com"}, nil, ""))
	if err != nil || len(form.Fields) != 1 || *form.State.Data != "reset" {
		t.Fatalf("suffix must not match: %v %+v", err, form)
	}
	resp, err := f.act.Execute(context.Background(), f.req(t, stateJSON(t, tok), map[string]any{"domain_allowlist": "other.com"},
		map[string]any{"filename": "x.csv"}, "a,b"))
	if err != nil || resp.Success || resp.Message != "User Domain validation failed" || *resp.State.Data != "reset" {
		t.Fatalf("%v %+v", err, resp)
	}
	if len(f.fake.Calls("upload.start")) != 0 {
		t.Fatal("uploaded despite a failed domain check")
	}
}

func TestExecuteSmall(t *testing.T) {
	f := setup(t, nil)
	f.fake.AddFolder("fid", "Reports", "")
	resp, err := f.act.Execute(context.Background(), f.req(t, stateJSON(t, f.tokens()), nil,
		map[string]any{"filename": "out.csv", "folder": "fid"}, "a,b\n1,2\n"))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	files := f.fake.Files()
	if len(files) != 1 || files[0].Name != "out.csv" || files[0].MimeType != "text/csv" || files[0].Parents[0] != "fid" ||
		string(files[0].Content) != "a,b\n1,2\n" {
		t.Fatalf("%+v", files)
	}
	start := f.fake.Calls("upload.start")[0]
	if start.Header.Get("X-Upload-Content-Type") != "text/csv" || !strings.HasPrefix(start.Auth, "Bearer ya29.") {
		t.Fatalf("%+v", start)
	}
	if resp.State != nil {
		t.Fatal("no refresh, no state")
	}
}

func TestExecuteChunkedWithFaults(t *testing.T) {
	f := setup(t, nil)
	data := bytes.Repeat([]byte("0123456789abcdef"), (4*ResumableChunkMultiple+123)/16+1)[:4*ResumableChunkMultiple+123]
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer dl.Close()
	f.fake.FailNext("upload.chunk", 503)  // first chunk: not received, retried
	f.fake.FailAfter("upload.chunk", 500) // a chunk received but its answer lost
	r := f.req(t, stateJSON(t, f.tokens()), nil, map[string]any{"filename": "big.bin"}, "")
	r.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: dl.URL}
	resp, err := f.act.Execute(context.Background(), r)
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	files := f.fake.Files()
	if len(files) != 1 || !bytes.Equal(files[0].Content, data) {
		t.Fatalf("content mismatch")
	}
	var ranges []string
	for _, c := range f.fake.Calls("upload.chunk") {
		ranges = append(ranges, c.Header.Get("Content-Range")+"="+http.StatusText(c.Status))
	}
	want := []string{
		"bytes 0-262143/*=Service Unavailable", "bytes */*=Permanent Redirect", "bytes 0-262143/*=Internal Server Error",
		"bytes */*=Permanent Redirect", "bytes 262144-524287/*=Permanent Redirect", "bytes 524288-786431/*=Permanent Redirect", "bytes 786432-1048575/*=Permanent Redirect", "bytes 1048576-1048698/1048699=OK",
	}
	if strings.Join(ranges, "\n") != strings.Join(want, "\n") {
		t.Fatalf("chunks:\n%s", strings.Join(ranges, "\n"))
	}
}

func TestExecuteExactChunkMultiple(t *testing.T) {
	f := setup(t, nil)
	data := strings.Repeat("x", 2*ResumableChunkMultiple)
	resp, err := f.act.Execute(context.Background(), f.req(t, stateJSON(t, f.tokens()), nil, map[string]any{"filename": "even.csv"}, data))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	calls := f.fake.Calls("upload.chunk")
	if last := calls[len(calls)-1]; last.Header.Get("Content-Range") != "bytes */524288" || last.Status != 200 {
		t.Fatalf("%+v", last)
	}
	if len(f.fake.Files()[0].Content) != len(data) {
		t.Fatal("size")
	}
}

func TestCutDownloadCreatesNothing(t *testing.T) {
	f := setup(t, nil)
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5000000")
		w.Write(bytes.Repeat([]byte("z"), 700_000))
		w.(http.Flusher).Flush()
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	}))
	defer dl.Close()
	r := f.req(t, stateJSON(t, f.tokens()), nil, map[string]any{"filename": "cut.csv"}, "")
	r.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: dl.URL}
	resp, err := f.act.Execute(context.Background(), r)
	if err != nil || resp.Success || !strings.Contains(resp.Message, "Upload aborted, nothing was saved to Google Drive") ||
		!strings.Contains(resp.Message, "after 700000 bytes") {
		t.Fatalf("%v %+v", err, resp)
	}
	if len(f.fake.Files()) != 0 || f.fake.OpenSessions() != 0 || len(f.fake.Calls("upload.cancel")) != 1 {
		t.Fatalf("files %d sessions %d", len(f.fake.Files()), f.fake.OpenSessions())
	}
}

func TestExpiredTokenRefreshed(t *testing.T) {
	f := setup(t, nil)
	tok := f.tokens()
	f.fake.ExpireAccessTokens()
	// 1. expiry_date in the past: refreshed before the first call
	past := map[string]any{}
	for k, v := range tok {
		past[k] = v
	}
	past["expiry_date"] = float64(time.Now().Add(-time.Minute).UnixMilli())
	resp, err := f.act.Execute(context.Background(), f.req(t, stateJSON(t, past), nil, map[string]any{"filename": "a.csv"}, "x"))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	p := readState(t, f.env, resp.State)
	if p.Tokens["access_token"] == tok["access_token"] || p.Tokens["refresh_token"] != tok["refresh_token"] || p.Redirect != redirect ||
		p.Tokens["scope"] != tok["scope"] {
		t.Fatalf("%+v", p)
	}
	if n := len(f.fake.Calls("upload.start")); n != 1 {
		t.Fatalf("%d starts", n)
	}
	// 2. expiry_date in the future but Google says 401: refreshed once and replayed
	resp, err = f.act.Execute(context.Background(), f.req(t, stateJSON(t, tok), nil, map[string]any{"filename": "b.csv"}, "y"))
	if err != nil || !resp.Success || resp.State == nil {
		t.Fatalf("%v %+v", err, resp)
	}
	if len(f.fake.Files()) != 2 {
		t.Fatal("second file missing")
	}
}

func TestRevokedLoginResets(t *testing.T) {
	f := setup(t, nil)
	tok := f.tokens()
	f.fake.ExpireAccessTokens()
	f.fake.RevokeRefreshTokens()
	resp, err := f.act.Execute(context.Background(), f.req(t, stateJSON(t, tok), nil, map[string]any{"filename": "a.csv"}, "x"))
	if err != nil || resp.Success || resp.State == nil || *resp.State.Data != "reset" || !strings.Contains(resp.Message, "invalid_grant") {
		t.Fatalf("%v %+v", err, resp)
	}
	if strings.Contains(resp.Message, tok["refresh_token"].(string)) || strings.Contains(resp.Message, "csecret") {
		t.Fatal("secret in message")
	}
}

func TestNoState(t *testing.T) {
	f := setup(t, nil)
	resp, err := f.act.Execute(context.Background(), f.req(t, "", nil, map[string]any{"filename": "a.csv"}, "x"))
	if err != nil || resp.Success || resp.Message != "No state found with oauth credentials." || *resp.State.Data != "reset" {
		t.Fatalf("%v %+v", err, resp)
	}
	resp, _ = f.act.Execute(context.Background(), f.req(t, `{"tokens":"access","redirect":"url"}`, nil, map[string]any{"filename": "a.csv"}, "x"))
	if resp.Success || resp.Message != "Request did not have necessary oauth tokens saved. Fast failing" {
		t.Fatalf("%+v", resp)
	}
}

func TestSharedDriveRootAndAPIError(t *testing.T) {
	f := setup(t, nil)
	f.fake.AddSharedDrive("0ATeam", "Team")
	tok := f.tokens()
	resp, err := f.act.Execute(context.Background(), f.req(t, stateJSON(t, tok), nil, map[string]any{"filename": "t.csv", "drive": "0ATeam"}, "x"))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	if fl := f.fake.Files(); fl[0].Parents[0] != "0ATeam" || fl[0].DriveID != "0ATeam" {
		t.Fatalf("%+v", fl)
	}
	if u := f.fake.Calls("upload.start")[0].URL; !strings.Contains(u, "supportsAllDrives=true") {
		t.Fatal(u)
	}
	resp, err = f.act.Execute(context.Background(), f.req(t, stateJSON(t, tok), nil,
		map[string]any{"filename": "t.csv", "folderid": "https://drive.google.com/drive/folders/missing?usp=sharing"}, "x"))
	if err != nil || resp.Success || resp.Message != "File not found: missing." || resp.Error == nil || resp.Error.HTTPCode != 404 ||
		resp.Error.StatusCode != "NOT_FOUND" || resp.Error.Message != "Specified resource is not found. [GOOGLE_DRIVE] File not found: missing." {
		t.Fatalf("%v %+v %+v", err, resp, resp.Error)
	}
	if resp.State != nil {
		t.Fatal("a missing folder must not reset the login")
	}
}

func TestDestinationAndMime(t *testing.T) {
	cases := []struct {
		form           map[string]string
		parent, shared string
	}{
		{map[string]string{"folderid": "https://drive.google.com/drive/my-drive"}, "root", ""},
		{map[string]string{"folderid": "https://drive.google.com/corp/drive/folders/abc123?x=1"}, "abc123", ""},
		{map[string]string{"folderid": "not a url", "folder": "ignored"}, "root", ""},
		{map[string]string{"folder": "f1", "drive": "mydrive"}, "f1", ""},
		{map[string]string{"drive": "0AD"}, "0AD", "0AD"},
		{map[string]string{}, "", ""},
	}
	for _, c := range cases {
		p, s := Destination(&sdk.Request{FormParams: c.form})
		if p != c.parent || s != c.shared {
			t.Errorf("%v: %q %q", c.form, p, s)
		}
	}
	r := &sdk.Request{FormParams: map[string]string{"format": "xlsx"}}
	if MimeType(r) != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Fatal(MimeType(r))
	}
	r.Attachment = &sdk.Attachment{MimeType: "image/png;base64"}
	if MimeType(r) != "image/png" {
		t.Fatal(MimeType(r))
	}
	if MimeType(&sdk.Request{FormParams: map[string]string{"format": "wysiwyg_pdf"}}) != "" {
		t.Fatal("unknown format")
	}
}

func TestOAuthCheck(t *testing.T) {
	f := setup(t, nil)
	ok, err := f.act.OAuthCheck(context.Background(), f.req(t, stateJSON(t, f.tokens()), nil, nil, ""))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	ok, _ = f.act.OAuthCheck(context.Background(), f.req(t, "", nil, nil, ""))
	if ok {
		t.Fatal("no state passed")
	}
}
