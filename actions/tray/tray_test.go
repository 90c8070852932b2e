package tray

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/actions/webhook"
	fake "github.com/actionhub/actionhub/internal/fakes/webhook"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
)

// module builds the real action from the hub's environment, with its guarded client
// pointed at the fake (the policy still comes from the environment).
func module(f *fake.Server) sdk.Module {
	return sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
		a, err := New(env)
		if err != nil {
			return nil, err
		}
		a.(*webhook.Action).Client = netguard.FromEnv(env.Get).Client(f.Rewire)
		return a, nil
	}}
}

const hook = "https://0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0.trayapp.io/abcdef/"

func TestEndToEnd(t *testing.T) {
	f := fake.New(t, "*.trayapp.io", "*.tray.io")
	f.Answer = func(w http.ResponseWriter, r *fake.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"attempt":"1","id":"2","request_id":"3","status":"success"}`))
	}
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{netguard.AllowPrivateVar: "true"}, Actions: []sdk.Module{module(f)}})

	// Listed as the Node hub lists it.
	list := h.Post(t, "/", nil)
	var l struct {
		Integrations []map[string]any `json:"integrations"`
	}
	json.Unmarshal(list.Body, &l)
	if len(l.Integrations) != 1 {
		t.Fatalf("list: %s", list.Body)
	}
	it := l.Integrations[0]
	if it["label"] != "Tray" || it["description"] != "Send data and begin a Tray workflow." ||
		!jsonEq(it["supported_formats"], `["json_detail"]`) || !jsonEq(it["supported_download_settings"], `["url"]`) ||
		!jsonEq(it["supported_action_types"], `["query"]`) || !jsonEq(it["params"], `[]`) ||
		!strings.HasPrefix(it["icon_data_uri"].(string), "data:image/svg+xml;base64,") {
		t.Errorf("list entry: %v", it)
	}

	// Node test_tray.ts: the form is the single url field.
	form := h.Form(t, Name, map[string]any{})
	if len(form.Fields) != 1 || form.Fields[0].Name != "url" || form.Fields[0].Label != "Tray Webhook URL" ||
		!form.Fields[0].Required || form.Fields[0].Type != sdk.FieldString {
		t.Errorf("form: %s", form.Body)
	}

	data := `{"fields":{"dimensions":[{"name":"users.email"}]},"data":[{"users.email":{"value":"a@b.c"}}]}`
	res := h.Execute(t, Name, map[string]any{"type": "query", "form_params": map[string]any{"url": hook},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, []byte(data))}})
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("execute: %d %s", res.Status, res.Body)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || string(reqs[0].Body) != data || reqs[0].Path != "/abcdef/" {
		t.Fatalf("received %+v", reqs)
	}

	// A host outside trayapp.io and tray.io is refused before anything is read or sent.
	for _, u := range []string{"https://eviltrayapp.io/x", "https://x.trayapp.io.evil.io/x"} {
		res = h.Execute(t, Name, map[string]any{"type": "query", "form_params": map[string]any{"url": u},
			"scheduled_plan": map[string]any{"download_url": h.Download(t, []byte(data))}})
		if res.Status != 404 || !strings.Contains(string(res.Body), "Incorrect domain for url.") {
			t.Errorf("%s: %d %s", u, res.Status, res.Body)
		}
	}
	res = h.Execute(t, Name, map[string]any{"type": "query", "form_params": map[string]any{},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, []byte(data))}})
	if res.Status != 404 || !strings.Contains(string(res.Body), "Missing url.") {
		t.Errorf("missing url: %d %s", res.Status, res.Body)
	}
	if n := len(f.Requests()); n != 1 {
		t.Errorf("%d requests reached the fake", n)
	}
}

// Without ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS the hub refuses to connect to the loopback
// fake, although the trayapp.io host passed the domain check: the guard is at dial time.
func TestEndToEndLoopbackRefused(t *testing.T) {
	f := fake.New(t, "*.trayapp.io", "*.tray.io")
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{module(f)}})
	res := h.Execute(t, Name, map[string]any{"type": "query", "form_params": map[string]any{"url": hook},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, []byte(`{"data":[]}`))}})
	if res.Status != 200 || res.Looker.Success || !strings.Contains(res.Looker.Message, "loopback") {
		t.Fatalf("execute: %d %s", res.Status, res.Body)
	}
	if strings.Contains(string(res.Body), "abcdef") {
		t.Errorf("reply reveals the hook path: %s", res.Body)
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("%d requests reached the fake", n)
	}
}

func jsonEq(v any, want string) bool {
	b, _ := json.Marshal(v)
	return string(b) == want
}
