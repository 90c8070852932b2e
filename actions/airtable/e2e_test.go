package airtable

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	airtablefake "github.com/actionhub/actionhub/internal/fakes/airtable"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/oauthtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// The OAuth round trip through the real server: form → login link → /oauth 302 to
// Airtable → Airtable 302 back to /oauth_redirect → tokens POSTed to Looker's state URL
// → form again, logged in → a streamed execute.
func TestEndToEndOAuthRoundTrip(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		fake := airtablefake.New(t, airtablefake.Options{ClientID: clientID, ClientSecret: clientSecret,
			Tables: map[string][]string{"appBase": {"Leads"}}})
		env := map[string]string{"AIRTABLE_CLIENT_ID": clientID, "AIRTABLE_CLIENT_SECRET": clientSecret,
			sdk.VendorURLVar + "AIRTABLE_API": fake.URL, sdk.VendorURLVar + "AIRTABLE_AUTH": fake.URL}
		if encrypt {
			env["ENCRYPT_PAYLOAD_AIRTABLE"] = "true"
		}
		h := hubtest.New(t, hubtest.Options{Env: env, Actions: []sdk.Module{Module(func(l *Limits) { l.Rate = 0 })}})
		looker := oauthtest.NewStateURL(t)

		// the action list: an OAuth action with a form, streamed
		var list struct {
			Integrations []struct {
				Name                      string   `json:"name"`
				UsesOAuth                 bool     `json:"uses_oauth"`
				FormURL                   *string  `json:"form_url"`
				SupportedDownloadSettings []string `json:"supported_download_settings"`
			} `json:"integrations"`
		}
		json.Unmarshal(h.Post(t, "/", nil).Body, &list)
		if len(list.Integrations) != 1 || !list.Integrations[0].UsesOAuth || list.Integrations[0].FormURL == nil ||
			list.Integrations[0].SupportedDownloadSettings[0] != "url" {
			t.Fatalf("list %+v", list)
		}

		// 1. not logged in: the login form
		form := h.Form(t, "airtable", map[string]any{"data": map[string]any{"state_url": looker.URL + "/state/1"}})
		if form.Status != 200 || len(form.Fields) != 1 || form.Fields[0].Type != sdk.FieldOAuthLink || form.Fields[0].Name != "oauth" {
			t.Fatalf("login form: %s", form.Body)
		}
		link := form.Fields[0].OAuthURL
		if !strings.HasPrefix(link, h.URL+"/actions/airtable/oauth?state=") {
			t.Fatalf("login link %s", link)
		}
		// 2. /oauth sends the browser to Airtable, 3. Airtable back to /oauth_redirect
		toAirtable := oauthtest.Step(t, link, http.StatusFound).Header.Get("Location")
		if !strings.HasPrefix(toAirtable, fake.URL+"/oauth2/v1/authorize?") || !strings.Contains(toAirtable, "code_challenge_method=S256") {
			t.Fatalf("redirect to %s", toAirtable)
		}
		back := oauthtest.Step(t, toAirtable, http.StatusFound).Header.Get("Location")
		if !strings.HasPrefix(back, h.URL+"/actions/airtable/oauth_redirect?") {
			t.Fatalf("redirect back to %s", back)
		}
		// 4. the hub exchanges the code and POSTs the tokens to Looker's state URL
		resp := oauthtest.Step(t, back, http.StatusOK)
		if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("close-tab page: %v", resp.Header)
		}
		state := looker.Last()
		var tok Tokens
		if encrypt {
			var p actioncrypto.Payload
			if json.Unmarshal([]byte(state), &p) != nil || actioncrypto.New(hubtest.CipherMaster).DecryptJSON(p.Payload, &tok) != nil {
				t.Fatalf("encrypted state expected: %s", state)
			}
		} else if json.Unmarshal([]byte(state), &tok) != nil || !strings.HasPrefix(state, `{"tokens":{"refresh_token":"`) {
			t.Fatalf("state %s", state)
		}
		if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Redirect != h.URL+"/actions/airtable/oauth_redirect" {
			t.Fatalf("tokens %+v", tok)
		}
		ex := fake.Exchanges()
		if len(ex) != 1 || ex[0].Get("client_id") != clientID || ex[0].Get("clientId") != "" || len(ex[0].Get("code_verifier")) != 128 {
			t.Fatalf("token exchange %v", ex)
		}

		// 5. logged in: the form asks for base and table
		form = h.Form(t, "airtable", map[string]any{"data": map[string]any{"state_url": looker.URL + "/state/2", "state_json": state}})
		if len(form.Fields) != 2 || form.Fields[0].Name != "base" || form.Fields[1].Name != "table" || form.State == nil {
			t.Fatalf("logged-in form: %s", form.Body)
		}

		// 6. a streamed execute
		const n = 1000
		dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, numbered(n)) })
		res := h.Execute(t, "airtable", map[string]any{
			"type": "query", "data": map[string]any{"state_json": state, "state_url": looker.URL + "/state/3"},
			"form_params":    map[string]any{"base": "appBase", "table": "Leads"},
			"scheduled_plan": map[string]any{"download_url": dl},
		})
		if res.Status != 200 || !res.Looker.Success || res.Looker.Message != "Delivered 1,000 of 1,000 rows." || res.Looker.State == nil {
			t.Fatalf("execute: %d %s", res.Status, res.Body)
		}
		nums := recordNums(t, fake.Records("appBase", "Leads"))
		if len(nums) != n {
			t.Fatalf("%d records", len(nums))
		}
		if strings.Contains(string(res.Body), tok.AccessToken) && encrypt {
			t.Fatal("with encryption on, the reply must not carry the token in clear")
		}
	}
}
