package simulator

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStateStore(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &StateStore{Now: func() time.Time { return now }}
	if _, ok := s.Get("ann", "drive"); ok {
		t.Fatal("state before any was set")
	}
	s.Set("ann", "drive", `{"t":1}`, "test")
	s.Set("bob", "drive", `{"t":2}`, "test")
	if v, _ := s.Get("ann", "drive"); v != `{"t":1}` {
		t.Errorf("ann: %q", v)
	}
	if v, _ := s.Get("bob", "drive"); v != `{"t":2}` {
		t.Errorf("bob: %q", v)
	}
	if _, ok := s.Get("ann", "dropbox"); ok {
		t.Errorf("state leaked across actions")
	}
	s.Set("ann", "drive", "reset", "test")
	if e := s.Entries(); len(e) != 2 || e[0].User != "ann" || !e[0].Reset || e[1].Bytes != 7 {
		t.Errorf("entries %+v", e)
	}
	s.Delete("ann", "drive")
	if _, ok := s.Get("ann", "drive"); ok {
		t.Errorf("deleted state still there")
	}

	// State URLs are one-time, of one kind, and expire.
	u := s.Issue("ann", "drive", false, "")
	r := s.Issue("ann", "drive", true, "https://hub/actions/drive/oauth_token")
	if s.Claim(u.Token, true) != nil || s.Claim(r.Token, false) != nil {
		t.Errorf("a URL was claimed as the other kind")
	}
	if s.Peek(u.Token, false) == nil {
		t.Errorf("peek of a fresh URL failed")
	}
	if got := s.Claim(u.Token, false); got == nil || got.User != "ann" || got.Action != "drive" {
		t.Fatalf("claim: %+v", got)
	}
	if s.Claim(u.Token, false) != nil {
		t.Errorf("claimed twice")
	}
	now = now.Add(StateURLTTL + time.Second)
	if s.Claim(r.Token, true) != nil {
		t.Errorf("claimed after expiry")
	}
}

func TestStateURLHandlerStoresHubState(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newTestSim(t, hub)
	ctx := context.Background()

	// First render of the v1 action: no state, so a login link carrying our state_url.
	rec := sim.Form(ctx, FormInput{Action: "o1", User: "ann"})
	if !rec.OK || len(rec.Fields) != 1 || rec.Fields[0].Kind() != "oauth_link" {
		t.Fatalf("login form: %+v", rec)
	}
	data := hub.body()["data"].(map[string]any)
	su, _ := data["state_url"].(string)
	if !strings.HasPrefix(su, srv.URL+"/state/") || data["state_json"] != nil || data["state_redir_url"] != nil {
		t.Fatalf("v1 form data: %v", data)
	}
	// The developer follows the link; the (fake) hub POSTs the tokens to the state URL.
	resp, err := http.Get(rec.Fields[0].OAuthURL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("oauth link: %v %v", err, resp)
	}
	resp.Body.Close()
	if v, _ := sim.States.Get("ann", "o1"); v != `{"access_token":"tok-v1"}` {
		t.Fatalf("stored state %q", v)
	}
	if _, ok := sim.States.Get("admin", "o1"); ok {
		t.Errorf("state stored for the wrong user")
	}
	// The state URL was one-time.
	resp, _ = http.Post(su, "application/json", strings.NewReader(`{"x":1}`))
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("second POST to the state URL: %d", resp.StatusCode)
	}

	// The next form carries it as state_json; the reply's state replaces it.
	rec = sim.Form(ctx, FormInput{Action: "o1", User: "ann"})
	if hub.body()["data"].(map[string]any)["state_json"] != `{"access_token":"tok-v1"}` {
		t.Errorf("state_json not sent: %v", hub.body()["data"])
	}
	if v, _ := sim.States.Get("ann", "o1"); v != `{"access_token":"tok-v1"} (refreshed)` || !strings.Contains(rec.StateChange, "replaced") {
		t.Errorf("reply state not applied: %q (%q)", v, rec.StateChange)
	}
	// The form exchange shows no state.
	if ex := rec.Exchanges[0]; strings.Contains(ex.RequestBody, "tok-v1") || strings.Contains(ex.ResponseBody, "tok-v1") {
		t.Errorf("state shown in the exchange:\n%s\n%s", ex.RequestBody, ex.ResponseBody)
	}
}

func TestOAuthV2TokenRedirect(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newTestSim(t, hub)
	ctx := context.Background()
	rec := sim.Form(ctx, FormInput{Action: "o2", User: "ann"})
	if !rec.OK || rec.Fields[0].Kind() != "oauth_link_google" {
		t.Fatalf("login form: %+v", rec)
	}
	if redir, _ := hub.body()["data"].(map[string]any)["state_redir_url"].(string); !strings.HasPrefix(redir, srv.URL+"/state_redir/") {
		t.Fatalf("state_redir_url %q", redir)
	}
	// Browser: hub /oauth → 302 to our state_redir_url?state=S2 → we call the token route.
	resp, err := http.Get(rec.Fields[0].OAuthURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Logged in") {
		t.Fatalf("redirect page %d:\n%s", resp.StatusCode, page)
	}
	v, _ := sim.States.Get("ann", "o2")
	if !strings.Contains(v, `"access_token":"at-v2"`) || !strings.Contains(v, `"redirect"`) {
		t.Fatalf("stored v2 state %q", v)
	}
	if c := hub.lastCall(); c.Path != "/actions/o2/oauth_token" {
		t.Errorf("last call %s, want the token route", c.Path)
	}
	if hub.body()["state"] != "S2-code-xyz" {
		t.Errorf("token route body %v", hub.body())
	}
	tok := sim.History.List()[0]
	if tok.Kind != "oauth_token" || !tok.OK || strings.Contains(tok.Exchanges[0].ResponseBody, "at-v2") ||
		strings.Contains(tok.Exchanges[0].RequestBody, "S2-code-xyz") {
		t.Errorf("token exchange record not masked: %+v\n%s\n%s", tok, tok.Exchanges[0].RequestBody, tok.Exchanges[0].ResponseBody)
	}
	// Logged in now: the next form gets the stored state.
	rec = sim.Form(ctx, FormInput{Action: "o2", User: "ann"})
	if rec.Fields[0].Name != "who" {
		t.Errorf("after login: %+v", rec.Fields)
	}
}

func TestDelegateLoginPage(t *testing.T) {
	hub := newFakeHub(t)
	sim, srv := newTestSim(t, hub)
	u := sim.States.Issue("ann", "slack_app", false, "")
	resp, err := http.Get(srv.URL + "/state/" + u.Token)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Simulated login for slack_app") {
		t.Fatalf("login page:\n%s", page)
	}
	resp, err = http.PostForm(srv.URL+"/state/"+u.Token+"/manual", map[string][]string{"state": {"xoxb-123"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v, _ := sim.States.Get("ann", "slack_app"); v != "xoxb-123" {
		t.Errorf("stored %q", v)
	}
	resp, _ = http.PostForm(srv.URL+"/state/"+u.Token+"/manual", map[string][]string{"state": {"again"}})
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("second use: %d", resp.StatusCode)
	}
}
