package simulator

import (
	"context"
	"strings"
	"testing"
)

func TestMaskJSON(t *testing.T) {
	m := Masker{Sensitive: map[string]bool{"api_key": true}}
	in := `{"type":"query","data":{"api_key":"SECRET1","region":"eu","state_json":"{\"t\":\"SECRET2\"}","state_url":"http://sim/state/abc"},` +
		`"form_params":{"api_key":"not-a-param"},"fields":[{"name":"login","oauth_url":"https://hub/actions/d/oauth?state=SECRET3&x=1"}],` +
		`"state":{"data":"SECRET4"},"tokens":{"access_token":"SECRET5","n":12},"payload":"SECRET6","nested":{"refresh_token":"SECRET7"}}`
	out := m.MaskJSON([]byte(in))
	for i := 1; i <= 7; i++ {
		if s := "SECRET" + string(rune('0'+i)); strings.Contains(out, s) {
			t.Errorf("%s not masked:\n%s", s, out)
		}
	}
	for _, keep := range []string{`"region": "eu"`, `"api_key": "not-a-param"`, `"state_url": "http://sim/state/abc"`, "x=1", `"type": "query"`} {
		if !strings.Contains(out, keep) {
			t.Errorf("%s lost:\n%s", keep, out)
		}
	}
	// Key order is kept.
	if strings.Index(out, `"type"`) > strings.Index(out, `"data"`) || strings.Index(out, `"data"`) > strings.Index(out, `"form_params"`) {
		t.Errorf("key order changed:\n%s", out)
	}
	// A whole-body state (token route reply) is masked entirely.
	all := Masker{All: true}.MaskJSON([]byte(`{"cid":"abc","redirect":"https://x","n":3}`))
	if strings.Contains(all, "abc") || strings.Contains(all, "https://x") || strings.Contains(all, "3") {
		t.Errorf("All mask: %s", all)
	}
	// Non-JSON bodies (Express HTML errors) are shown as text.
	if got := m.MaskJSON([]byte("<html>Cannot POST /x</html>")); got != "<html>Cannot POST /x</html>" {
		t.Errorf("html: %q", got)
	}
	// Long strings are cut.
	long := `{"data":{"x":"` + strings.Repeat("a", 10000) + `"}}`
	if got := m.MaskJSON([]byte(long)); len(got) > 3000 || !strings.Contains(got, "10000 bytes") {
		t.Errorf("long string not cut: %d bytes", len(got))
	}
}

func TestMaskAuthorization(t *testing.T) {
	if got := MaskAuthorization(`Token token="abc/def"`); got != `Token token="`+Masked+`"` {
		t.Errorf("got %q", got)
	}
	if got := MaskAuthorization("Bearer x"); got != Masked {
		t.Errorf("got %q", got)
	}
}

// TestExchangesAreMasked checks the recorded execute: no key, no sensitive param, no state.
func TestExchangesAreMasked(t *testing.T) {
	hub := newFakeHub(t)
	sim, _ := newTestSim(t, hub)
	sim.Config.SetParam("x", "api_key", "SENSITIVE-KEY")
	sim.Config.SetParam("x", "region", "eu-west")
	rec := sim.Execute(context.Background(), ExecInput{Action: "x", Gen: GenSpec{Rows: 5}, FormParams: map[string]string{"kind": "a"}})
	if !rec.OK {
		t.Fatalf("execute: %+v", rec)
	}
	// The hub got the real values.
	if hub.lastCall().Header.Get("Authorization") != `Token token="`+fakeKey+`"` || hub.body()["data"].(map[string]any)["api_key"] != "SENSITIVE-KEY" {
		t.Fatalf("hub did not get the real values")
	}
	ex := rec.Exchanges[0]
	all := ex.RequestBody + ex.ResponseBody
	for _, h := range ex.RequestHeaders {
		all += h.Name + ": " + h.Value + "\n"
	}
	if strings.Contains(all, "SENSITIVE-KEY") || strings.Contains(all, fakeKey) {
		t.Errorf("secret in the recorded exchange:\n%s", all)
	}
	if !strings.Contains(all, "eu-west") || !strings.Contains(all, `Token token="`+Masked+`"`) || !strings.Contains(all, "X-Looker-Webhook-Id") {
		t.Errorf("exchange lost non-secret content:\n%s", all)
	}
}
