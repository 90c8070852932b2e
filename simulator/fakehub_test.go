package simulator

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const fakeKey = "nonce123/digest456"

// fakeIcon is a tiny SVG icon as the hub sends icons.
var fakeIcon = "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(
	`<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" rx="6" fill="#0b8"/><text x="9" y="23" font-size="18" fill="#fff">X</text></svg>`))

// fakeHub is a small Action Hub for the simulator's tests. Action "x" streams (download
// URL) and has a form with a select and an interactive field; "p" takes pushed data; "o1"
// and "o2" are OAuth v1 and v2 actions. Executes count the rows they receive.
type fakeHub struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	calls    []fakeCall
	lastBody map[string]any
	rows     int64
	dataErr  string
}

type fakeCall struct {
	Path   string
	Header http.Header
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fakeHub) URL() string { return h.srv.URL }

func (h *fakeHub) lastCall() fakeCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[len(h.calls)-1]
}

func (h *fakeHub) body() map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastBody
}

func (h *fakeHub) list() map[string]any {
	base := h.srv.URL
	sens := false
	return map[string]any{
		"label": "Fake Hub",
		"integrations": []map[string]any{
			{
				"description": "Counts rows it downloads.", "form_url": base + "/actions/x/form", "label": "Row Counter", "name": "x",
				"params": []map[string]any{
					{"name": "api_key", "label": "API Key", "required": true, "sensitive": true},
					{"name": "region", "label": "Region", "required": false, "sensitive": false, "description": "Vendor region."},
					{"name": "owner", "label": "Owner", "required": false, "sensitive": sens, "per_user": true},
				},
				"required_fields":        []map[string]any{{"tag": "email"}},
				"supported_action_types": []string{"query", "cell", "dashboard"},
				"uses_oauth":             false, "delegate_oauth": false,
				"supported_formats":           []string{"json_detail_lite_stream", "json_detail", "csv"},
				"supported_download_settings": []string{"url"},
				"icon_data_uri":               fakeIcon,
				"url":                         base + "/actions/x/execute", "token_url": "",
			},
			{
				"description": "Takes pushed data.", "form_url": nil, "label": "Push Taker", "name": "p",
				"params": []map[string]any{}, "required_fields": []map[string]any{},
				"supported_action_types": []string{"query", "dashboard"}, "uses_oauth": false, "delegate_oauth": false,
				"supported_download_settings": []string{"push"}, "icon_data_uri": nil,
				"url": base + "/actions/p/execute", "token_url": "",
			},
			{
				"description": "OAuth v1.", "form_url": base + "/actions/o1/form", "label": "OAuth One", "name": "o1",
				"params": []map[string]any{}, "required_fields": []map[string]any{},
				"supported_action_types": []string{"query"}, "uses_oauth": true, "delegate_oauth": false,
				"supported_formats": []string{"csv"}, "supported_download_settings": []string{"push"}, "icon_data_uri": nil,
				"url": base + "/actions/o1/execute", "token_url": "",
			},
			{
				"description": "OAuth v2.", "form_url": base + "/actions/o2/form", "label": "OAuth Two", "name": "o2",
				"params": []map[string]any{}, "required_fields": []map[string]any{},
				"supported_action_types": []string{"query"}, "uses_oauth": true, "delegate_oauth": false,
				"supported_download_settings": []string{"url"}, "icon_data_uri": nil,
				"url": base + "/actions/o2/execute", "token_url": base + "/actions/o2/oauth_token",
			},
		},
	}
}

var webhookIDRe = regexp.MustCompile(`^[0-9a-f]{16}$`)

// checkLooker verifies the headers Looker sends; it answers 403 like the hub on a bad key.
func (h *fakeHub) checkLooker(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != `Token token="`+fakeKey+`"` {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"success":false,"error":"Invalid 'Authorization' header."}`)
		return false
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "LookerOutgoingWebhook/") {
		h.t.Errorf("User-Agent = %q", ua)
	}
	if id := r.Header.Get("X-Looker-Webhook-Id"); !webhookIDRe.MatchString(id) {
		h.t.Errorf("X-Looker-Webhook-Id = %q", id)
	}
	if r.Header.Get("X-Looker-Instance") == "" {
		h.t.Errorf("no X-Looker-Instance")
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("Content-Type = %q", ct)
	}
	return true
}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.calls = append(h.calls, fakeCall{Path: r.URL.Path, Header: r.Header.Clone()})
	h.mu.Unlock()
	// Browser-facing OAuth routes (no Looker headers).
	switch r.URL.Path {
	case "/actions/o1/oauth":
		// A real hub would send the browser to the vendor; this one "logs in" at once
		// and POSTs the tokens to the state URL carried in the state parameter.
		su, _ := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("state"))
		resp, err := http.Post(string(su), "application/json", strings.NewReader(`{"access_token":"tok-v1"}`))
		if err != nil || resp.StatusCode != 200 {
			http.Error(w, "state_url post failed", 500)
			return
		}
		resp.Body.Close()
		io.WriteString(w, `<html><script>window.close()</script><body>You may now close this tab.</body></html>`)
		return
	case "/actions/o2/oauth":
		redir, _ := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("state"))
		http.Redirect(w, r, string(redir)+"?state=S2-code-xyz", http.StatusFound)
		return
	}
	if r.Method != http.MethodPost || !h.checkLooker(w, r) {
		if r.Method != http.MethodPost {
			http.NotFound(w, r)
		}
		return
	}
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil && err != io.EOF {
		http.Error(w, "bad json", 400)
		return
	}
	h.mu.Lock()
	h.lastBody = body
	h.mu.Unlock()
	data, _ := body["data"].(map[string]any)
	fp, _ := body["form_params"].(map[string]any)
	switch r.URL.Path {
	case "/":
		writeJSON(w, h.list())
	case "/actions/x/form":
		if data["api_key"] == nil || data["api_key"] == "" {
			writeJSON(w, map[string]any{"error": `Required setting "API Key" not specified in action settings.`})
			return
		}
		fields := []map[string]any{
			{"name": "kind", "label": "Kind", "type": "select", "required": true, "interactive": true, "default": "a",
				"options": []map[string]any{{"name": "a", "label": "Alpha"}, {"name": "b", "label": "Beta"}}},
			{"name": "note", "type": "message", "value": "Rows are counted, not stored."},
			{"name": "comment", "label": "Comment", "type": "textarea"},
		}
		if fp["kind"] == "b" {
			fields = append(fields, map[string]any{"name": "extra", "label": "Extra for Beta", "type": "string", "required": true})
		}
		keepAliveJSON(w, map[string]any{"fields": fields})
	case "/actions/x/execute", "/actions/p/execute", "/actions/o1/execute", "/actions/o2/execute":
		h.execute(w, r, body, data, fp)
	case "/actions/o1/form":
		if sj, _ := data["state_json"].(string); sj != "" {
			keepAliveJSON(w, map[string]any{"fields": []map[string]any{{"name": "who", "type": "message", "value": "logged in"}},
				"state": map[string]any{"data": sj + " (refreshed)"}})
			return
		}
		su, _ := data["state_url"].(string)
		keepAliveJSON(w, map[string]any{"fields": []map[string]any{{"name": "login", "type": "oauth_link", "label": "Log in",
			"oauth_url": h.srv.URL + "/actions/o1/oauth?state=" + base64.RawURLEncoding.EncodeToString([]byte(su))}},
			"state": map[string]any{}})
	case "/actions/o2/form":
		if sj, _ := data["state_json"].(string); sj != "" {
			keepAliveJSON(w, map[string]any{"fields": []map[string]any{{"name": "who", "type": "message", "value": "logged in"}}})
			return
		}
		redir, _ := data["state_redir_url"].(string)
		if redir == "" {
			h.t.Errorf("o2 form without state_redir_url: %v", data)
		}
		keepAliveJSON(w, map[string]any{"fields": []map[string]any{{"name": "login", "type": "oauth_link_google", "label": "Log in",
			"oauth_url": h.srv.URL + "/actions/o2/oauth?state=" + base64.RawURLEncoding.EncodeToString([]byte(redir))}}})
	case "/actions/o2/oauth_token":
		if body["state"] != "S2-code-xyz" {
			w.WriteHeader(500)
			writeJSON(w, map[string]any{"success": false, "error": "Internal server error."})
			return
		}
		writeJSON(w, map[string]any{"tokens": map[string]any{"access_token": "at-v2", "refresh_token": "rt-v2"},
			"redirect": h.srv.URL + "/actions/o2/oauth_redirect"})
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(404)
		io.WriteString(w, `{"success":false,"error":"No action found with name `+strings.TrimPrefix(r.URL.Path, "/actions/")+`."}`)
	}
}

func (h *fakeHub) execute(w http.ResponseWriter, r *http.Request, body, data, fp map[string]any) {
	var rows int64
	var err error
	plan, _ := body["scheduled_plan"].(map[string]any)
	att, _ := body["attachment"].(map[string]any)
	switch {
	case body["type"] == "cell":
		rows = 1
		if data["value"] == nil {
			err = fmt.Errorf("no data.value")
		}
	case plan != nil && plan["download_url"] != nil:
		rows, err = countDownload(plan["download_url"].(string))
	case att != nil:
		rows, err = countAttachment(att)
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(404)
		io.WriteString(w, `{"success":false,"error":"A streaming action was sent incompatible data. The action must have a download url or an attachment."}`)
		return
	}
	h.mu.Lock()
	h.rows = rows
	h.dataErr = ""
	if err != nil {
		h.dataErr = err.Error()
	}
	h.mu.Unlock()
	if err != nil {
		keepAliveJSON(w, map[string]any{"looker": map[string]any{"success": false, "message": err.Error(), "refresh_query": false, "validation_errors": map[string]any{}}})
		return
	}
	if fp["kind"] == "b" && fp["extra"] == "bad" {
		keepAliveJSON(w, map[string]any{"looker": map[string]any{"success": false, "refresh_query": false,
			"message": "Delivered 0 of " + groupDigits(rows) + " rows.", "validation_errors": map[string]any{"extra": "Extra must not be bad."}}})
		return
	}
	n := groupDigits(rows)
	keepAliveJSON(w, map[string]any{"looker": map[string]any{"success": true, "refresh_query": false,
		"message": "Delivered " + n + " of " + n + " rows.", "validation_errors": map[string]any{},
		"webhookId": r.Header.Get("X-Looker-Webhook-Id")}})
}

// countDownload fetches a download URL as a hub does and counts the rows (json_detail
// "data" elements, JSON array elements, or CSV lines after the header).
func countDownload(u string) (int64, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("There was an error with Action Hub calling back to Looker, status code: %d", resp.StatusCode)
	}
	n, err := countRows(resp.Header.Get("Content-Type"), resp.Body)
	// Read to the end as a hub does, so the simulator sees a complete download.
	io.Copy(io.Discard, resp.Body)
	return n, err
}

func countAttachment(att map[string]any) (int64, error) {
	mt, _ := att["mimetype"].(string)
	switch d := att["data"].(type) {
	case string:
		if strings.HasSuffix(mt, ";base64") {
			b, err := base64.StdEncoding.DecodeString(d)
			if err != nil {
				return 0, err
			}
			if len(b) == 0 {
				return 0, fmt.Errorf("empty file")
			}
			return 1, nil
		}
		return countRows(mt, strings.NewReader(d))
	case []any:
		return int64(len(d)), nil
	}
	return 0, fmt.Errorf("attachment data of type %T", att["data"])
}

func countRows(contentType string, r io.Reader) (int64, error) {
	if strings.HasPrefix(contentType, "text/csv") || strings.HasPrefix(contentType, "text/plain") {
		sc := bufio.NewScanner(r)
		var n int64
		for sc.Scan() {
			n++
		}
		return n - 1, sc.Err()
	}
	if strings.HasPrefix(contentType, "image/") || strings.HasPrefix(contentType, "application/pdf") {
		b, err := io.ReadAll(r)
		if len(b) == 0 {
			return 0, fmt.Errorf("empty file")
		}
		return 1, err
	}
	dec := json.NewDecoder(r)
	t, err := dec.Token()
	if err != nil {
		return 0, err
	}
	if t == json.Delim('{') {
		for {
			k, err := dec.Token()
			if err != nil {
				return 0, err
			}
			if k == "data" {
				if _, err := dec.Token(); err != nil {
					return 0, err
				}
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, err
			}
		}
	}
	var n int64
	for dec.More() {
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// keepAliveJSON answers as the Node hub's execute and form routes do: 200, then newlines,
// then the JSON.
func keepAliveJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	io.WriteString(w, "\n")
	w.(http.Flusher).Flush()
	io.WriteString(w, "\n")
	b, _ := json.Marshal(v)
	w.Write(b)
}

// newTestSim returns a simulator for the fake hub, served on a test server that is its
// advertised address.
func newTestSim(t *testing.T, hub *fakeHub) (*Simulator, *httptest.Server) {
	sim := New(Options{Hub: hub.URL(), Key: fakeKey})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	sim.SetAdvertise(srv.URL)
	return sim, srv
}
