package dropbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/actions/dropbox"
	"github.com/actionhub/actionhub/actiontest"
	dropboxfake "github.com/actionhub/actionhub/internal/fakes/dropbox"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/oauthtest"
	"github.com/actionhub/actionhub/sdk"
)

var module = sdk.Module{Name: dropbox.Name, New: dropbox.New}

func TestOAuthRoundTripThroughHub(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypt], func(t *testing.T) {
			fake := dropboxfake.New(t, "appkey", "appsecret")
			fake.AddFolder("/Reports")
			env := fake.Env()
			if encrypt {
				env["ENCRYPT_PAYLOAD_DROPBOX"] = "true"
			}
			h := hubtest.New(t, hubtest.Options{Env: env, Actions: []sdk.Module{module}})
			looker := oauthtest.NewStateURL(t)

			// 1. no state: the login form
			form := h.Form(t, "dropbox", map[string]any{"type": "query", "data": map[string]any{"state_url": looker.URL}})
			if form.Status != 200 || len(form.Fields) != 1 || form.Fields[0].Type != sdk.FieldOAuthLink {
				t.Fatalf("%d %s", form.Status, form.Body)
			}
			// 2. the browser follows the login link to Dropbox, which sends it back to the hub
			r := oauthtest.Step(t, form.Fields[0].OAuthURL, http.StatusFound)
			authorize := r.Header.Get("Location")
			if !strings.HasPrefix(authorize, fake.URL+"/oauth2/authorize?response_type=code&client_id=appkey&redirect_uri=") ||
				!strings.Contains(authorize, "token_access_type=offline") {
				t.Fatal(authorize)
			}
			r = oauthtest.Step(t, authorize, http.StatusFound)
			back := r.Header.Get("Location")
			if !strings.HasPrefix(back, h.URL+"/actions/dropbox/oauth_redirect?") {
				t.Fatal(back)
			}
			resp, err := oauthtest.Browser.Get(back)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(page), "You may now close this tab.") {
				t.Fatalf("%d %s", resp.StatusCode, page)
			}
			// 3. the hub POSTed the tokens (not the code) to Looker's state URL
			state := looker.Last()
			if encrypt != strings.Contains(state, `"cid"`) || strings.Contains(state, `"code"`) {
				t.Fatalf("state %s", state)
			}
			if !encrypt {
				var tok map[string]any
				if json.Unmarshal([]byte(state), &tok) != nil || tok["access_token"] == "" || tok["refresh_token"] == "" {
					t.Fatalf("state %s", state)
				}
			}
			// 4. Looker sends the state back: the form shows the folders
			form = h.Form(t, "dropbox", map[string]any{"type": "query", "data": map[string]any{"state_url": looker.URL, "state_json": state}})
			if len(form.Fields) != 3 || form.Fields[0].Name != "directory" || len(form.Fields[0].Options) != 2 {
				t.Fatalf("%s", form.Body)
			}
			// 5. and execute uploads with it
			res := h.Execute(t, "dropbox", map[string]any{"type": "query", "data": map[string]any{"state_json": state},
				"form_params": map[string]any{"directory": "Reports", "filename": "sales"},
				"attachment":  map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "a,b\n1,2\n"}})
			if !res.Looker.Success {
				t.Fatalf("%s", res.Body)
			}
			if got, ok := fake.File("/Reports/sales.csv"); !ok || string(got) != "a,b\n1,2\n" {
				t.Fatalf("%v", fake.Files())
			}
		})
	}
}

func TestExpiredTokenStateThroughHub(t *testing.T) {
	fake := dropboxfake.New(t, "appkey", "appsecret")
	h := hubtest.New(t, hubtest.Options{Env: fake.Env(), Actions: []sdk.Module{module}})
	access, refresh := fake.IssueTokens()
	fake.ExpireAccessTokens()
	state, _ := json.Marshal(map[string]string{"access_token": access, "refresh_token": refresh})
	res := h.Execute(t, "dropbox", map[string]any{"type": "query", "data": map[string]any{"state_json": string(state)},
		"form_params": map[string]any{"directory": "__root", "filename": "x"},
		"attachment":  map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "1"}})
	if !res.Looker.Success || res.Looker.State == nil || res.Looker.State.Data == nil || strings.Contains(*res.Looker.State.Data, access) {
		t.Fatalf("%s", res.Body)
	}
}

func TestConformance(t *testing.T) {
	fake := dropboxfake.New(t, "appkey", "appsecret")
	access, _ := fake.IssueTokens()
	actiontest.Conformance(t, module, actiontest.CheckOptions{
		Env:        fake.Env(),
		Params:     map[string]string{"state_json": `{"access_token":"` + access + `"}`},
		Data:       []byte("a,b\n1,2\n"),
		Format:     sdk.FormatCSV,
		FormParams: map[string]string{"directory": "__root", "filename": "conf", "includeTimestamp": "yes"},
	})
}
