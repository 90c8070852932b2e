package slack

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	fake "github.com/actionhub/actionhub/internal/fakes/slack"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

func newApp(t *testing.T, f *fake.Server) *App {
	a, _ := NewApp(testEnv(f))
	app := a.(*App)
	app.Clock = vendorhttptest.NewFakeClock(time.Time{})
	return app
}

func multiState(entries ...[2]string) string {
	var items []map[string]string
	for _, e := range entries {
		items = append(items, map[string]string{"install_id": e[0], "token": e[1]})
	}
	b, _ := json.Marshal(items)
	return string(b)
}

func appRequest(env *sdk.Env, version, state string, form map[string]string) *sdk.Request {
	p := map[string]string{"state_url": "https://looker.example.com/action_hub_state/abc"}
	if state != "" {
		p["state_json"] = state
	}
	if form == nil {
		form = map[string]string{}
	}
	return &sdk.Request{Type: sdk.TypeQuery, Env: env, LookerVersion: version, Params: p, FormParams: form}
}

// Node: isSupportMultiWorkspaces.
func TestMultiWorkspace(t *testing.T) {
	for v, want := range map[string]bool{"6.24.0": false, "7.3.0": true, "7.2.99": false, "24.18.0": true, "": false} {
		if MultiWorkspace(v) != want {
			t.Errorf("MultiWorkspace(%q) != %v", v, want)
		}
	}
}

// Node test_slack_client_manager.ts.
func TestParseState(t *testing.T) {
	cases := []struct {
		name, version, state, workspace string
		ids                             []string
		selected                        string
	}{
		{"empty", "7.3.0", "", "", nil, ""},
		{"pre-7.3 token", "6.24.0", "xoxb-abc", "", []string{"any"}, "any"},
		{"pre-7.3 array is a token", "6.24.0", multiState([2]string{"T1", "a"}), "", []string{"any"}, "any"},
		{"7.3 entries without token", "7.3.0", `[{"install_id":"T1"},{"install_id":"T2","token":""}]`, "", nil, ""},
		{"malformed json-ish", "7.3.0", `[{"install_id":`, "", []string{"any"}, "any"},
		{"json object is a token", "7.3.0", `{"token":"x"}`, "", []string{"any"}, "any"},
		{"one token", "7.3.0", multiState([2]string{"T1", "a"}), "", []string{"T1"}, "T1"},
		{"several, none selected", "7.3.0", multiState([2]string{"T1", "a"}, [2]string{"T2", "b"}), "", []string{"T1", "T2"}, "T1"},
		{"several, second selected", "7.3.0", multiState([2]string{"T1", "a"}, [2]string{"T2", "b"}), "T2", []string{"T1", "T2"}, "T2"},
	}
	for _, c := range cases {
		req := appRequest(nil, c.version, c.state, map[string]string{"workspace": c.workspace})
		if c.workspace == "" {
			req.FormParams = map[string]string{}
		}
		got := parseState(req)
		var ids []string
		for _, w := range got.list {
			ids = append(ids, w.installID)
		}
		if !reflect.DeepEqual(ids, c.ids) || got.selected != c.selected {
			t.Errorf("%s: ids %v selected %q", c.name, ids, got.selected)
		}
	}
	// The raw string is the token of the placeholder workspace.
	if w, _ := parseState(appRequest(nil, "6.0.0", "xoxb-raw", nil)).get("any"); w.token != "xoxb-raw" {
		t.Errorf("token %q", w.token)
	}
}

func TestOAuthCheck(t *testing.T) {
	f := fake.New(t, workspaces())
	a := newApp(t, f)
	ctx := context.Background()
	form, _ := a.OAuthCheckForm(ctx, appRequest(a.env, "7.3.0", "", nil))
	if form.Error != "You must connect to a Slack workspace first." {
		t.Errorf("no state: %+v", form)
	}
	form, _ = a.OAuthCheckForm(ctx, appRequest(a.env, "6.24.0", "xoxb-bad", nil))
	if form.Error != "Your Slack authentication credentials are not valid." {
		t.Errorf("bad token: %+v", form)
	}
	form, _ = a.OAuthCheckForm(ctx, appRequest(a.env, "6.24.0", token1, nil))
	if len(form.Fields) != 1 || !reflect.DeepEqual(form.Fields[0], sdk.Field{Name: "Connected", Type: sdk.FieldMessage, Value: "Connected with Team One (T1)"}) {
		t.Errorf("single: %+v", form)
	}
	// Multi-workspace: JSON values; a failing workspace is left out.
	form, _ = a.OAuthCheckForm(ctx, appRequest(a.env, "7.3.0", multiState([2]string{"T1", token1}, [2]string{"TX", "xoxb-bad"}, [2]string{"T2", token2}), nil))
	if len(form.Fields) != 2 || form.Fields[0].Value != `{"installation_id":"T1","installation_name":"Team One"}` ||
		form.Fields[1].Value != `{"installation_id":"T2","installation_name":"Team Two"}` {
		t.Errorf("multi: %+v", form)
	}
}

func TestFormLogin(t *testing.T) {
	f := fake.New(t, workspaces())
	a := newApp(t, f)
	ctx := context.Background()
	req := appRequest(a.env, "7.3.0", "", nil)
	form, _ := a.Form(ctx, req)
	if len(form.Fields) != 1 || form.Fields[0].Type != sdk.FieldOAuthLink || form.Fields[0].OAuthURL != req.Params["state_url"] ||
		form.Fields[0].Name != "login" || form.Fields[0].Label != "Log in" || form.State == nil {
		t.Errorf("login: %+v", form)
	}
	delete(req.Params, "state_url")
	form, _ = a.Form(ctx, req)
	if form.Error != "Illegal State: state_url is empty." {
		t.Errorf("no state_url: %+v", form)
	}
	// A listing failure shows the login link, keeping the workspace field.
	req = appRequest(a.env, "6.24.0", "xoxb-bad", map[string]string{"channelType": "channels"})
	form, _ = a.Form(ctx, req)
	if fieldNames(form.Fields) != "login" {
		t.Errorf("bad token: %+v", form)
	}
}

func TestFormWorkspaces(t *testing.T) {
	f := fake.New(t, workspaces())
	a := newApp(t, f)
	ctx := context.Background()
	state := multiState([2]string{"T1", token1}, [2]string{"T2", token2})
	form, _ := a.Form(ctx, appRequest(a.env, "7.3.0", state, map[string]string{"channelType": "channels"}))
	if fieldNames(form.Fields) != "workspace,channelType,channel,initial_comment,filename" {
		t.Fatalf("fields %s (%s)", fieldNames(form.Fields), form.Error)
	}
	ws := form.Fields[0]
	if ws.Default != "T1" || !ws.Interactive || !ws.Required || !reflect.DeepEqual(ws.Options, []sdk.Option{{Name: "T1", Label: "Team One"}, {Name: "T2", Label: "Team Two"}}) {
		t.Errorf("workspace %+v", ws)
	}
	if form.Fields[2].Options[0].Label != "#general" {
		t.Errorf("default workspace not used: %+v", form.Fields[2].Options)
	}
	form, _ = a.Form(ctx, appRequest(a.env, "7.3.0", state, map[string]string{"channelType": "channels", "workspace": "T2"}))
	if form.Fields[0].Default != "T2" || len(form.Fields[2].Options) != 1 || form.Fields[2].Options[0].Label != "#two-general" {
		t.Errorf("selected workspace not used: %+v", form.Fields)
	}
	// A listing failure keeps the workspace field and adds the login link.
	state = multiState([2]string{"T1", token1}, [2]string{"TX", "xoxb-bad"})
	form, _ = a.Form(ctx, appRequest(a.env, "7.3.0", state, map[string]string{"channelType": "channels", "workspace": "TX"}))
	if fieldNames(form.Fields) != "workspace,login" {
		t.Errorf("fields %s", fieldNames(form.Fields))
	}
}

func TestAppExecute(t *testing.T) {
	f := fake.New(t, workspaces())
	a := newApp(t, f)
	ctx := context.Background()
	if !a.Definition().Streaming {
		t.Error("slack_app streams")
	}
	resp, _ := a.Execute(ctx, appRequest(a.env, "7.3.0", "", map[string]string{"channel": "C001"}))
	if resp.Success || resp.Error == nil || resp.Error.StatusCode != "BAD_REQUEST" || !strings.HasSuffix(resp.Message, "[SLACK] Missing client") {
		t.Errorf("no client: %+v", resp)
	}
	state := multiState([2]string{"T1", token1}, [2]string{"T2", token2})
	for _, c := range []struct{ workspace, channel, token string }{{"", "C001", token1}, {"T2", "C100", token2}, {"T1", "C002", token1}} {
		req := appRequest(a.env, "7.3.0", state, map[string]string{"channel": c.channel, "workspace": c.workspace, "initial_comment": "hi"})
		resp, _ := a.Execute(ctx, req)
		if !resp.Success {
			t.Fatalf("%+v: %+v", c, resp)
		}
		calls := f.Calls()
		if last := calls[len(calls)-1]; last.Method != "chat.postMessage" || last.Token != c.token || last.Form["channel"] != c.channel {
			t.Errorf("%+v: last call %+v", c, last)
		}
	}
}

// End to end through the hub: the list entry, Looker's connection test, the form and a
// streamed upload, with a rate limit honoured on the way.
func TestAppEndToEnd(t *testing.T) {
	f := fake.New(t, workspaces())
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_VENDOR_URL_SLACK": f.APIURL()},
		Actions: []sdk.Module{{Name: AppName, New: NewApp}}})
	state := multiState([2]string{"T1", token1}, [2]string{"T2", token2})

	var entry map[string]any
	json.Unmarshal(h.Post(t, "/actions/"+AppName, nil).Body, &entry)
	params, _ := json.Marshal(entry["params"])
	if entry["uses_oauth"] != true || entry["delegate_oauth"] != true || entry["label"] != "Slack" ||
		!strings.Contains(string(params), `"delegate_oauth_url":"/admin/integrations/slack/install"`) ||
		!reflect.DeepEqual(entry["supported_download_settings"], []any{"url"}) {
		t.Errorf("entry %v", entry)
	}

	check := h.Form(t, AppName, map[string]any{"data": map[string]any{"state_json": state, "test": "true"}})
	if len(check.Fields) != 2 || check.Fields[0].Name != "Connected" || !strings.Contains(check.Fields[1].Value, "Team Two") {
		t.Errorf("oauth check %s", check.Body)
	}

	form := h.Form(t, AppName, map[string]any{"data": map[string]any{"state_json": state, "state_url": "https://looker/state"},
		"form_params": map[string]any{"workspace": "T1", "channelType": "users"}})
	if fieldNames(form.Fields) != "workspace,channelType,channel,initial_comment,filename" || len(form.Fields[2].Options) != 3 {
		t.Errorf("form %s", form.Body)
	}

	f.Faults("files.getUploadURLExternal").RetryAfter = "1"
	f.Faults("files.getUploadURLExternal").Push(faults.RateLimit)
	data := strings.Repeat("a,b,c\n", 200_000)
	start := time.Now()
	res := h.Execute(t, AppName, map[string]any{"type": "query",
		"data":           map[string]any{"state_json": state},
		"form_params":    map[string]any{"workspace": "T2", "channel": "C100", "filename": "report"},
		"scheduled_plan": map[string]any{"title": "Plan", "download_url": h.Download(t, []byte(data))},
		"attachment":     nil})
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("execute %d %s", res.Status, res.Body)
	}
	if time.Since(start) < time.Second {
		t.Error("Retry-After not honoured")
	}
	s := f.Shares()
	if len(s) != 1 || s[0].Channel != "C100" || s[0].Upload.Size != int64(len(data)) || s[0].Title != "report" {
		t.Errorf("shares %+v", s)
	}

	// Looker sends no data at all: the streaming check of the hub refuses it.
	res = h.Execute(t, AppName, map[string]any{"type": "query", "data": map[string]any{"state_json": state},
		"form_params": map[string]any{"channel": "C100"}})
	if res.Status != 404 {
		t.Errorf("no data: %d %s", res.Status, res.Body)
	}
}

func TestLegacyEndToEnd(t *testing.T) {
	f := fake.New(t, workspaces())
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_VENDOR_URL_SLACK": f.APIURL()},
		Actions: []sdk.Module{{Name: LegacyName, New: NewLegacy}}})
	data := map[string]any{"slack_api_token": token1}
	form := h.Form(t, LegacyName, map[string]any{"data": data, "form_params": map[string]any{"channelType": "channels"}})
	if len(form.Fields) != 4 || len(form.Fields[1].Options) != 3 {
		t.Errorf("form %s", form.Body)
	}
	bad := h.Form(t, LegacyName, map[string]any{"data": map[string]any{"slack_api_token": "xoxb-nope"}, "form_params": map[string]any{"channelType": "users"}})
	if bad.Error != "Your Slack authentication credentials are not valid." {
		t.Errorf("bad token form %s", bad.Body)
	}
	res := h.Execute(t, LegacyName, map[string]any{"type": "dashboard", "data": data,
		"form_params":    map[string]any{"channel": "G004", "initial_comment": "Board"},
		"scheduled_plan": map[string]any{"title": "Board"},
		"attachment":     map[string]any{"mimetype": "application/pdf;base64", "extension": "pdf", "data": "JVBERi0xLjQK"}})
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("execute %d %s", res.Status, res.Body)
	}
	if s := f.Shares(); len(s) != 1 || s[0].Title != "Board.pdf" || string(s[0].Upload.Data) != "%PDF-1.4\n" {
		t.Errorf("shares %+v", s)
	}
	res = h.Execute(t, LegacyName, map[string]any{"type": "query", "data": data, "form_params": map[string]any{},
		"attachment": map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "a\n1"}})
	if res.Status != 200 || res.Looker.Success || res.Looker.Error == nil || res.Looker.Error.HTTPCode != 400 ||
		!strings.Contains(res.Looker.Message, "[SLACK] Missing channel") || res.Looker.WebhookID == "" {
		t.Errorf("missing channel %d %s", res.Status, res.Body)
	}
}
