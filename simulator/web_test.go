package simulator

import (
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWebUserSwitchAndStates(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newTestSim(t, hub)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	// Switch to user "bob": the cookie follows, pages and requests use it.
	resp, err := c.PostForm(srv.URL+"/user", url.Values{"user": {"bob"}, "back": {"/states"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/states" {
		t.Errorf("redirected to %s", resp.Request.URL.Path)
	}
	if _, body := get(t, c, srv.URL+"/send/o1"); !strings.Contains(body, "as bob") || !strings.Contains(body, `id="oauth-login"`) {
		t.Errorf("send page for bob:\n%s", body)
	}
	// An open redirect through "back" is refused.
	resp, _ = c.PostForm(srv.URL+"/user", url.Values{"user": {"bob"}, "back": {"//evil.example/"}})
	resp.Body.Close()
	if resp.Request.URL.Host != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("followed back to %s", resp.Request.URL)
	}

	// Set a state by hand, see it listed (masked), forget it.
	resp, _ = c.PostForm(srv.URL+"/states", url.Values{"op": {"set"}, "user": {"bob"}, "action": {"o1"}, "state": {`{"access_token":"HIDDEN"}`}})
	resp.Body.Close()
	if v, _ := sim.States.Get("bob", "o1"); v != `{"access_token":"HIDDEN"}` {
		t.Fatalf("state %q", v)
	}
	_, body := get(t, c, srv.URL+"/states")
	if !strings.Contains(body, "25 bytes") || strings.Contains(body, "HIDDEN") {
		t.Errorf("states page:\n%s", body)
	}
	// The logged-in form for bob, not for admin.
	if _, body := get(t, c, srv.URL+"/send/o1"); !strings.Contains(body, "logged in") {
		t.Errorf("bob's form does not see the state")
	}
	resp, _ = c.PostForm(srv.URL+"/states", url.Values{"op": {"delete"}, "user": {"bob"}, "action": {"o1"}})
	resp.Body.Close()
	if _, ok := sim.States.Get("bob", "o1"); ok {
		t.Errorf("state not forgotten")
	}
}

func TestWebAdminClearAndIcons(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newTestSim(t, hub)
	sim.Config.SetParam("x", "api_key", "old-secret")
	resp, err := http.PostForm(srv.URL+"/admin/x", url.Values{"p_api_key": {""}, "p_region": {"us"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sim.Config.Param("x", "api_key") != "old-secret" || sim.Config.Param("x", "region") != "us" {
		t.Fatalf("empty masked field changed the secret")
	}
	resp, _ = http.PostForm(srv.URL+"/admin/x", url.Values{"p_api_key": {""}, "clear_api_key": {"1"}})
	resp.Body.Close()
	if sim.Config.Param("x", "api_key") != "" {
		t.Errorf("clear did not clear")
	}
	// Only image data URIs become image sources.
	bad := "javascript:alert(1)"
	if got := funcs["icon"].(func(*string) template.URL)(&bad); got != "" {
		t.Errorf("icon %q let through", got)
	}
	if got := funcs["icon"].(func(*string) template.URL)(&fakeIcon); string(got) != fakeIcon {
		t.Errorf("svg icon refused")
	}
}

func TestWebResultJSONAndErrors(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newTestSim(t, hub)
	sim.Config.SetParam("x", "api_key", "k")
	// A send from the page with bad input shows the error on the page.
	resp, err := http.PostForm(srv.URL+"/send/x", url.Values{"_op": {"execute"}, "columns": {"a\na"}, "f_kind": {"a"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "listed twice") {
		t.Errorf("input error not shown:\n%s", b)
	}
	// A good send redirects to its result; the JSON form has the masked record.
	resp, err = http.PostForm(srv.URL+"/send/x", url.Values{"_op": {"execute"}, "rows": {"7"}, "format": {"csv"}, "via": {"push"}, "f_kind": {"a"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Request.URL.Path, "/history/") {
		t.Fatalf("landed on %s", resp.Request.URL)
	}
	code, body := get(t, http.DefaultClient, srv.URL+resp.Request.URL.Path+".json")
	var rec Send
	if code != 200 || json.Unmarshal([]byte(body), &rec) != nil || !rec.OK || rec.PushedRows != 7 || rec.Format != "csv" {
		t.Errorf("result JSON %d: %s", code, body)
	}
	if strings.Contains(body, fakeKey) || strings.Contains(body, `"k"`) {
		t.Errorf("secret in the result JSON")
	}
	if code, _ := get(t, http.DefaultClient, srv.URL+"/history/9999"); code != 404 {
		t.Errorf("unknown send: %d", code)
	}
	// With the hub down the list page says so.
	hub.srv.Close()
	sim.Actions(t.Context(), true)
	code, body = get(t, http.DefaultClient, srv.URL+"/send/nothing")
	if code != 200 || !strings.Contains(body, `id="error"`) {
		t.Errorf("hub down: %d", code)
	}
}

func TestHistoryBounded(t *testing.T) {
	h := &History{Max: 3}
	for i := 0; i < 5; i++ {
		h.Add(&Send{Kind: "list"})
	}
	l := h.List()
	if len(l) != 3 || l[0].ID != 5 || l[2].ID != 3 || h.Get(2) != nil || h.Get(4) == nil {
		t.Errorf("history %+v", l)
	}
	if (&History{}).Add(&Send{}).ID != 1 {
		t.Errorf("ids start at 1")
	}
}
