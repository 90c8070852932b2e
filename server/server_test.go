package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
	"github.com/actionhub/actionhub/server"
)

const vectors = "../../shared/vectors/"

func readVector(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors, name))
	if err != nil {
		t.Fatalf("vector %s: %v (the shared/ folder must sit beside the repository)", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func newHub(t *testing.T, env map[string]string) *hubtest.Hub {
	if env == nil {
		env = map[string]string{}
	}
	if env["ACTION_HUB_BASE_URL"] == "" {
		env["ACTION_HUB_BASE_URL"] = "https://actionhub.example.com"
	}
	if env["ACTION_HUB_LABEL"] == "" {
		env["ACTION_HUB_LABEL"] = "My Action Hub"
	}
	return hubtest.New(t, hubtest.Options{Env: env, Actions: testModules()})
}

// raw sends a request with full control of headers.
func raw(t *testing.T, method, u string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestActionListMatchesGoldenVector(t *testing.T) {
	var vec struct {
		Response struct {
			BodyExample json.RawMessage `json:"body_example"`
		} `json:"response"`
	}
	readVector(t, "requests/01_action_list.json", &vec)
	h := newHub(t, map[string]string{"ACTION_WHITELIST": "azure_storage,airtable,google_drive,debug"})
	r := h.Post(t, "/", map[string]any{})
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("status %d, content type %q", r.Status, r.Header.Get("Content-Type"))
	}
	// Same keys in the same order: compare canonical orderings of the vector's entries
	// (ours are sorted by name) after re-encoding both with key order preserved.
	var got, want struct {
		Integrations []json.RawMessage `json:"integrations"`
		Label        string            `json:"label"`
	}
	json.Unmarshal(r.Body, &got)
	json.Unmarshal(vec.Response.BodyExample, &want)
	if got.Label != "My Action Hub" || len(got.Integrations) != 4 {
		t.Fatalf("label %q, %d integrations", got.Label, len(got.Integrations))
	}
	byName := map[string]string{}
	for _, raw := range want.Integrations {
		var n struct{ Name string }
		json.Unmarshal(raw, &n)
		byName[n.Name] = compact(t, raw)
	}
	for _, raw := range got.Integrations {
		var n struct{ Name string }
		json.Unmarshal(raw, &n)
		if g, w := compact(t, raw), byName[n.Name]; g != w {
			t.Errorf("%s:\n got %s\nwant %s", n.Name, g, w)
		}
	}
	// Golden file of our own full list (a change of wire shape fails here).
	golden(t, "action_list.golden.json", r.Body)
}

func compact(t *testing.T, b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with UPDATE_GOLDEN=1 to create)", name, err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("%s differs:\n got %s\nwant %s", name, got, want)
	}
}

func TestAPIKeyVectors(t *testing.T) {
	var vec struct {
		Secret string `json:"action_hub_secret"`
		Keys   []struct {
			Nonce  string `json:"nonce"`
			APIKey string `json:"api_key"`
		} `json:"keys"`
		Cases []struct {
			Authorization string `json:"authorization"`
			Expected      string `json:"expected"`
			Note          string `json:"note"`
		} `json:"header_cases"`
	}
	readVector(t, "api_key.json", &vec)
	for _, k := range vec.Keys {
		if got := server.APIKey(vec.Secret, k.Nonce); got != k.APIKey {
			t.Errorf("key for %s = %s, want %s", k.Nonce, got, k.APIKey)
		}
	}
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_SECRET": vec.Secret}, Actions: testModules()})
	for _, c := range vec.Cases {
		status, hdr, body := raw(t, "POST", h.URL+"/", []byte(`{}`), map[string]string{"Authorization": c.Authorization, "Content-Type": "application/json"})
		want := 403
		if c.Expected == "accept" {
			want = 200
		}
		if status != want {
			t.Errorf("%s: status %d, want %d", c.Note, status, want)
		}
		if want == 403 && (string(body) != `{"success":false,"error":"Invalid 'Authorization' header."}` ||
			hdr.Get("Content-Type") != "application/json; charset=utf-8") {
			t.Errorf("%s: 403 body %s", c.Note, body)
		}
	}
}

func TestErrorCatalogue(t *testing.T) {
	h := newHub(t, nil)
	cases := []struct {
		name, path string
		body       any
		status     int
		want       string
	}{
		{"unknown action", "/actions/nonexistent/execute", map[string]any{"type": "query"}, 404, `{"success":false,"error":"No action found with name nonexistent."}`},
		{"unsupported type", "/actions/azure_storage/execute", map[string]any{"type": "cell"}, 404, `{"success":false,"error":"This action does not support requests of type \"cell\". The request must be of type: \"query\", \"dashboard\"."}`},
		{"missing type", "/actions/azure_storage/execute", map[string]any{}, 404, `{"success":false,"error":"No request type specified. The request must be of type: \"query\", \"dashboard\"."}`},
		{"null type", "/actions/azure_storage/execute", map[string]any{"type": nil}, 404, `{"success":false,"error":"Action did not specify a \"type\"."}`},
		{"null type on list", "/", map[string]any{"type": nil}, 404, `{"success":false,"error":"Action did not specify a \"type\"."}`},
		{"required param", "/actions/behave/execute", map[string]any{"type": "query"}, 404, `{"success":false,"error":"Required setting \"API Key\" not specified in action settings."}`},
		{"required param form", "/actions/behave/form", map[string]any{"type": "query"}, 200, `{"error":"Required setting \"API Key\" not specified in action settings."}`},
		{"streaming without data", "/actions/azure_storage/execute", map[string]any{"type": "query", "data": map[string]string{"account": "a", "accessKey": "k"}}, 404, `{"success":false,"error":"A streaming action was sent incompatible data. The action must have a download url or an attachment."}`},
		{"user error", "/actions/behave/execute", map[string]any{"type": "query", "data": map[string]string{"api_key": "k"}, "form_params": map[string]string{"do": "usererror"}}, 404, `{"success":false,"error":"Something the user must fix."}`},
		{"form user error", "/actions/behave/form", map[string]any{"type": "query", "data": map[string]string{"api_key": "k"}, "form_params": map[string]string{"do": "usererror"}}, 404, `{"success":false,"error":"bad form"}`},
		{"panic", "/actions/behave/execute", map[string]any{"type": "query", "data": map[string]string{"api_key": "k"}, "form_params": map[string]string{"do": "panic"}}, 500, `{"success":false,"error":"Internal server error."}`},
		{"action error", "/actions/behave/execute", map[string]any{"type": "query", "data": map[string]string{"api_key": "k"}, "form_params": map[string]string{"do": "error"}}, 200, `{"looker":{"message":"vendor said no","refresh_query":false,"success":false,"validation_errors":{},"webhookId":"actiontest-webhook"}}`},
		{"success", "/actions/behave/execute", map[string]any{"type": "query", "data": map[string]string{"api_key": "k"}}, 200, `{"looker":{"message":"done","refresh_query":false,"success":true,"validation_errors":{}}}`},
		{"report", "/actions/behave/execute", map[string]any{"type": "query", "data": map[string]string{"api_key": "k"}, "form_params": map[string]string{"do": "report"}}, 200, `{"looker":{"message":"Delivered 2 of 3 rows; 1 rejected: row 3: invalid email.","refresh_query":false,"success":false,"validation_errors":{},"webhookId":"actiontest-webhook"}}`},
		{"no form", "/actions/formless/form", map[string]any{"type": "query"}, 404, `{"success":false,"error":"No form defined for action."}`},
		{"malformed JSON", "/actions/behave/execute", []byte(`{"type": "query",`), 400, `{"success":false,"error":"request body is not a JSON object: unexpected end of JSON"}`},
		{"not an object", "/actions/behave/execute", []byte(`"query"`), 400, `{"success":false,"error":"Request body must be a JSON object."}`},
		{"wrong field type", "/actions/behave/execute", []byte(`{"type":"query","data":[1,2]}`), 400, `{"success":false,"error":"request body is not a JSON object: \"data\" must not be a JSON array"}`},
		{"type not a string", "/actions/behave/execute", []byte(`{"type":5}`), 404, `{"success":false,"error":"Action request \"type\" must be a string."}`},
		{"oauth_token on non-v2", "/actions/airtable/oauth_token", map[string]any{"state": "x"}, 404, `{"success":false,"error":"Action does not support the OAuth token route."}`},
		{"unknown route", "/nowhere", map[string]any{}, 404, `{"success":false,"error":"Cannot POST /nowhere"}`},
		{"dot segments", "/actions/../actions/behave/execute", map[string]any{}, 404, `{"success":false,"error":"Cannot POST /actions/../actions/behave/execute"}`},
		{"double slash", "//actions/behave/execute", map[string]any{}, 404, `{"success":false,"error":"Cannot POST //actions/behave/execute"}`},
		{"trailing data", "/actions/behave/execute", []byte(`{"type":"query"} trailing`), 400, `{"success":false,"error":"request body is not a JSON object: data after the JSON object"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.Post(t, c.path, c.body)
			if r.Status != c.status || strings.TrimSpace(string(r.Body)) != c.want {
				t.Errorf("got %d %s\nwant %d %s", r.Status, r.Body, c.status, c.want)
			}
			ct := r.Header.Get("Content-Type")
			if !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

func TestBodyLimitIsJSON413(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_MAX_BODY_BYTES": "1000"}, Actions: testModules()})
	big := `{"type":"query","data":{"api_key":"` + strings.Repeat("x", 2000) + `"}}`
	r := h.Post(t, "/actions/behave/execute", []byte(big))
	if r.Status != 413 || !strings.Contains(string(r.Body), `"success":false`) {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
}

func TestVersionGateAndWhitelist(t *testing.T) {
	h := newHub(t, nil)
	list := func(ua string) []string {
		status, _, body := raw(t, "POST", h.URL+"/", []byte(`{}`), map[string]string{
			"Authorization": server.AuthorizationHeader(h.Key), "Content-Type": "application/json", "User-Agent": ua})
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		var l struct{ Integrations []struct{ Name string } }
		json.Unmarshal(body, &l)
		var names []string
		for _, i := range l.Integrations {
			names = append(names, i.Name)
		}
		return names
	}
	if got := list("LookerOutgoingWebhook/6.0.0"); contains(got, "behave") {
		t.Errorf("behave (min 7.0.0) listed for 6.0.0: %v", got)
	}
	if got := list("LookerOutgoingWebhook/7.3.0"); !contains(got, "behave") {
		t.Errorf("behave not listed for 7.3.0: %v", got)
	}
	if got := list("curl/8"); len(got) != 6 {
		t.Errorf("no version must not filter: %v", got)
	}
	w := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_WHITELIST": "debug"}, Actions: testModules()})
	r := w.Post(t, "/", map[string]any{})
	if !strings.Contains(string(r.Body), `"name":"debug"`) || strings.Contains(string(r.Body), `"name":"behave"`) {
		t.Errorf("whitelist: %s", r.Body)
	}
	if r := w.Post(t, "/actions/behave/execute", map[string]any{"type": "query"}); r.Status != 404 {
		t.Errorf("whitelisted-out action answered %d", r.Status)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestKeepAliveNewlinesThenEnvelope(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_JSON_KEEPALIVE_SEC": "0.05"}, Actions: testModules()})
	r := h.Post(t, "/actions/behave/execute", map[string]any{"type": "query", "data": map[string]string{"api_key": "k"},
		"form_params": map[string]string{"sleep_ms": "300"}})
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" || !bytes.HasPrefix(r.Body, []byte("\n")) {
		t.Fatalf("got %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	if r.Header.Get("Content-Length") != "" {
		t.Errorf("a keep-alive reply must not have a Content-Length")
	}
	if got := strings.TrimLeft(string(r.Body), "\n"); got != `{"looker":{"message":"done","refresh_query":false,"success":true,"validation_errors":{}}}` {
		t.Errorf("body after newlines: %s", got)
	}
	// An error after the first newline ends with an error envelope (Node hangs here).
	r = h.Post(t, "/actions/behave/execute", map[string]any{"type": "query", "data": map[string]string{"api_key": "k"},
		"form_params": map[string]string{"sleep_ms": "300", "do": "usererror"}})
	if got := strings.TrimLeft(string(r.Body), "\n"); r.Status != 200 || got != `{"looker":{"message":"Something the user must fix.","refresh_query":false,"success":false,"validation_errors":{},"webhookId":"actiontest-webhook"}}` {
		t.Errorf("late error: %d %q", r.Status, r.Body)
	}
}

func TestOAuthV1RoundTrip(t *testing.T) {
	var mu sync.Mutex
	var posted []string
	looker := http.NewServeMux()
	looker.HandleFunc("POST /state/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, string(b))
		mu.Unlock()
	})
	ls := httpServer(t, looker)
	for _, encrypt := range []bool{false, true} {
		env := map[string]string{}
		if encrypt {
			env["ENCRYPT_PAYLOAD_AIRTABLE"] = "true"
		}
		h := newHub(t, env)
		f := h.Form(t, "airtable", map[string]any{"type": "query", "data": map[string]string{"state_url": ls + "/state/1"}})
		if f.Status != 200 || len(f.Fields) != 1 || f.Fields[0].Type != sdk.FieldOAuthLink || f.State == nil || f.State.Data != nil {
			t.Fatalf("login form: %d %s", f.Status, f.Body)
		}
		if !strings.Contains(string(f.Body), `"state":{}`) {
			t.Errorf("login form state must serialise as {}: %s", f.Body)
		}
		link, _ := url.Parse(f.Fields[0].OAuthURL)
		if link.Path != "/actions/airtable/oauth" || !strings.HasPrefix(f.Fields[0].OAuthURL, "https://actionhub.example.com/") {
			t.Fatalf("oauth url %s", f.Fields[0].OAuthURL)
		}
		enc := link.Query().Get("state")
		var st map[string]string
		if err := actioncrypto.New(hubtest.CipherMaster).DecryptJSON(enc, &st); err != nil || st["stateurl"] != ls+"/state/1" || st["verifier"] != "v123" {
			t.Fatalf("state decrypts to %v (%v)", st, err)
		}
		status, hdr, _ := raw(t, "GET", h.URL+"/actions/airtable/oauth?state="+enc, nil, nil)
		loc, _ := url.Parse(hdr.Get("Location"))
		if status != 302 || loc.Host != "provider.example" || loc.Query().Get("state") != enc || loc.Query().Get("challenge") != "v123" ||
			loc.Query().Get("redirect_uri") != "https://actionhub.example.com/actions/airtable/oauth_redirect" {
			t.Fatalf("oauth: %d %s", status, hdr.Get("Location"))
		}
		status, hdr, body := raw(t, "GET", h.URL+"/actions/airtable/oauth_redirect?code=C1&state="+enc, nil, nil)
		if status != 200 || string(body) != server.CloseTabHTML || hdr.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("redirect: %d %s", status, body)
		}
		mu.Lock()
		last := posted[len(posted)-1]
		mu.Unlock()
		if encrypt == strings.Contains(last, `"code"`) || !json.Valid([]byte(last)) {
			t.Fatalf("posted state (encrypt=%v): %s", encrypt, last)
		}
		// The stored state works on the next form and execute.
		f = h.Form(t, "airtable", map[string]any{"type": "query", "data": map[string]string{"state_json": last}})
		if len(f.Fields) != 1 || f.Fields[0].Name != "table" {
			t.Fatalf("logged-in form: %s", f.Body)
		}
		e := h.Execute(t, "airtable", map[string]any{"type": "query", "data": map[string]string{"state_json": last}})
		if !e.Looker.Success || e.Looker.Message != "token C1" {
			t.Fatalf("execute with state: %s", e.Body)
		}
		// A bad code is the action's user error, a tampered state a 400.
		status, _, body = raw(t, "GET", h.URL+"/actions/airtable/oauth_redirect?code=bad&state="+enc, nil, nil)
		if status != 404 || !strings.Contains(string(body), "The provider refused the code.") {
			t.Errorf("bad code: %d %s", status, body)
		}
		status, _, _ = raw(t, "GET", h.URL+"/actions/airtable/oauth_redirect?code=C&state=1043022garbage", nil, nil)
		if status != 400 {
			t.Errorf("tampered state: %d", status)
		}
	}
	// Routes on non-OAuth and unknown actions answer (Node hangs or crashes).
	h := newHub(t, nil)
	for _, p := range []string{"/actions/debug/oauth?state=x", "/actions/nope/oauth", "/actions/debug/oauth_redirect?state=x"} {
		if status, _, body := raw(t, "GET", h.URL+p, nil, nil); status != 404 || !json.Valid(body) {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
	if r := h.Get(t, "/actions/debug/oauth_check"); r.Status != 404 {
		t.Errorf("oauth_check on non-OAuth: %d", r.Status)
	}
	if r := h.Get(t, "/actions/airtable/oauth_check"); r.Status != 200 || string(r.Body) != "true" {
		t.Errorf("oauth_check: %d %s", r.Status, r.Body)
	}
}

func httpServer(t *testing.T, h http.Handler) string {
	s := &http.Server{Handler: h}
	ln := listen(t)
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return "http://" + ln.Addr().String()
}

func TestOAuthV2TokenRoute(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		env := map[string]string{}
		if encrypt {
			env["ENCRYPT_PAYLOAD_GOOGLE_DRIVE"] = "true"
		}
		h := newHub(t, env)
		c := actioncrypto.New(hubtest.CipherMaster)
		enc, _ := c.EncryptJSON(map[string]string{"tokenurl": "https://looker.example/action_hub_state_redirect/1"})
		status, hdr, _ := raw(t, "GET", h.URL+"/actions/google_drive/oauth_redirect?code=4%2F0Ab&state="+enc, nil, nil)
		loc := hdr.Get("Location")
		if status != 302 || !strings.HasPrefix(loc, "https://looker.example/action_hub_state_redirect/1?state=") {
			t.Fatalf("v2 redirect: %d %s", status, loc)
		}
		s2 := strings.TrimPrefix(loc, "https://looker.example/action_hub_state_redirect/1?state=")
		var st map[string]string
		if err := c.DecryptJSON(s2, &st); err != nil || st["code"] != "4/0Ab" || st["redirecturi"] != "https://actionhub.example.com/actions/google_drive/oauth_redirect" {
			t.Fatalf("S2 = %v %v", st, err)
		}
		r := h.Post(t, "/actions/google_drive/oauth_token", map[string]any{"state": s2})
		if r.Status != 200 || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("token: %d %s", r.Status, r.Body)
		}
		var reply map[string]any
		json.Unmarshal(r.Body, &reply)
		if encrypt {
			var inner map[string]any
			if reply["cid"] != c.CipherID() || c.DecryptJSON(reply["payload"].(string), &inner) != nil {
				t.Fatalf("encrypted reply %s", r.Body)
			}
			reply = inner
		}
		want := map[string]any{"tokens": map[string]any{"access_token": "at-4/0Ab", "refresh_token": "rt"},
			"redirect": "https://actionhub.example.com/actions/google_drive/oauth_redirect"}
		if !reflect.DeepEqual(reply, want) {
			t.Errorf("reply %v", reply)
		}
		if r := h.Post(t, "/actions/google_drive/oauth_token", map[string]any{}); r.Status != 400 {
			t.Errorf("missing state: %d", r.Status)
		}
		bad, _ := c.EncryptJSON(map[string]string{"code": "norefresh", "redirecturi": "x"})
		if r := h.Post(t, "/actions/google_drive/oauth_token", map[string]any{"state": bad}); r.Status != 500 ||
			string(r.Body) != `{"success":false,"error":"Internal server error."}` {
			t.Errorf("exchange failure: %d %s", r.Status, r.Body)
		}
	}
}

func TestVectorV2TokenStateDecrypts(t *testing.T) {
	var vec struct {
		Request struct {
			Body struct{ State string } `json:"body"`
		} `json:"request"`
		CipherMaster string            `json:"cipher_master"`
		Want         map[string]string `json:"state_decrypts_to"`
	}
	readVector(t, "requests/09_oauth_v2_token.json", &vec)
	var got map[string]string
	if err := actioncrypto.New(vec.CipherMaster).DecryptJSON(vec.Request.Body.State, &got); err != nil || !reflect.DeepEqual(got, vec.Want) {
		t.Fatalf("got %v %v", got, err)
	}
}

func TestSecretsNeverLoggedOrEchoed(t *testing.T) {
	const apiSecret, stateSecret, code = "SEKRET-API-KEY-123", "SEKRET-STATE-456", "SEKRET-CODE-789"
	var logs bytes.Buffer
	var mu sync.Mutex
	lw := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_BASE_URL": "https://hub.example"}, Actions: testModules(),
		Logger: slog.New(slog.NewJSONHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	var bodies []string
	for _, do := range []string{"", "error", "usererror", "panic", "report"} {
		r := h.Post(t, "/actions/behave/execute", map[string]any{"type": "query",
			"data": map[string]string{"api_key": apiSecret, "state_json": stateSecret}, "form_params": map[string]string{"do": do}})
		bodies = append(bodies, string(r.Body))
	}
	r := h.Post(t, "/actions/behave/form", map[string]any{"type": "query", "data": map[string]string{"api_key": apiSecret, "state_json": stateSecret}})
	bodies = append(bodies, string(r.Body))
	c := actioncrypto.New(hubtest.CipherMaster)
	enc, _ := c.EncryptJSON(map[string]string{"stateurl": "http://127.0.0.1:1/" + stateSecret})
	raw(t, "GET", h.URL+"/actions/airtable/oauth_redirect?code="+code+"&state="+enc, nil, nil)
	raw(t, "GET", h.URL+"/actions/airtable/oauth?state="+enc, nil, nil)
	raw(t, "POST", h.URL+"/", []byte(`{}`), map[string]string{"Authorization": `Token token="` + apiSecret + `/x"`, "Content-Type": "application/json"})
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	for _, s := range []string{apiSecret, stateSecret, code, enc, hubtest.Secret, h.Key} {
		if strings.Contains(out, s) {
			t.Errorf("log contains secret %q:\n%s", s, out)
		}
		for _, b := range bodies {
			if strings.Contains(b, s) {
				t.Errorf("reply contains secret %q: %s", s, b)
			}
		}
	}
	if !strings.Contains(out, `"request_id"`) || !strings.Contains(out, `"action":"behave"`) {
		t.Errorf("log lines lack request id or action:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestStaticRoutes(t *testing.T) {
	h := newHub(t, nil)
	status, hdr, body := raw(t, "GET", h.URL+"/", nil, nil)
	if status != 200 || !strings.Contains(string(body), "The Action Hub is operational!") || hdr.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Errorf("GET /: %d %s", status, body)
	}
	if r := h.Post(t, "/actions/debug", map[string]any{}); r.Status != 200 || !strings.Contains(string(r.Body), `"name":"debug"`) {
		t.Errorf("POST /actions/debug: %d %s", r.Status, r.Body)
	}
}

func TestSecretRotation(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{"ACTION_HUB_SECRET": "new", "ACTION_HUB_SECRET_PREVIOUS": "old, older"}, Actions: testModules()})
	for secret, want := range map[string]int{"new": 200, "old": 200, "older": 200, "other": 403} {
		status, _, _ := raw(t, "POST", h.URL+"/", []byte(`{}`), map[string]string{
			"Authorization": server.AuthorizationHeader(server.APIKey(secret, "n1")), "Content-Type": "application/json"})
		if status != want {
			t.Errorf("key of %q: %d, want %d", secret, status, want)
		}
	}
}
