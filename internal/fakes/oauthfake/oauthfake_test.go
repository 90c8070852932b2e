package oauthfake

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	var tk Tokens
	me := Login{Email: "a@example.com", Scope: "s1 s2"}
	tk.AddCode("c1", "https://hub/cb", me)
	if red, l, ok := tk.RedeemCode("c1"); !ok || red != "https://hub/cb" || l != me {
		t.Fatalf("redeem: %q %+v %v", red, l, ok)
	}
	if _, _, ok := tk.RedeemCode("c1"); ok {
		t.Fatal("a code is used once")
	}
	exp := time.Now().Add(time.Hour)
	tk.AddAccess("a1", exp, me)
	if l, e, ok := tk.Access("a1"); !ok || l != me || !e.Equal(exp) {
		t.Fatalf("access: %+v %v %v", l, e, ok)
	}
	if _, _, ok := tk.Access("nope"); ok {
		t.Fatal("unknown access token accepted")
	}
	tk.ExpireAccess()
	if _, e, ok := tk.Access("a1"); !ok || !time.Now().After(e) {
		t.Fatalf("expired token: %v %v", e, ok)
	}
	tk.AddRefresh("r1", me)
	if l, ok := tk.Refresh("r1"); !ok || l != me {
		t.Fatalf("refresh: %+v %v", l, ok)
	}
	tk.RevokeRefresh()
	if _, ok := tk.Refresh("r1"); ok {
		t.Fatal("revoked refresh token accepted")
	}
	if e := Error("invalid_grant", "gone"); e["error"] != "invalid_grant" || e["error_description"] != "gone" {
		t.Errorf("error body %v", e)
	}
	if id := NewID("x.", 4); !strings.HasPrefix(id, "x.") || len(id) != 10 || id == NewID("x.", 4) {
		t.Errorf("id %q", id)
	}
}

func TestAuthorize(t *testing.T) {
	var tk Tokens
	p := Page{ClientID: "app", Refusal: "no", Echo: []string{"scope"}, Issue: func(q url.Values) string {
		tk.AddCode("code1", q.Get("redirect_uri"), Login{Scope: q.Get("scope")})
		return "code1"
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tk.Authorize(w, r, p) }))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "?" + url.Values{"client_id": {"app"}, "response_type": {"code"},
		"redirect_uri": {"https://hub/cb?x=1"}, "state": {"st"}, "scope": {"s"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Host != "hub" || loc.Query().Get("code") != "code1" ||
		loc.Query().Get("state") != "st" || loc.Query().Get("scope") != "s" || loc.Query().Get("x") != "1" {
		t.Fatalf("redirect %d %s", resp.StatusCode, loc)
	}
	if red, l, ok := tk.RedeemCode("code1"); !ok || red != "https://hub/cb?x=1" || l.Scope != "s" {
		t.Fatalf("issued code %q %+v %v", red, l, ok)
	}
	resp, err = client.Get(srv.URL + "?client_id=other&response_type=code&redirect_uri=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong client: %d", resp.StatusCode)
	}
	if q := tk.AuthorizeRequests(); len(q) != 2 || q[1].Get("client_id") != "other" {
		t.Errorf("recorded %v", q)
	}
}
