package opstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/actions/braze"
	"github.com/actionhub/actionhub/actions/dropbox"
	"github.com/actionhub/actionhub/actions/googledrive"
	"github.com/actionhub/actionhub/actions/segment"
	"github.com/actionhub/actionhub/actions/webhookbatch"
	"github.com/actionhub/actionhub/metrics"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
	"github.com/actionhub/actionhub/server"
)

// hostile is one malformed or hostile request, written byte for byte.
type hostile struct {
	name   string
	method string
	target string // request target as sent on the request line
	header []string
	body   []byte
	noAuth bool
	auth   string // Authorization value instead of the valid key
	// redirect: the answer may be a redirect (the /oauth route sends browsers on to the
	// provider whatever the state says, as the Node hub does).
	redirect bool
	// valid: the request is odd but valid (odd headers, strange yet well-formed JSON), so a
	// normal answer is right.
	valid bool
}

// hostileHub serves the Action API in this process, wired as server.Main wires it, so
// its goroutines can be counted.
func hostileHub(t *testing.T, getenv func(string) string) (string, func()) {
	cfg, err := server.LoadConfig(getenv, server.Production)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	fast := vendorhttp.Config{Timeout: time.Second, MaxRetries: -1}
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Observer: m, Modules: []sdk.Module{
		{Name: webhookbatch.Name, New: func(env *sdk.Env) (sdk.Action, error) { return webhookbatch.New(env, fast), nil }},
		braze.Module(braze.Options{HTTP: fast}),
		segment.Module(segment.Identify, segment.Options{HTTP: fast}),
		{Name: dropbox.Name, New: dropbox.New},
		{Name: googledrive.Name, New: googledrive.New},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m.SetActions(srv.Actions())
	ops := srv.OpsHandler(m)
	for _, p := range []string{"GET /metrics", "GET /healthz", "GET /readyz"} {
		srv.Handle(p, ops)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 60 * time.Second}
	go hs.Serve(ln)
	return ln.Addr().String(), func() { hs.Close() }
}

// TestLoadHostileRequests sends 10,000 malformed or hostile requests: bad JSON, bodies over
// the limit, wrong types, missing fields, bad tokens, path tricks, invalid OAuth state
// ciphertexts, oversized headers. None may get a 5xx; every answer the hub writes is an
// Action API error (a JSON body); and no goroutine is left behind.
func TestLoadHostileRequests(t *testing.T) {
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/truncated":
			io.WriteString(w, `{"fields":{"dimensions":[{"name":"users.id"}]},"data":[{"users.id":{"value":1}},{"users.id":`)
		case "/html":
			io.WriteString(w, "<html>login</html>")
		case "/500":
			http.Error(w, "no", 500)
		default:
			w.Write(bytes.Repeat([]byte("\x00garbage\xff"), 1000))
		}
	}))
	defer garbage.Close()
	closed := "http://127.0.0.1:1" // nothing listens on port 1
	env := map[string]string{
		"ACTION_HUB_BASE_URL": "http://hub.test", "ACTION_HUB_LABEL": "Hostile", "ACTION_HUB_SECRET": "hostile-secret",
		"CIPHER_MASTER": actioncrypto.GenerateKey(), "ACTION_HUB_MAX_BODY_BYTES": strconv.Itoa(1 << 20),
		"DROPBOX_ACTION_APP_KEY": "k", "DROPBOX_ACTION_APP_SECRET": "s", "GOOGLE_DRIVE_CLIENT_ID": "id", "GOOGLE_DRIVE_CLIENT_SECRET": "s",
		"ACTION_HUB_VENDOR_URL_DROPBOX_WWW": closed, "ACTION_HUB_VENDOR_URL_DROPBOX_API": closed, "ACTION_HUB_VENDOR_URL_DROPBOX_CONTENT": closed,
		"ACTION_HUB_VENDOR_URL_SEGMENT": closed, "ACTION_HUB_VENDOR_URL_BRAZE": closed, "SEGMENT_RATE_LIMIT": "0", "BRAZE_RATE_LIMIT": "0",
	}
	runtime.GC()
	before := runtime.NumGoroutine()
	addr, stop := hostileHub(t, func(k string) string { return env[k] })
	key := server.GenerateAPIKey(env["ACTION_HUB_SECRET"])
	otherCrypto := actioncrypto.New(actioncrypto.GenerateKey())
	foreignState, _ := otherCrypto.EncryptJSON(map[string]any{"stateurl": closed})

	reqs := hostileSet(garbage.URL, closed, foreignState, key)
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		fails    = map[string]int{}
		order    []string
		byHTTP   = map[string]int{} // answered by net/http before the hub: status + name
	)
	record := func(h hostile, st int, hdr http.Header, body []byte, err error) {
		mu.Lock()
		defer mu.Unlock()
		fail := func(format string, args ...any) {
			k := h.name + ": " + fmt.Sprintf(format, args...)
			if len(k) > 300 {
				k = k[:300]
			}
			if fails[k]++; fails[k] == 1 {
				order = append(order, k)
			}
		}
		if err != nil {
			fail("%v", err)
			return
		}
		statuses[st]++
		if st >= 500 {
			fail("status %d: %.200s", st, body)
			return
		}
		if hdr.Get("X-Request-Id") == "" {
			// net/http refused the request before the handler (header too large,
			// unparsable request line): a 4xx in plain text.
			byHTTP[strconv.Itoa(st)+" "+h.name]++
			if st != http.StatusBadRequest && st != http.StatusRequestHeaderFieldsTooLarge {
				fail("net/http answered %d", st)
			}
			return
		}
		if h.redirect && st == http.StatusFound {
			if loc := hdr.Get("Location"); !strings.HasPrefix(loc, closed+"/oauth2/authorize?") {
				fail("redirect to %q", loc)
			}
			return
		}
		if !json.Valid(bytes.TrimSpace(body)) || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			fail("status %d, %q body is not JSON: %.200q", st, hdr.Get("Content-Type"), body)
			return
		}
		var e struct {
			Success *bool  `json:"success"`
			Error   string `json:"error"`
			Looker  *struct {
				Success bool `json:"success"`
			} `json:"looker"`
			Fields []sdk.Field `json:"fields"`
		}
		json.Unmarshal(bytes.TrimSpace(body), &e)
		isForm := strings.HasSuffix(strings.SplitN(h.target, "?", 2)[0], "/form")
		switch {
		case st >= 400:
			if e.Success == nil || *e.Success || e.Error == "" {
				fail("status %d is not an Action API error: %.200s", st, body)
			}
		case h.valid:
		case st != http.StatusOK:
			fail("status %d for a hostile request: %.200s", st, body)
		case e.Looker != nil:
			// An execute's errors come in the envelope.
			if e.Looker.Success {
				fail("an execute succeeded: %.200s", body)
			}
		case isForm && e.Error != "":
			// A form's errors come as {"error": ...}.
		case isForm && len(e.Fields) == 1 && strings.HasPrefix(string(e.Fields[0].Type), "oauth_link"):
			// An OAuth action shown no usable state asks for a login.
		default:
			fail("status %d for a hostile request is not an error: %.200s", st, body)
		}
		if strings.Contains(string(body), env["ACTION_HUB_SECRET"]) || strings.Contains(string(body), key) {
			fail("a secret in the answer")
		}
	}

	const workers = 16
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &rawClient{addr: addr}
			defer c.close()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range next {
				h := reqs[i%len(reqs)]
				if h.name == "random bytes" {
					h.body = make([]byte, 1+rng.IntN(4096))
					for j := range h.body {
						h.body[j] = byte(rng.UintN(256))
					}
				}
				st, hdr, body, err := c.do(h, key)
				record(h, st, hdr, body, err)
			}
		}()
	}
	for i := range hostileRequests {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	// The hub's own idle keep-alive connections (downloads from the garbage server) are
	// not leaks: close them, then count.
	garbage.Close()
	if tr, ok := http.DefaultTransport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}

	// Settle: connections and handlers wind down.
	var after int
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		after = runtime.NumGoroutine()
		if after <= before || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	codes := make([]string, 0, len(statuses))
	for st, n := range statuses {
		codes = append(codes, fmt.Sprintf("%d×%d", n, st))
	}
	sort.Strings(codes)
	t.Logf("%d hostile requests (%d kinds) in %.1f s: statuses %s; answered by net/http before the hub: %v; goroutines %d before, %d after",
		hostileRequests, len(reqs), elapsed.Seconds(), strings.Join(codes, " "), byHTTP, before, after)
	for _, f := range order {
		t.Errorf("%d× %s", fails[f], f)
	}
	if after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutine leak: %d before, %d after\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// hostileSet builds the kinds of hostile requests.
func hostileSet(garbage, closed, foreignState, key string) []hostile {
	j := func(s string) []byte { return []byte(s) }
	var out []hostile
	add := func(h hostile) {
		if h.method == "" {
			h.method = http.MethodPost
		}
		out = append(out, h)
	}
	exec := func(action string) string { return "/actions/" + action + "/execute" }
	form := func(action string) string { return "/actions/" + action + "/form" }
	jsonCT := "Content-Type: application/json"

	// Bad JSON.
	for i, b := range []string{`{`, `{"type":`, `nul`, `tru`, `{"a":1}}`, `{"type":"query",}`, `{'type':'query'}`,
		"\x00\x01\x02", `{"type":"query","data":{"segment_write_key":"k"}` + strings.Repeat(" ", 10) + `]`,
		strings.Repeat("[", 100_000), strings.Repeat(`{"a":`, 20_000), `{"type": 1e99999}`, `{"type":"query"} trailing`, "\xef\xbb\xbf{}"} {
		for _, a := range []string{exec("segment_event"), form("braze"), "/", "/actions/webhook_batch"} {
			add(hostile{name: fmt.Sprintf("bad JSON %d %s", i, a), target: a, header: []string{jsonCT}, body: j(b)})
		}
	}
	// Strange but valid JSON: a lone surrogate escape, NUL escapes.
	for i, b := range []string{`{"type":"query","data":{"x":"\ud800"}}`, `{"type":"query","data":{"x":"` + strings.Repeat("\\u0000", 10_000) + `"}}`} {
		add(hostile{name: fmt.Sprintf("odd JSON %d", i), target: exec("segment_event"), header: []string{jsonCT}, body: j(b)})
		add(hostile{name: fmt.Sprintf("odd JSON %d list", i), target: "/", header: []string{jsonCT}, body: j(b), valid: true})
	}
	add(hostile{name: "random bytes", target: exec("webhook_batch"), header: []string{jsonCT}})
	add(hostile{name: "random bytes", target: form("segment_event"), header: []string{jsonCT}})
	// Bodies over the limit (1 MiB here), JSON and not.
	huge := append(append(j(`{"type":"query","data":{"x":"`), bytes.Repeat([]byte("a"), 2<<20)...), j(`"}}`)...)
	add(hostile{name: "huge JSON body", target: exec("braze"), header: []string{jsonCT}, body: huge})
	add(hostile{name: "huge JSON body to form", target: form("webhook_batch"), header: []string{jsonCT}, body: huge})
	add(hostile{name: "huge non-JSON body", target: exec("braze"), header: []string{"Content-Type: text/plain"}, body: huge})
	add(hostile{name: "huge body, chunked", target: exec("segment_event"), header: []string{jsonCT, "Transfer-Encoding: chunked"}, body: huge})
	// Wrong types.
	for i, b := range []string{`{"type":5}`, `{"type":["query"]}`, `{"type":null}`, `{"data":[]}`, `{"data":"x"}`, `{"data":null}`,
		`{"type":"query","data":{"segment_write_key":5}}`, `{"type":"query","data":{"braze_api_key":{"a":1},"braze_api_endpoint":true}}`,
		`{"form_params":[]}`, `{"form_params":{"x":{"y":1}}}`, `{"scheduled_plan":"x"}`, `{"scheduled_plan":{"download_url":5}}`,
		`{"attachment":"x"}`, `{"attachment":{"data":5}}`, `{"attachment":{"data":"not base64!!"}}`, `null`, `[]`, `[1,2]`, `"string"`, `42`,
		`{"type":"query","data":{"state_json":{"a":1}}}`, `{"type":"query","data":{"state_json":"{\"cid\":\"x\",\"payload\":\"garbage\"}"}}`,
		`{"type":"query","data":{"state_json":"{\"cid\":\"x\",\"payload\":\"` + foreignState + `\"}"}}`} {
		for _, a := range []string{exec("segment_event"), exec("braze"), exec("webhook_batch"), form("dropbox"), exec("dropbox"), form("google_drive")} {
			add(hostile{name: fmt.Sprintf("wrong types %d %s", i, a), target: a, header: []string{jsonCT}, body: j(b)})
		}
	}
	// Missing fields and bad values (downloads from a server of garbage or a closed port).
	for i, b := range []string{`{}`, `{"type":"query"}`, `{"type":"dashboard","data":{"segment_write_key":"k"}}`,
		`{"type":"query","data":{}}`, `{"type":"query","data":{"url":"ftp://x","secret":"s"}}`,
		`{"type":"query","data":{"url":"http://","secret":"s"},"scheduled_plan":{"download_url":"` + garbage + `/x"}}`,
		`{"type":"query","data":{"url":"` + closed + `","secret":"s","batch_size":"-1"},"scheduled_plan":{"download_url":"` + garbage + `/x"}}`,
		`{"type":"query","data":{"url":"` + closed + `","secret":"s","batch_size":"99999999999"},"scheduled_plan":{"download_url":"` + garbage + `/x"}}`,
		`{"type":"query","data":{"segment_write_key":"k"},"scheduled_plan":{"download_url":"` + garbage + `/truncated"}}`,
		`{"type":"query","data":{"segment_write_key":"k"},"scheduled_plan":{"download_url":"` + garbage + `/html"}}`,
		`{"type":"query","data":{"segment_write_key":"k"},"scheduled_plan":{"download_url":"` + garbage + `/500"}}`,
		`{"type":"query","data":{"segment_write_key":"k"},"scheduled_plan":{"download_url":"` + closed + `/x"}}`,
		`{"type":"query","data":{"segment_write_key":"k"},"scheduled_plan":{"download_url":"not a url"}}`,
		`{"type":"query","data":{"segment_write_key":"k"},"scheduled_plan":{"download_url":"file:///etc/passwd"}}`,
		`{"type":"query","data":{"braze_api_key":"k","braze_api_endpoint":"https://evil.example.com"},"scheduled_plan":{"download_url":"` + garbage + `/x"}}`,
		`{"type":"query","data":{"braze_api_key":"k","braze_api_endpoint":"https://rest.iad-01.braze.com"},"form_params":{"braze_key":"nope"},"scheduled_plan":{"download_url":"` + garbage + `/truncated"}}`,
		`{"type":"query","data":{"url":"` + closed + `","secret":"s"},"scheduled_plan":{"download_url":"` + garbage + `/truncated"}}`} {
		for _, a := range []string{exec("segment_event"), exec("braze"), exec("webhook_batch"), form("webhook_batch")} {
			add(hostile{name: fmt.Sprintf("missing or bad fields %d %s", i, a), target: a, header: []string{jsonCT}, body: j(b)})
		}
	}
	// Bad tokens.
	for i, a := range []string{`Token token="wrong"`, `Token token=""`, `Token`, `Bearer ` + key, `Token  token="` + key + `"`,
		`Token token="` + strings.Repeat("k", 100_000) + `"`, `Token token="ü` + key + `"`, `Token token=` + key,
		`Token token="` + server.GenerateAPIKey("another-secret") + `"`, `Basic ` + key} {
		for _, p := range []string{"/", exec("segment_event"), form("braze"), "/actions/dropbox/oauth_check", "/actions/google_drive/oauth_token"} {
			m := http.MethodPost
			if strings.HasSuffix(p, "oauth_check") {
				m = http.MethodGet
			}
			add(hostile{name: fmt.Sprintf("bad token %d %s", i, p), method: m, target: p, auth: a, header: []string{jsonCT}, body: j(`{}`)})
		}
	}
	add(hostile{name: "no token", target: "/", noAuth: true, header: []string{jsonCT}, body: j(`{}`)})
	add(hostile{name: "no token execute", target: exec("braze"), noAuth: true, header: []string{jsonCT}, body: j(`{"type":"query"}`)})
	// Path tricks and methods.
	for _, p := range []string{"/actions/../x", "/actions/%2e%2e/execute", "/actions/%2E%2E/braze/execute", "/actions/..%2fbraze/execute",
		"/actions/braze/../braze/execute", "//actions/braze/execute", "/actions/braze/execute/", "/actions/braze/execute?x=1&x=2",
		"/actions/braze%00/execute", "/actions/%ZZ/execute", "/actions/" + strings.Repeat("a", 10_000) + "/execute", "/ACTIONS/braze/execute",
		"/actions/braze/EXECUTE", "/actions//execute", "/actions/%20/execute", "/%2e%2e/%2e%2e/etc/passwd", "/actions/braze/execute#frag",
		"/actions/segment_event%2fexecute", "/actions/./braze/form", "/actions/braze/form/..", "/.env", "/actions/braze%2F..%2F..%2Fx/form",
		"http://evil.example/actions/braze/execute", "*", "/actions/braze/execute;x=1", "/actions/debug/execute", "/status/../metrics"} {
		add(hostile{name: "path " + p, target: p, header: []string{jsonCT}, body: j(`{"type":"query"}`)})
	}
	for _, m := range []string{"GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"} {
		add(hostile{name: "method " + m, method: m, target: exec("braze"), header: []string{jsonCT}, body: j(`{}`)})
	}
	// Invalid state ciphertexts on the OAuth routes.
	for i, s := range []string{"garbage", "", "AAAA", strings.Repeat("A", 8000), "%00%01", foreignState,
		url.QueryEscape(foreignState[:len(foreignState)/2]), url.QueryEscape(`{"stateurl":"` + closed + `"}`)} {
		add(hostile{name: fmt.Sprintf("oauth_redirect state %d", i), method: "GET", noAuth: true,
			target: "/actions/dropbox/oauth_redirect?code=c&state=" + s})
		add(hostile{name: fmt.Sprintf("oauth_redirect error state %d", i), method: "GET", noAuth: true,
			target: "/actions/dropbox/oauth_redirect?error=access_denied%3Cscript%3E&state=" + s})
		add(hostile{name: fmt.Sprintf("oauth state %d", i), method: "GET", noAuth: true, redirect: true,
			target: "/actions/dropbox/oauth?state=" + s})
		add(hostile{name: fmt.Sprintf("google oauth_redirect state %d", i), method: "GET", noAuth: true,
			target: "/actions/google_drive/oauth_redirect?code=c&state=" + s})
		add(hostile{name: fmt.Sprintf("oauth_token state %d", i), target: "/actions/google_drive/oauth_token",
			header: []string{jsonCT}, body: j(`{"type":"query","state":"` + s + `"}`)})
		add(hostile{name: fmt.Sprintf("oauth_token state type %d", i), target: "/actions/google_drive/oauth_token",
			header: []string{jsonCT}, body: j(`{"type":"query","state":{"code":"` + s + `"}}`)})
	}
	add(hostile{name: "oauth on an action without OAuth", method: "GET", noAuth: true, target: "/actions/braze/oauth?state=x"})
	add(hostile{name: "oauth_redirect on an unknown action", method: "GET", noAuth: true, target: "/actions/nope/oauth_redirect?state=x"})
	add(hostile{name: "oauth_check without OAuth", method: "GET", target: "/actions/braze/oauth_check"})
	add(hostile{name: "oauth_token without OAuth v2", target: "/actions/dropbox/oauth_token", header: []string{jsonCT}, body: j(`{"state":"x"}`)})
	// Oversized and odd headers.
	add(hostile{name: "64 KiB header", target: exec("braze"), header: []string{jsonCT, "X-Junk: " + strings.Repeat("j", 64<<10)}, body: j(`{}`)})
	add(hostile{name: "many headers", target: form("braze"), header: append([]string{jsonCT}, repeatHeaders(2000)...), body: j(`{}`), valid: true})
	add(hostile{name: "2 MiB header", target: exec("braze"), header: []string{jsonCT, "X-Junk: " + strings.Repeat("j", 2<<20)}, body: j(`{}`)})
	add(hostile{name: "long request id", target: form("braze"), header: []string{jsonCT, "X-Request-Id: " + strings.Repeat("r", 10_000)}, body: j(`{}`), valid: true})
	add(hostile{name: "odd content type", target: exec("braze"), header: []string{"Content-Type: application/json; charset=utf-16"}, body: j(`{"type":"query"}`)})
	add(hostile{name: "bad content type", target: exec("braze"), header: []string{"Content-Type: ;;;"}, body: j(`{"type":"query"}`)})
	add(hostile{name: "bad user agent", target: "/", header: []string{jsonCT, "User-Agent: LookerOutgoingWebhook/99999999999999999999.1.1"}, body: j(`{}`), valid: true})
	return out
}

func repeatHeaders(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("X-H%d: %d", i, i)
	}
	return out
}

// rawClient writes requests byte for byte on a keep-alive connection, reconnecting when
// the server closes it.
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawClient) do(h hostile, key string) (int, http.Header, []byte, error) {
	for attempt := 0; ; attempt++ {
		st, hdr, body, err := c.try(h, key)
		if err != nil && attempt == 0 && c.conn == nil {
			continue // a kept-alive connection the server had closed: once more on a new one
		}
		return st, hdr, body, err
	}
}

func (c *rawClient) try(h hostile, key string) (int, http.Header, []byte, error) {
	fresh := false
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, nil, nil, err
		}
		c.conn, c.br, fresh = conn, bufio.NewReaderSize(conn, 64<<10), true
	}
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: hub.test\r\n", h.method, h.target)
	if !slices.ContainsFunc(h.header, func(s string) bool { return strings.HasPrefix(s, "User-Agent:") }) {
		head.WriteString("User-Agent: LookerOutgoingWebhook/24.18.0\r\n")
	}
	switch {
	case h.noAuth:
	case h.auth != "":
		fmt.Fprintf(&head, "Authorization: %s\r\n", h.auth)
	default:
		fmt.Fprintf(&head, "Authorization: %s\r\n", server.AuthorizationHeader(key))
	}
	chunked := false
	for _, hd := range h.header {
		head.WriteString(hd + "\r\n")
		chunked = chunked || strings.HasPrefix(hd, "Transfer-Encoding: chunked")
	}
	body := h.body
	if chunked {
		var b bytes.Buffer
		for len(body) > 0 {
			n := min(len(body), 64<<10)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
			body = body[n:]
		}
		b.WriteString("0\r\n\r\n")
		body = b.Bytes()
	} else if h.body != nil || h.method == http.MethodPost {
		fmt.Fprintf(&head, "Content-Length: %d\r\n", len(h.body))
	}
	head.WriteString("\r\n")
	// Write while reading: the server may answer (413, 431) before taking the whole body.
	werr := make(chan error, 1)
	go func() {
		_, err := c.conn.Write(append(head.Bytes(), body...))
		werr <- err
	}()
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		<-werr
		c.close()
		if !fresh {
			return 0, nil, nil, err
		}
		return 0, nil, nil, fmt.Errorf("no answer on a new connection: %w", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.close()
		return 0, nil, nil, err
	}
	if e := <-werr; e != nil || resp.Close {
		c.close()
	}
	return resp.StatusCode, resp.Header, b, nil
}
