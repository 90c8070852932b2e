package googledrive_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/actions/googledrive"
	"github.com/actionhub/actionhub/actiontest"
	googlefake "github.com/actionhub/actionhub/internal/fakes/google"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/oauthtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

var module = sdk.Module{Name: googledrive.Name, New: googledrive.New}

func TestOAuthV2RoundTripThroughHub(t *testing.T) {
	fake := googlefake.New(t, "cid", "csecret")
	fake.AddSharedDrive("0ATeam", "Team Drive")
	env := fake.Env()
	env["ENCRYPT_PAYLOAD"] = "true"
	h := hubtest.New(t, hubtest.Options{Env: env, Actions: []sdk.Module{module}})
	lk := oauthtest.NewStateURL(t)
	redir := lk.URL + "/action_hub_state_redirect/1234abcd"

	form := h.Form(t, "google_drive", map[string]any{"type": "query",
		"data": map[string]any{"state_url": lk.URL + "/state", "state_redir_url": redir}})
	if form.Status != 200 || len(form.Fields) != 1 || form.Fields[0].Type != sdk.FieldOAuthLinkGoogle {
		t.Fatalf("%s", form.Body)
	}
	consent := oauthtest.Follow(t, form.Fields[0].OAuthURL)
	if !strings.HasPrefix(consent, fake.URL+"/o/oauth2/auth?") {
		t.Fatal(consent)
	}
	back := oauthtest.Follow(t, consent)
	if !strings.HasPrefix(back, h.URL+"/actions/google_drive/oauth_redirect?") {
		t.Fatal(back)
	}
	toLooker := oauthtest.Follow(t, back)
	if !strings.HasPrefix(toLooker, redir+"?state=") {
		t.Fatal(toLooker)
	}
	u, _ := url.Parse(toLooker)
	// Looker calls the token route with the state it was handed.
	tok := h.Post(t, "/actions/google_drive/oauth_token", map[string]any{"state": u.Query().Get("state")})
	if tok.Status != 200 {
		t.Fatalf("%d %s", tok.Status, tok.Body)
	}
	var wrapped actioncrypto.Payload
	if err := json.Unmarshal(tok.Body, &wrapped); err != nil || wrapped.CID == "" {
		t.Fatalf("ENCRYPT_PAYLOAD=true must answer {cid,payload}: %s", tok.Body)
	}
	var payload googledrive.TokenPayload
	if err := actioncrypto.New(hubtest.CipherMaster).DecryptJSON(wrapped.Payload, &payload); err != nil ||
		payload.Redirect != h.URL+"/actions/google_drive/oauth_redirect" || payload.Tokens["refresh_token"] == nil {
		t.Fatalf("%v %+v", err, payload)
	}
	state := string(bytes.TrimSpace(tok.Body))

	form = h.Form(t, "google_drive", map[string]any{"type": "query",
		"data": map[string]any{"state_url": lk.URL + "/state", "state_redir_url": redir, "state_json": state}})
	if len(form.Fields) != 4 || form.Fields[0].Name != "drive" || len(form.Fields[0].Options) != 2 {
		t.Fatalf("%s", form.Body)
	}
	res := h.Execute(t, "google_drive", map[string]any{"type": "query", "data": map[string]any{"state_json": state},
		"form_params":    map[string]any{"filename": "e2e.csv", "drive": "mydrive"},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, []byte("a,b\n1,2\n"))}})
	if !res.Looker.Success {
		t.Fatalf("%s", res.Body)
	}
	if files := fake.Files(); len(files) != 1 || string(files[0].Content) != "a,b\n1,2\n" {
		t.Fatalf("%+v", files)
	}
}

func TestOAuthV1PathThroughHub(t *testing.T) {
	fake := googlefake.New(t, "cid", "csecret")
	h := hubtest.New(t, hubtest.Options{Env: fake.Env(), Actions: []sdk.Module{module}})
	lk := oauthtest.NewStateURL(t)
	form := h.Form(t, "google_drive", map[string]any{"type": "query", "data": map[string]any{"state_url": lk.URL + "/state"}})
	back := oauthtest.Follow(t, oauthtest.Follow(t, form.Fields[0].OAuthURL))
	resp, err := oauthtest.Browser.Get(back)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "close this tab") {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	state := lk.Last()
	var p googledrive.TokenPayload
	if err := json.Unmarshal([]byte(state), &p); err != nil || p.Tokens["access_token"] == nil || p.Redirect == "" {
		t.Fatalf("%v %s", err, state)
	}
	form = h.Form(t, "google_drive", map[string]any{"type": "query", "data": map[string]any{"state_json": state}})
	if len(form.Fields) != 4 {
		t.Fatalf("%s", form.Body)
	}
}

func TestTokenRouteErrors(t *testing.T) {
	fake := googlefake.New(t, "cid", "csecret")
	fake.NoRefreshToken = true
	h := hubtest.New(t, hubtest.Options{Env: fake.Env(), Actions: []sdk.Module{module}})
	if r := h.Post(t, "/actions/google_drive/oauth_token", map[string]any{}); r.Status != 400 {
		t.Fatalf("missing state: %d %s", r.Status, r.Body)
	}
	s2, _ := actioncrypto.New(hubtest.CipherMaster).EncryptJSON(map[string]string{
		"code": fake.IssueCode(h.URL+"/actions/google_drive/oauth_redirect", googledrive.ScopeDrive), "redirecturi": h.URL + "/actions/google_drive/oauth_redirect"})
	if r := h.Post(t, "/actions/google_drive/oauth_token", map[string]any{"state": s2}); r.Status != 500 || strings.Contains(string(r.Body), "ya29") {
		t.Fatalf("no refresh token: %d %s", r.Status, r.Body)
	}
}

func TestCutDownloadThroughHub(t *testing.T) {
	fake := googlefake.New(t, "cid", "csecret")
	h := hubtest.New(t, hubtest.Options{Env: fake.Env(), Actions: []sdk.Module{module}})
	tok := fake.IssueTokens("u@example.com", googledrive.ScopeDrive)
	state, _ := json.Marshal(googledrive.TokenPayload{Tokens: tok, Redirect: "r"})
	dl := h.DownloadFunc(t, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 300_000))
		return errors.New("cut")
	})
	res := h.Execute(t, "google_drive", map[string]any{"type": "query", "data": map[string]any{"state_json": string(state)},
		"form_params": map[string]any{"filename": "cut.csv"}, "scheduled_plan": map[string]any{"download_url": dl}})
	if res.Status != 200 || res.Looker.Success || !strings.Contains(res.Looker.Message, "Upload aborted, nothing was saved to Google Drive") {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if len(fake.Files()) != 0 || fake.OpenSessions() != 0 {
		t.Fatal("committed")
	}
}

func TestConformance(t *testing.T) {
	fake := googlefake.New(t, "cid", "csecret")
	tok := fake.IssueTokens("u@example.com", googledrive.ScopeDrive+" "+googledrive.ScopeEmail)
	state, _ := json.Marshal(googledrive.TokenPayload{Tokens: tok, Redirect: "r"})
	actiontest.Conformance(t, module, actiontest.CheckOptions{
		Env:        fake.Env(),
		Params:     map[string]string{"state_json": string(state)},
		Data:       []byte("a,b\n1,2\n"),
		Format:     sdk.FormatCSV,
		FormParams: map[string]string{"filename": "conf.csv"},
	})
}
