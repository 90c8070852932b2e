// Package webhooktest holds the end-to-end checks shared by the actions built on package
// webhook for one vendor (Tray, Zapier): listed as the Node hub lists them, a single url
// form field, the data posted unchanged to the hook, hosts outside the vendor's domains
// refused before anything is read or sent, the loopback fake refused at dial time
// without ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS, and the actiontest conformance suite.
package webhooktest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/actionhub/actionhub/actions/webhook"
	"github.com/actionhub/actionhub/actiontest"
	fake "github.com/actionhub/actionhub/internal/fakes/webhook"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
)

// Case describes one webhook action and what its tests expect. The expected texts are
// the Node hub's, written out by the test (not read from the action's configuration).
type Case struct {
	// Name is the action's name; New builds it (its result must be a *webhook.Action).
	Name string
	New  func(env *sdk.Env) (sdk.Action, error)
	// Hosts are the fake receiver's host names (patterns such as "*.trayapp.io").
	Hosts []string
	// Hook is a valid hook URL on those hosts; HookPath its path; HookSecret the part of
	// it that is a credential, which no reply may show.
	Hook, HookPath, HookSecret string
	// Label, Description and URLLabel are the expected listing label and description
	// and the form field's label.
	Label, Description, URLLabel string
	// BadURLs are https URLs outside the vendor's domains.
	BadURLs []string
	// Answer, when set, answers the fake's requests (default: 200 with an empty body).
	Answer func(w http.ResponseWriter, r *fake.Request)
	// More, when set, runs further checks after the first delivery; it returns how many
	// requests they sent to the fake.
	More func(t *testing.T, h *hubtest.Hub, data []byte) int
}

// Module builds the real action from the hub's environment, with its guarded client
// pointed at the fake f (the policy still comes from the environment).
func Module(c Case, f *fake.Server) sdk.Module {
	return sdk.Module{Name: c.Name, New: func(env *sdk.Env) (sdk.Action, error) {
		a, err := c.New(env)
		if err != nil {
			return nil, err
		}
		a.(*webhook.Action).Client = netguard.FromEnv(env.Get).Client(f.Rewire)
		return a, nil
	}}
}

// Execute is the execute body of a query with the form's url (none when "") and a
// one-time download URL serving data.
func Execute(t testing.TB, h *hubtest.Hub, name, url string, data []byte) hubtest.ExecuteResult {
	form := map[string]any{}
	if url != "" {
		form["url"] = url
	}
	return h.Execute(t, name, map[string]any{"type": "query", "form_params": form,
		"scheduled_plan": map[string]any{"download_url": h.Download(t, data)}})
}

// EndToEnd checks the action through the real HTTP server.
func EndToEnd(t *testing.T, c Case) {
	f := fake.New(t, c.Hosts...)
	if c.Answer != nil {
		f.Answer = c.Answer
	}
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{netguard.AllowPrivateVar: "true"}, Actions: []sdk.Module{Module(c, f)}})

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
	if it["label"] != c.Label || it["description"] != c.Description ||
		!jsonEq(it["supported_formats"], `["json_detail"]`) || !jsonEq(it["supported_download_settings"], `["url"]`) ||
		!jsonEq(it["supported_action_types"], `["query"]`) || !jsonEq(it["params"], `[]`) ||
		!strings.HasPrefix(it["icon_data_uri"].(string), "data:image/svg+xml;base64,") {
		t.Errorf("list entry: %v", it)
	}

	// As in Node's tests: the form is the single url field.
	form := h.Form(t, c.Name, map[string]any{})
	if len(form.Fields) != 1 || form.Fields[0].Name != "url" || form.Fields[0].Label != c.URLLabel ||
		!form.Fields[0].Required || form.Fields[0].Type != sdk.FieldString {
		t.Errorf("form: %s", form.Body)
	}

	data := []byte(`{"fields":{"dimensions":[{"name":"users.email"}]},"data":[{"users.email":{"value":"a@b.c"}}]}`)
	res := Execute(t, h, c.Name, c.Hook, data)
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("execute: %d %s", res.Status, res.Body)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || string(reqs[0].Body) != string(data) || reqs[0].Path != c.HookPath {
		t.Fatalf("received %+v", reqs)
	}
	want := 1
	if c.More != nil {
		want += c.More(t, h, data)
	}

	// A host outside the vendor's domains is refused before anything is read or sent.
	for _, u := range c.BadURLs {
		res = Execute(t, h, c.Name, u, data)
		if res.Status != 404 || !strings.Contains(string(res.Body), "Incorrect domain for url.") {
			t.Errorf("%s: %d %s", u, res.Status, res.Body)
		}
	}
	res = Execute(t, h, c.Name, "", data)
	if res.Status != 404 || !strings.Contains(string(res.Body), "Missing url.") {
		t.Errorf("missing url: %d %s", res.Status, res.Body)
	}
	if n := len(f.Requests()); n != want {
		t.Errorf("%d requests reached the fake", n)
	}
}

// LoopbackRefused checks that without ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS the hub refuses
// to connect to the loopback fake, although the hook's host passed the domain check: the
// guard is at dial time. The reply must not reveal the hook's path.
func LoopbackRefused(t *testing.T, c Case) {
	f := fake.New(t, c.Hosts...)
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{Module(c, f)}})
	res := Execute(t, h, c.Name, c.Hook, []byte(`{"data":[]}`))
	if res.Status != 200 || res.Looker.Success || !strings.Contains(res.Looker.Message, "loopback") {
		t.Fatalf("execute: %d %s", res.Status, res.Body)
	}
	if c.HookSecret == "" || strings.Contains(string(res.Body), c.HookSecret) {
		t.Errorf("reply reveals the hook path: %s", res.Body)
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("%d requests reached the fake", n)
	}
}

// Conformance runs the actiontest conformance suite against the fake; the fake must get
// the data.
func Conformance(t *testing.T, c Case) {
	f := fake.New(t, c.Hosts...)
	data := []byte(`{"fields":{"dimensions":[]},"data":[]}`)
	actiontest.Conformance(t, Module(c, f), actiontest.CheckOptions{
		Env:        map[string]string{netguard.AllowPrivateVar: "true"},
		Data:       data,
		FormParams: map[string]string{"url": c.Hook},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			r := f.Requests()
			if len(r) == 0 || string(r[len(r)-1].Body) != string(data) {
				t.Errorf("the fake did not get the data")
			}
		},
	})
}

func jsonEq(v any, want string) bool {
	b, _ := json.Marshal(v)
	return string(b) == want
}
