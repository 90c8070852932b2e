package googlesheets_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"testing"

	"github.com/actionhub/actionhub/actions/googledrive"
	"github.com/actionhub/actionhub/actions/googlesheets"
	"github.com/actionhub/actionhub/actiontest"
	googlefake "github.com/actionhub/actionhub/internal/fakes/google"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/oauthtest"
	"github.com/actionhub/actionhub/sdk"
)

var module = sdk.Module{Name: googlesheets.Name, New: googlesheets.New}

func TestLoginThenOverwriteThroughHub(t *testing.T) {
	fake := googlefake.New(t, "cid", "csecret")
	h := hubtest.New(t, hubtest.Options{Env: fake.Env(), Actions: []sdk.Module{module}})
	redir := "https://looker.example.com/action_hub_state_redirect/1"
	form := h.Form(t, "google_sheets", map[string]any{"type": "query",
		"data": map[string]any{"state_url": "https://looker.example.com/state", "state_redir_url": redir}})
	if len(form.Fields) != 1 || form.Fields[0].Type != sdk.FieldOAuthLinkGoogle {
		t.Fatalf("%s", form.Body)
	}
	consent := oauthtest.Follow(t, form.Fields[0].OAuthURL)
	cu, _ := url.Parse(consent)
	if cu.Query().Get("scope") != googledrive.ScopeSpreadsheets+" "+googledrive.ScopeDrive+" "+googledrive.ScopeEmail {
		t.Fatal(consent)
	}
	toLooker, _ := url.Parse(oauthtest.Follow(t, oauthtest.Follow(t, consent)))
	tok := h.Post(t, "/actions/google_sheets/oauth_token", map[string]any{"state": toLooker.Query().Get("state")})
	if tok.Status != 200 {
		t.Fatalf("%d %s", tok.Status, tok.Body)
	}
	state := string(bytes.TrimSpace(tok.Body))

	form = h.Form(t, "google_sheets", map[string]any{"type": "query", "data": map[string]any{"state_json": state}})
	if n := len(form.Fields); n != 5 || form.Fields[n-1].Name != "overwrite" {
		t.Fatalf("%s", form.Body)
	}
	id := fake.AddSpreadsheet("weekly.csv", "", [][]string{{"old", "old"}, {"old"}}, 3, 2)
	res := h.Execute(t, "google_sheets", map[string]any{"type": "query", "data": map[string]any{"state_json": state},
		"form_params":    map[string]any{"filename": "weekly", "overwrite": "yes"},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, []byte("x,y,z\n1,2,3\n"))}})
	if !res.Looker.Success {
		t.Fatalf("%s", res.Body)
	}
	sp, _ := fake.Spreadsheet(id)
	if got := sp.Sheets[0].Values(); !reflect.DeepEqual(got, [][]string{{"x", "y", "z"}, {"1", "2", "3"}}) {
		t.Fatalf("%v", got)
	}
}

func TestExpiredTokenThroughHub(t *testing.T) {
	fake := googlefake.New(t, "cid", "csecret")
	h := hubtest.New(t, hubtest.Options{Env: fake.Env(), Actions: []sdk.Module{module}})
	tok := fake.IssueTokens("u@example.com", googledrive.ScopeSpreadsheets+" "+googledrive.ScopeDrive)
	fake.ExpireAccessTokens()
	state, _ := json.Marshal(googledrive.TokenPayload{Tokens: tok, Redirect: "r"})
	res := h.Execute(t, "google_sheets", map[string]any{"type": "query", "data": map[string]any{"state_json": string(state)},
		"form_params":    map[string]any{"filename": "n", "overwrite": "no"},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, []byte("a\n1\n"))}})
	if !res.Looker.Success || res.Looker.State == nil || res.Looker.State.Data == nil {
		t.Fatalf("%s", res.Body)
	}
	var p googledrive.TokenPayload
	if json.Unmarshal([]byte(*res.Looker.State.Data), &p) != nil || p.Tokens["access_token"] == tok["access_token"] ||
		p.Tokens["refresh_token"] != tok["refresh_token"] {
		t.Fatalf("%s", *res.Looker.State.Data)
	}
}

func TestConformance(t *testing.T) {
	fake := googlefake.New(t, "cid", "csecret")
	tok := fake.IssueTokens("u@example.com", googledrive.ScopeSpreadsheets+" "+googledrive.ScopeDrive)
	state, _ := json.Marshal(googledrive.TokenPayload{Tokens: tok, Redirect: "r"})
	actiontest.Conformance(t, module, actiontest.CheckOptions{
		Env:        fake.Env(),
		Params:     map[string]string{"state_json": string(state)},
		Data:       []byte("a,b\n1,2\n"),
		Format:     sdk.FormatCSV,
		FormParams: map[string]string{"filename": "conf", "overwrite": "yes"},
	})
}
