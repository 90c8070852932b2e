package opstest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/benchkit"
	dropboxfake "github.com/actionhub/actionhub/internal/fakes/dropbox"
	"github.com/actionhub/actionhub/sdk"
)

// roundRobin is a reverse proxy that sends each request to the next replica and notes
// which one served it.
type roundRobin struct {
	names    []string
	proxies  []*httputil.ReverseProxy
	next     atomic.Int64
	mu       sync.Mutex
	landings []string // "A GET /actions/dropbox/oauth"
}

func newRoundRobin(t *testing.T, names []string, targets []string) *roundRobin {
	rr := &roundRobin{names: names}
	for _, tg := range targets {
		u, err := url.Parse(tg)
		if err != nil {
			t.Fatal(err)
		}
		rr.proxies = append(rr.proxies, &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		}})
	}
	return rr
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(rr.next.Add(1)-1) % len(rr.proxies)
	rr.mu.Lock()
	rr.landings = append(rr.landings, rr.names[i]+" "+r.Method+" "+r.URL.Path)
	rr.mu.Unlock()
	rr.proxies[i].ServeHTTP(w, r)
}

func (rr *roundRobin) log() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]string(nil), rr.landings...)
}

// TestScaleOutOAuthAcrossReplicas runs two replicas of the real binary (same secret,
// cipher key and base URL) behind a round-robin proxy and completes a Dropbox OAuth login
// whose steps land on alternate replicas: form (A) → /oauth (B) → provider →
// /oauth_redirect (A) → state POSTed to Looker → form (B) logged in → execute (A).
func TestScaleOutOAuthAcrossReplicas(t *testing.T) {
	fake := dropboxfake.New(t, "scale-app-key", "scale-app-secret")
	fake.AddFolder("/Reports")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	env := fake.Env()
	env["ACTION_HUB_BASE_URL"] = base
	// The stored login is encrypted with CIPHER_MASTER: written by A, read by B.
	env["ENCRYPT_PAYLOAD_DROPBOX"] = "true"
	a := startHub(t, benchkit.ProductionHub, env)
	b := startHub(t, benchkit.ProductionHub, env)
	rr := newRoundRobin(t, []string{"A", "B"}, []string{a.URL, b.URL})
	proxy := &http.Server{Handler: rr, ReadHeaderTimeout: 10 * time.Second}
	go proxy.Serve(ln)
	t.Cleanup(func() { proxy.Close() })

	// Looker's one-time state URL.
	var (
		stateMu sync.Mutex
		state   string
		posts   int
	)
	looker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		stateMu.Lock()
		state, posts = string(body), posts+1
		stateMu.Unlock()
	}))
	defer looker.Close()

	l := benchkit.NewLooker(base, a.Key, 1)
	ctx := context.Background()
	form := func(data map[string]any) []sdk.Field {
		t.Helper()
		r, err := l.Do(ctx, http.MethodPost, "/actions/dropbox/form", map[string]any{"type": "query", "data": data})
		if err != nil || r.Status != 200 {
			t.Fatalf("form: %v %+v", err, r)
		}
		var f struct {
			Fields []sdk.Field `json:"fields"`
		}
		if err := json.Unmarshal(r.Body, &f); err != nil {
			t.Fatalf("form: %v %s", err, r.Body)
		}
		return f.Fields
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	visit := func(u string, want int) *http.Response {
		t.Helper()
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", u, resp.StatusCode, want)
		}
		return resp
	}

	// 1. A: not logged in, the login form.
	fields := form(map[string]any{"state_url": looker.URL})
	if len(fields) != 1 || fields[0].Type != sdk.FieldOAuthLink || !strings.HasPrefix(fields[0].OAuthURL, base+"/actions/dropbox/oauth?state=") {
		t.Fatalf("login form: %+v", fields)
	}
	// 2. B: /oauth decrypts A's state and sends the browser to the provider.
	authorize := visit(fields[0].OAuthURL, http.StatusFound).Header.Get("Location")
	if !strings.HasPrefix(authorize, fake.URL+"/oauth2/authorize?") ||
		!strings.Contains(authorize, "redirect_uri="+url.QueryEscape(base+"/actions/dropbox/oauth_redirect")) {
		t.Fatalf("authorize URL %s", authorize)
	}
	// 3. The provider approves and sends the browser back through the proxy.
	back := visit(authorize, http.StatusFound).Header.Get("Location")
	if !strings.HasPrefix(back, base+"/actions/dropbox/oauth_redirect?") {
		t.Fatalf("redirect %s", back)
	}
	// 4. A: /oauth_redirect decrypts the state, exchanges the code and POSTs the tokens,
	// encrypted.
	visit(back, http.StatusOK)
	stateMu.Lock()
	st, n := state, posts
	stateMu.Unlock()
	var wrapped map[string]any
	if n != 1 || json.Unmarshal([]byte(st), &wrapped) != nil || wrapped["cid"] == nil || wrapped["payload"] == nil || strings.Contains(st, "access_token") {
		t.Fatalf("%d state POSTs: %s", n, st)
	}
	// 5. B: Looker sends the state back; B decrypts A's payload and, logged in, lists the
	// folders.
	fields = form(map[string]any{"state_url": looker.URL, "state_json": st})
	if len(fields) == 0 || fields[0].Name != "directory" {
		t.Fatalf("logged-in form: %+v", fields)
	}
	found := false
	for _, o := range fields[0].Options {
		found = found || strings.Contains(o.Label, "Reports") || strings.Contains(o.Name, "Reports")
	}
	if !found {
		t.Fatalf("the folder list lacks /Reports: %+v", fields[0].Options)
	}
	// 6. A: execute with the stored login.
	env2, err := l.Execute(ctx, "dropbox", map[string]any{"type": "query", "data": map[string]any{"state_json": st},
		"form_params": map[string]any{"directory": "Reports", "filename": "scale"},
		"attachment":  map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "a,b\n1,2\n"}})
	if err != nil || !env2.Success {
		t.Fatalf("execute: %+v %v", env2, err)
	}
	if got, ok := fake.File("/Reports/scale.csv"); !ok || string(got) != "a,b\n1,2\n" {
		t.Fatalf("uploaded %q %v", got, ok)
	}

	want := []string{"A POST /actions/dropbox/form", "B GET /actions/dropbox/oauth", "A GET /actions/dropbox/oauth_redirect",
		"B POST /actions/dropbox/form", "A POST /actions/dropbox/execute"}
	got := rr.log()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("landings %q, want %q", got, want)
	}
	t.Logf("OAuth round trip across replicas: %s", strings.Join(got, " → "))
}
