package dropbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	dropboxfake "github.com/actionhub/actionhub/internal/fakes/dropbox"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

const cipherMaster = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

type fixture struct {
	fake *dropboxfake.Server
	env  *sdk.Env
	act  *Action
}

func setup(t *testing.T, extra map[string]string) *fixture {
	t.Helper()
	fake := dropboxfake.New(t, "appkey", "appsecret")
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
	act.RetryDelay = time.Millisecond
	return &fixture{fake: fake, env: env, act: act}
}

func (f *fixture) req(t *testing.T, state string, form map[string]any, data string) *sdk.Request {
	t.Helper()
	d := map[string]any{"state_url": "https://looker.example.com/action_hub_state/abc"}
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
	r.Env, r.ActionName = f.env, Name
	return r
}

func plainState(access, refresh string) string {
	b, _ := json.Marshal(map[string]any{"access_token": access, "refresh_token": refresh})
	return string(b)
}

func stateTokens(t *testing.T, env *sdk.Env, st *sdk.State) map[string]any {
	t.Helper()
	if st == nil || st.Data == nil {
		t.Fatal("no state returned")
	}
	r := &sdk.Request{Params: map[string]string{"state_json": *st.Data}, Env: env}
	var m map[string]any
	if !r.OAuthTokens(&m) {
		t.Fatalf("state %q unreadable", *st.Data)
	}
	return m
}

func TestNotConfigured(t *testing.T) {
	_, err := New(&sdk.Env{Getenv: func(string) string { return "" }})
	if !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatalf("got %v", err)
	}
}

func TestDefinition(t *testing.T) {
	f := setup(t, nil)
	d := f.act.Definition()
	if d.Name != "dropbox" || d.Label != "Dropbox" || d.Streaming || d.MinimumLookerVersion != "6.8.0" ||
		len(d.SupportedActionTypes) != 2 || d.SupportedFormats != nil || d.Params == nil || len(d.Params) != 0 {
		t.Fatalf("%+v", d)
	}
	if !sdk.UsesOAuth(f.act) {
		t.Fatal("must be an OAuth action")
	}
	if _, v2 := sdk.Action(f.act).(sdk.OAuthV2Action); v2 {
		t.Fatal("dropbox is OAuth v1")
	}
}

func TestOAuthURL(t *testing.T) {
	f := setup(t, nil)
	f.act.www = "https://www.dropbox.com"
	u, err := f.act.OAuthURL(context.Background(), "https://hub.example.com/actions/dropbox/oauth_redirect", "1043022abc_-", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://www.dropbox.com/oauth2/authorize?response_type=code&client_id=appkey" +
		"&redirect_uri=https%3A%2F%2Fhub.example.com%2Factions%2Fdropbox%2Foauth_redirect&force_reapprove=true" +
		"&state=1043022abc_-&token_access_type=offline"
	if u != want {
		t.Fatalf("got\n%s\nwant\n%s", u, want)
	}
}

func TestOAuthUserStateExchangesCodeAtOnce(t *testing.T) {
	f := setup(t, nil)
	redirect := "https://hub.example.com/actions/dropbox/oauth_redirect"
	code := f.fake.IssueCode(redirect)
	v, err := f.act.OAuthUserState(context.Background(), &sdk.OAuthCallback{Code: code, RedirectURI: redirect})
	if err != nil {
		t.Fatal(err)
	}
	tok := v.(userTokens)
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.ExpiresAt <= time.Now().Unix() {
		t.Fatalf("%+v", tok)
	}
	// a code works once
	_, err = f.act.OAuthUserState(context.Background(), &sdk.OAuthCallback{Code: code, RedirectURI: redirect})
	if err == nil {
		t.Fatal("code reused")
	}
	if strings.Contains(err.Error(), "appsecret") {
		t.Fatal("secret in error")
	}
}

func TestFormListsFoldersRecursively(t *testing.T) {
	f := setup(t, nil)
	f.fake.AddFolder("/Reports/2024")
	f.fake.AddFolder("/archive")
	access, _ := f.fake.IssueTokens()
	form, err := f.act.Form(context.Background(), f.req(t, `{"access_token":"`+access+`"}`, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(form.Fields) != 3 || form.Fields[0].Name != "directory" || form.Fields[1].Name != "filename" ||
		form.Fields[2].Name != "includeTimestamp" || form.Fields[2].Default != "no" {
		t.Fatalf("%+v", form.Fields)
	}
	var names []string
	for _, o := range form.Fields[0].Options {
		names = append(names, o.Name+"="+o.Label)
	}
	if strings.Join(names, ",") != "__root=Home,archive=archive,Reports=Reports,Reports/2024=Reports/2024" {
		t.Fatalf("options %v", names)
	}
	if form.State != nil {
		t.Fatal("state changed without a refresh")
	}
}

func TestFormTruncatedListingKeepsTopLevel(t *testing.T) {
	f := setup(t, nil)
	// 10,500 sub-folders sort before "/zzz": the recursive listing (5 pages of 2,000) is cut before it.
	for j := 0; j < 10500; j++ {
		f.fake.AddFolder(fmt.Sprintf("/a/x%05d", j))
	}
	f.fake.AddFolder("/zzz")
	access, _ := f.fake.IssueTokens()
	form, err := f.act.Form(context.Background(), f.req(t, `{"access_token":"`+access+`"}`, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	opts := form.Fields[0].Options
	if len(opts) != 1+2+maxFolderOptions {
		t.Fatalf("%d options", len(opts))
	}
	if opts[1].Name != "a" || opts[len(opts)-1].Name != "zzz" {
		t.Fatalf("first %v last %v", opts[1], opts[len(opts)-1])
	}
	if n := len(f.fake.Calls("/2/files/list_folder/continue")); n != maxListPages-1 {
		t.Fatalf("%d continue calls", n)
	}
}

func TestFormLegacyEncryptedCodeIsExchangedAndStateReturned(t *testing.T) {
	f := setup(t, map[string]string{"ENCRYPT_PAYLOAD_DROPBOX": "true"})
	// crypto.json state_json_vectors "dropbox_code_redirect": a Node-written {cid,payload} of {code, redirect}
	f.fake.AddCode("sl.ExampleDropboxCode", "https://actionhub.example.com/actions/dropbox/oauth_redirect")
	state := `{"cid":"630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd","payload":"10430223i5i8aQN7_FSmpOooDg2YgnPrvy5CeUFgjx9XXartmxHx7JzIexw7LrsLyxML2PF4UEqaDj52cmjrRtbgt0XwZEsONekfkksuMw4L7BK5kMLTvVYvhCnWodtRiWUhy8Z20b-4Ox-JC4xGhQfDmSwt2HkOSShYBbPjqUigQ0Ef13kyn8C2Q-nSy7vVLUySVlRBK8iCRoACV3dbEg"}`
	form, err := f.act.Form(context.Background(), f.req(t, state, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(form.Fields) != 3 {
		t.Fatalf("login form instead of fields: %+v", form.Fields)
	}
	if !strings.Contains(*form.State.Data, `"cid"`) {
		t.Fatalf("state not encrypted: %s", *form.State.Data)
	}
	tok := stateTokens(t, f.env, form.State)
	if tok["access_token"] == "" || tok["refresh_token"] == "" {
		t.Fatalf("%v", tok)
	}
}

func TestFormLoginWhenNoUsableState(t *testing.T) {
	f := setup(t, nil)
	for _, st := range []string{"", "reset", "{bad json", `{"access_token":"unknown"}`} {
		form, err := f.act.Form(context.Background(), f.req(t, st, nil, ""))
		if err != nil {
			t.Fatal(err)
		}
		if len(form.Fields) != 1 || form.Fields[0].Type != sdk.FieldOAuthLink || form.Fields[0].Label != "Log in" {
			t.Fatalf("%q: %+v", st, form.Fields)
		}
		u, err := url.Parse(form.Fields[0].OAuthURL)
		if err != nil || !strings.HasPrefix(form.Fields[0].OAuthURL, "https://hub.example.com/actions/dropbox/oauth?state=") {
			t.Fatalf("oauth_url %s", form.Fields[0].OAuthURL)
		}
		var payload map[string]string
		if err := f.env.Crypto.DecryptJSON(u.Query().Get("state"), &payload); err != nil ||
			payload["stateurl"] != "https://looker.example.com/action_hub_state/abc" {
			t.Fatalf("state %v %v", payload, err)
		}
		if form.State == nil || form.State.Data != nil {
			t.Fatalf("state must be {}: %+v", form.State)
		}
	}
}

func TestExecuteSingleUpload(t *testing.T) {
	f := setup(t, nil)
	f.fake.AddFolder("/Reports")
	access, _ := f.fake.IssueTokens()
	f.act.Now = func() time.Time { return time.UnixMilli(1700000000123) }
	resp, err := f.act.Execute(context.Background(), f.req(t, plainState(access, ""),
		map[string]any{"directory": "Reports", "filename": "daily", "includeTimestamp": "yes"}, "a,b\n1,2\n"))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	got, ok := f.fake.File("/Reports/daily1700000000123.csv")
	if !ok || string(got) != "a,b\n1,2\n" {
		t.Fatalf("files %v", f.fake.Files())
	}
	if len(f.fake.Calls("/2/files/upload")) != 1 || len(f.fake.Calls("/2/files/upload_session/start")) != 0 {
		t.Fatal("small file should be one upload")
	}
	arg := f.fake.Calls("/2/files/upload")[0].Arg
	if arg["mode"] != "add" || arg["autorename"] != false {
		t.Fatalf("arg %v", arg)
	}
	if resp.State != nil {
		t.Fatal("no state change expected")
	}
}

func TestExecuteUnicodeNameAndRoot(t *testing.T) {
	f := setup(t, nil)
	access, _ := f.fake.IssueTokens()
	resp, err := f.act.Execute(context.Background(), f.req(t, plainState(access, ""),
		map[string]any{"directory": "__root", "filename": "Ventes été 😀"}, "x"))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	if _, ok := f.fake.File("/Ventes été 😀.csv"); !ok {
		t.Fatalf("files %v", f.fake.Files())
	}
}

func TestExecuteUploadSessionWithRetries(t *testing.T) {
	f := setup(t, nil)
	access, _ := f.fake.IssueTokens()
	f.act.ChunkSize = 1000
	data := bytes.Repeat([]byte("0123456789"), 450) // 4500 bytes: start, 3 appends, finish with 500
	f.fake.FailNext("/2/files/upload_session/append_v2", 503)
	f.fake.FailAfter("/2/files/upload_session/append_v2", 500) // Dropbox got it, the answer was lost
	f.fake.FailNext("/2/files/upload_session/finish", 429)
	resp, err := f.act.Execute(context.Background(), f.req(t, plainState(access, ""),
		map[string]any{"filename": "big"}, string(data)))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	got, _ := f.fake.File("/big.csv")
	if !bytes.Equal(got, data) {
		t.Fatalf("content differs: %d bytes", len(got))
	}
	var offsets []float64
	for _, c := range f.fake.Calls("/2/files/upload_session/append_v2") {
		if c.Status == 200 {
			offsets = append(offsets, c.Arg["cursor"].(map[string]any)["offset"].(float64))
		}
	}
	if len(offsets) != 2 || offsets[0] != 2000 || offsets[1] != 3000 {
		// offset 1000 was answered 500 after being applied, then the retry got incorrect_offset
		t.Fatalf("appends at %v", offsets)
	}
	fin := f.fake.Calls("/2/files/upload_session/finish")
	last := fin[len(fin)-1]
	if last.Status != 200 || last.Arg["cursor"].(map[string]any)["offset"].(float64) != 4000 || last.Size != 500 ||
		last.Arg["commit"].(map[string]any)["path"] != "/big.csv" {
		t.Fatalf("finish %+v", last)
	}
	if f.fake.OpenSessions() != 0 {
		t.Fatal("session left open")
	}
}

func TestExecuteExactChunkMultiple(t *testing.T) {
	f := setup(t, nil)
	access, _ := f.fake.IssueTokens()
	f.act.ChunkSize = 1000
	data := bytes.Repeat([]byte("x"), 2000)
	resp, err := f.act.Execute(context.Background(), f.req(t, plainState(access, ""), map[string]any{"filename": "even"}, string(data)))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	got, _ := f.fake.File("/even.csv")
	fin := f.fake.Calls("/2/files/upload_session/finish")
	if len(got) != 2000 || len(fin) != 1 || fin[0].Size != 0 {
		t.Fatalf("got %d bytes, finish %+v", len(got), fin)
	}
}

func TestExpiredTokenIsRefreshedAndStateReturned(t *testing.T) {
	f := setup(t, nil)
	access, refresh := f.fake.IssueTokens()
	f.fake.ExpireAccessTokens()
	resp, err := f.act.Execute(context.Background(), f.req(t, plainState(access, refresh), map[string]any{"filename": "r"}, "x"))
	if err != nil || !resp.Success {
		t.Fatalf("%v %+v", err, resp)
	}
	tok := stateTokens(t, f.env, resp.State)
	if tok["access_token"] == access || tok["refresh_token"] != refresh || tok["expires_at"] == nil {
		t.Fatalf("%v", tok)
	}
	if !strings.HasPrefix(*resp.State.Data, "{\"access_token\"") {
		t.Fatalf("plain state expected without ENCRYPT_PAYLOAD_DROPBOX: %s", *resp.State.Data)
	}
	// a known expiry in the past refreshes before the first call (no 401 round trip)
	n := len(f.fake.Calls("/2/files/upload"))
	st, _ := json.Marshal(map[string]any{"access_token": "stale", "refresh_token": refresh, "expires_at": time.Now().Add(-time.Hour).Unix()})
	resp, err = f.act.Execute(context.Background(), f.req(t, string(st), map[string]any{"filename": "r2"}, "x"))
	if err != nil || !resp.Success || resp.State == nil {
		t.Fatalf("%v %+v", err, resp)
	}
	calls := f.fake.Calls("/2/files/upload")[n:]
	if len(calls) != 1 || calls[0].Status != 200 {
		t.Fatalf("calls %+v", calls)
	}
}

func TestRevokedLoginResetsState(t *testing.T) {
	f := setup(t, nil)
	access, refresh := f.fake.IssueTokens()
	f.fake.ExpireAccessTokens()
	f.fake.RevokeRefreshTokens()
	resp, err := f.act.Execute(context.Background(), f.req(t, plainState(access, refresh), map[string]any{"filename": "r"}, "x"))
	if err != nil || resp.Success || resp.State == nil || *resp.State.Data != "reset" {
		t.Fatalf("%v %+v", err, resp)
	}
	if strings.Contains(resp.Message, refresh) || strings.Contains(resp.Message, "appsecret") {
		t.Fatal("secret in message")
	}
}

func TestConflictDoesNotReset(t *testing.T) {
	f := setup(t, nil)
	access, _ := f.fake.IssueTokens()
	for i := 0; i < 2; i++ {
		resp, err := f.act.Execute(context.Background(), f.req(t, plainState(access, ""), map[string]any{"filename": "same"}, "x"))
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && (resp.Success || resp.State != nil || !strings.Contains(resp.Message, "already exists at /same.csv")) {
			t.Fatalf("%+v", resp)
		}
	}
}

func TestCutDownloadCommitsNothing(t *testing.T) {
	f := setup(t, nil)
	access, _ := f.fake.IssueTokens()
	f.act.ChunkSize = 64 << 10
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(bytes.Repeat([]byte("y"), 300_000))
		w.(http.Flusher).Flush()
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	}))
	defer dl.Close()
	r := f.req(t, plainState(access, ""), map[string]any{"filename": "cut"}, "")
	r.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: dl.URL}
	resp, err := f.act.Execute(context.Background(), r)
	if err != nil || resp.Success || !strings.Contains(resp.Message, "Upload aborted, nothing was saved to Dropbox at /cut:") {
		t.Fatalf("%v %+v", err, resp)
	}
	if len(f.fake.Files()) != 0 || len(f.fake.Calls("/2/files/upload_session/finish")) != 0 {
		t.Fatal("something was committed")
	}
	if resp.State != nil {
		t.Fatal("a cut download must not reset the login")
	}
}

func TestNoDataAndNoLogin(t *testing.T) {
	f := setup(t, nil)
	access, _ := f.fake.IssueTokens()
	resp, err := f.act.Execute(context.Background(), f.req(t, plainState(access, ""), map[string]any{"filename": "n"}, ""))
	if err != nil || resp.Success || resp.Message != "No data sent from Looker to be sent to Dropbox." {
		t.Fatalf("%v %+v", err, resp)
	}
	resp, err = f.act.Execute(context.Background(), f.req(t, "", map[string]any{"filename": "n"}, "x"))
	if err != nil || resp.Success || resp.State == nil || *resp.State.Data != "reset" {
		t.Fatalf("%v %+v", err, resp)
	}
	_, err = f.act.Execute(context.Background(), f.req(t, plainState(access, ""), map[string]any{"filename": "n", "directory": "a/../b"}, "x"))
	if _, ok := sdk.AsError(err); !ok {
		t.Fatalf("traversal accepted: %v", err)
	}
}

func TestOAuthCheck(t *testing.T) {
	f := setup(t, nil)
	access, _ := f.fake.IssueTokens()
	ok, err := f.act.OAuthCheck(context.Background(), f.req(t, `{"tokens":{"access_token":"`+access+`"}}`, nil, ""))
	if err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
	ok, _ = f.act.OAuthCheck(context.Background(), f.req(t, `{"access_token":"nope"}`, nil, ""))
	if ok {
		t.Fatal("bad token passed the check")
	}
}

func TestAPIArgEscapesNonASCII(t *testing.T) {
	s, err := apiArg(map[string]string{"path": "/é😀"})
	if err != nil {
		t.Fatal(err)
	}
	if s != `{"path":"/\u00e9\ud83d\ude00"}` {
		t.Fatalf("%s", s)
	}
}
