package teams

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	fake "github.com/actionhub/actionhub/internal/fakes/webhook"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

const (
	connectorURL = "https://contoso.webhook.office.com/webhookb2/1111@2222/IncomingWebhook/secretid/3333"
	workflowURL  = "https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SECRETSIG"
)

// newFake is a receiver that answers like Teams: "1" from connectors, 202 from Workflows.
func newFake(t *testing.T) *fake.Server {
	f := fake.New(t, "*.webhook.office.com", "*.westus.logic.azure.com", "*.environment.api.powerplatform.com", "example.org")
	f.Answer = func(w http.ResponseWriter, r *fake.Request) {
		var card struct {
			Type        string `json:"@type"`
			Title       string `json:"title"`
			Text        string `json:"text"`
			MessageType string `json:"type"`
			Attachments []struct {
				ContentType string `json:"contentType"`
				Content     struct {
					Type string `json:"type"`
					Body []any  `json:"body"`
				} `json:"content"`
			} `json:"attachments"`
		}
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(r.Body, &card) != nil {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("Invalid JSON"))
			return
		}
		if strings.HasSuffix(r.Host, "webhook.office.com") || r.Host == "example.org" {
			// What a connector answers to a card it cannot render.
			if card.Type != "MessageCard" || card.Title == "" && card.Text == "" {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte("Summary or Text is required."))
				return
			}
			w.Write([]byte("1"))
			return
		}
		// Workflows take the Adaptive Card envelope (and render a MessageCard's text).
		adaptive := card.MessageType == "message" && len(card.Attachments) == 1 &&
			card.Attachments[0].ContentType == "application/vnd.microsoft.card.adaptive" &&
			card.Attachments[0].Content.Type == "AdaptiveCard" && len(card.Attachments[0].Content.Body) > 0
		if !adaptive && card.Type != "MessageCard" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"code":"InvalidRequestContent","message":"The request content is not valid."}}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}
	return f
}

func newAction(t *testing.T, f *fake.Server, allowPrivate bool) *Action {
	vars := map[string]string{}
	if allowPrivate {
		vars[netguard.AllowPrivateVar] = "true"
	}
	env := &sdk.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(k string) string { return vars[k] }}
	a, _ := New(env)
	act := a.(*Action)
	act.Client = netguard.FromEnv(env.Get).Client(f.Rewire)
	act.Clock = vendorhttptest.NewFakeClock(time.Time{})
	return act
}

func queryRequest(form map[string]string) *sdk.Request {
	return &sdk.Request{Type: sdk.TypeQuery, Params: map[string]string{}, FormParams: form,
		ScheduledPlan: &sdk.ScheduledPlan{Title: "testtitle", Type: "Look", URL: "https://testurl.com/downlaoad",
			Query: &sdk.Query{Model: "test", View: "test"}}}
}

// Node test_teams.ts: missing form params and plan are refused with the Node texts.
func TestValidation(t *testing.T) {
	a := newAction(t, newFake(t), true)
	cases := []struct {
		form map[string]string
		plan bool
		want string
	}{
		{map[string]string{"title": "testtitle", "isAttached": "true"}, true, "Teams Error: Need a webhookUrl"},
		{map[string]string{"webhookUrl": "testwebhookUrl", "isAttached": "true"}, true, "Teams Error: Need a title"},
		{map[string]string{"title": "testtitle", "webhookUrl": "testwebhookUrl"}, true, "Teams Error: Need a attach flag"},
		{map[string]string{"webhookUrl": "testwebhookUrl", "title": "testtitle", "isAttached": "true"}, false, "Teams Error: Couldn't get data from scheduledPlan"},
		{map[string]string{"webhookUrl": "testwebhookUrl", "title": "testtitle", "isAttached": "true"}, true, "Teams Error: the webhookUrl must be an https:// URL"},
		{map[string]string{"webhookUrl": "http://contoso.webhook.office.com/x", "title": "t", "isAttached": "false"}, true, "Teams Error: the webhookUrl must be an https:// URL"},
		{map[string]string{"webhookUrl": connectorURL, "title": "t", "isAttached": "false", "webhookType": "slack"}, true, `Teams Error: unknown webhookType "slack"`},
	}
	for _, c := range cases {
		req := queryRequest(c.form)
		if !c.plan {
			req.ScheduledPlan = nil
		}
		_, err := a.Execute(context.Background(), req)
		e, ok := sdk.AsError(err)
		if !ok || !strings.HasPrefix(e.Text, c.want) {
			t.Errorf("%v: err = %v, want %q", c.form, err, c.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	cases := map[string]string{
		connectorURL:                             KindConnector,
		"https://outlook.office.com/webhook/abc": KindConnector,
		workflowURL:                              KindWorkflows,
		"https://default0123.ab.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/x/triggers/manual/paths/invoke?sig=y": KindWorkflows,
		"https://api.powerautomate.com/x":  KindWorkflows,
		"https://relay.example.org/teams":  KindConnector, // unknown hosts get what Node sent
		"https://webhook.office.com.evil/": KindConnector,
	}
	for raw, want := range cases {
		u, _ := url.Parse(raw)
		if got := KindOf(u, KindAuto); got != want {
			t.Errorf("KindOf(%s) = %s, want %s", raw, got, want)
		}
	}
	u, _ := url.Parse(connectorURL)
	if KindOf(u, KindWorkflows) != KindWorkflows {
		t.Error("explicit choice ignored")
	}
}

// Node test_teams.ts "Success : Query" and "Success : Dashboard", with the exact
// MessageCard the Node action posts.
func TestConnectorMessageCard(t *testing.T) {
	f := newFake(t)
	a := newAction(t, f, true)
	form := map[string]string{"webhookUrl": connectorURL, "title": "testtitle", "isAttached": "true", "text": "line1\nline2"}
	resp, err := a.Execute(context.Background(), queryRequest(form))
	if err != nil || !resp.Success || resp.Message != "success" {
		t.Fatalf("query: %+v %v", resp, err)
	}
	dash := queryRequest(form)
	dash.Type = sdk.TypeDashboard
	dash.ScheduledPlan.Query = nil
	resp, err = a.Execute(context.Background(), dash)
	if err != nil || !resp.Success || resp.Message != "success" {
		t.Fatalf("dashboard: %+v %v", resp, err)
	}
	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if reqs[0].Path != "/webhookb2/1111@2222/IncomingWebhook/secretid/3333" || reqs[0].Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %v", reqs[0].Path, reqs[0].Header)
	}
	want := `{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"5035b4","summary":"Looker Reports",` +
		`"title":"testtitle","text":"line1\n\nline2","sections":[{"facts":[{"name":"Type :","value":"Look"},{"name":"Title :","value":"testtitle"},` +
		`{"name":"Model :","value":"test"},{"name":"View :","value":"test"}]}],"potentialAction":[{"@type":"OpenUri","name":"View in Looker",` +
		`"targets":[{"os":"default","uri":"https://testurl.com/downlaoad"}]}]}`
	if string(reqs[0].Body) != want {
		t.Errorf("query card\n got %s\nwant %s", reqs[0].Body, want)
	}
	var card map[string]any
	json.Unmarshal(reqs[1].Body, &card)
	facts := card["sections"].([]any)[0].(map[string]any)["facts"].([]any)
	if len(facts) != 2 {
		t.Errorf("dashboard facts: %v", facts)
	}
}

func TestWorkflowsAdaptiveCard(t *testing.T) {
	f := newFake(t)
	a := newAction(t, f, true)
	form := map[string]string{"webhookUrl": workflowURL, "title": "Daily sales", "isAttached": "true", "text": "Hello"}
	resp, err := a.Execute(context.Background(), queryRequest(form))
	if err != nil || !resp.Success {
		t.Fatalf("execute: %+v %v", resp, err)
	}
	r := f.Requests()[0]
	if !strings.Contains(r.Query, "sig=SECRETSIG") {
		t.Errorf("query string lost: %s", r.Query)
	}
	want := `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":` +
		`{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[` +
		`{"type":"TextBlock","text":"Daily sales","weight":"Bolder","size":"Medium","wrap":true},` +
		`{"type":"TextBlock","text":"Hello","wrap":true},` +
		`{"type":"FactSet","facts":[{"title":"Type :","value":"Look"},{"title":"Title :","value":"testtitle"},{"title":"Model :","value":"test"},{"title":"View :","value":"test"}]}],` +
		`"actions":[{"type":"Action.OpenUrl","title":"View in Looker","url":"https://testurl.com/downlaoad"}],"msteams":{"width":"Full"}}}]}`
	if string(r.Body) != want {
		t.Errorf("card\n got %s\nwant %s", r.Body, want)
	}
	// Forced MessageCard on a Workflows URL, forced Adaptive Card on a connector URL.
	form["webhookType"] = KindConnector
	resp, _ = a.Execute(context.Background(), queryRequest(form))
	if !resp.Success || !strings.Contains(string(f.Requests()[1].Body), `"@type":"MessageCard"`) {
		t.Errorf("forced connector: %s", f.Requests()[1].Body)
	}
}

// Node: a connector answer other than "1" is the error.
func TestConnectorErrorAnswer(t *testing.T) {
	f := newFake(t)
	f.Answer = func(w http.ResponseWriter, r *fake.Request) { w.Write([]byte("error")) }
	a := newAction(t, f, true)
	resp, err := a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": connectorURL, "title": "testtitle", "isAttached": "true"}))
	if err != nil || resp.Success || resp.Message != "Teams Error: error" {
		t.Fatalf("%+v %v", resp, err)
	}
}

// Node "Fail: cause of httpRequest": a refused POST is a failure with Teams' text, without
// the webhook's secret path or signature.
func TestHTTPRejection(t *testing.T) {
	f := newFake(t)
	f.Answer = func(w http.ResponseWriter, r *fake.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`error: bad card posted to https://prod-12.westus.logic.azure.com/workflows/abc?sig=SECRETSIG`))
	}
	a := newAction(t, f, true)
	resp, _ := a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": workflowURL, "title": "t", "isAttached": "false"}))
	if resp.Success || !strings.HasPrefix(resp.Message, "Teams Error: HTTP 400 Bad Request: error: bad card") {
		t.Fatalf("%+v", resp)
	}
	if strings.Contains(resp.Message, "SECRETSIG") {
		t.Errorf("signature leaked: %s", resp.Message)
	}
	f.Answer = func(w http.ResponseWriter, r *fake.Request) { w.WriteHeader(http.StatusNotFound) }
	resp, _ = a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": connectorURL, "title": "t", "isAttached": "false"}))
	if resp.Success || !strings.Contains(resp.Message, "HTTP 404") || !strings.Contains(resp.Message, "Workflows") {
		t.Fatalf("%+v", resp)
	}
}

func TestRetriesRateLimitAndUnavailable(t *testing.T) {
	f := newFake(t)
	f.Faults.RetryAfter = "7"
	f.Faults.Push(faults.RateLimit, faults.ServerError)
	a := newAction(t, f, true)
	resp, _ := a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": workflowURL, "title": "t", "isAttached": "false"}))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	if n := len(f.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	// Retry-After honoured, then a backoff for the 503 without one.
	if got := a.Clock.(*vendorhttptest.FakeClock).Sleeps(); !reflect.DeepEqual(got, []time.Duration{7 * time.Second, 2 * time.Second}) {
		t.Errorf("sleeps %v", got)
	}
}

func TestRetryBounded(t *testing.T) {
	f := newFake(t)
	f.Faults.Func = func(int64) faults.Kind { return faults.RateLimit }
	a := newAction(t, f, true)
	resp, _ := a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": workflowURL, "title": "t", "isAttached": "false"}))
	if resp.Success || !strings.Contains(resp.Message, "HTTP 429") || !strings.Contains(resp.Message, "gave up after 4 attempts") {
		t.Fatalf("%+v", resp)
	}
	f.Faults.RetryAfter = "3600"
	resp, _ = a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": workflowURL, "title": "t", "isAttached": "false"}))
	if resp.Success || !strings.Contains(resp.Message, "retry after 1h0m0s") {
		t.Fatalf("%+v", resp)
	}
}

// A 500 may come after the card was posted: it is not retried.
func TestServerErrorNotRetried(t *testing.T) {
	f := newFake(t)
	f.Answer = func(w http.ResponseWriter, r *fake.Request) { w.WriteHeader(http.StatusInternalServerError) }
	a := newAction(t, f, true)
	resp, _ := a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": workflowURL, "title": "t", "isAttached": "false"}))
	if resp.Success || !strings.Contains(resp.Message, "HTTP 500") || len(f.Requests()) != 1 {
		t.Fatalf("%+v, %d requests", resp, len(f.Requests()))
	}
}

func TestTimeout(t *testing.T) {
	f := newFake(t)
	f.Faults.Push(faults.TimeoutAfter)
	a := newAction(t, f, true)
	a.Timeout = 200 * time.Millisecond
	start := time.Now()
	resp, _ := a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": workflowURL, "title": "t", "isAttached": "false"}))
	if resp.Success || !strings.Contains(resp.Message, "did not answer within 200ms") {
		t.Fatalf("%+v", resp)
	}
	if time.Since(start) > 3*time.Second || len(f.Requests()) != 1 {
		t.Errorf("took %s, %d requests", time.Since(start), len(f.Requests()))
	}
}

func TestTooLarge(t *testing.T) {
	f := newFake(t)
	a := newAction(t, f, true)
	resp, _ := a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": workflowURL, "title": "t",
		"isAttached": "false", "text": strings.Repeat("x", 30000)}))
	if resp.Success || !strings.Contains(resp.Message, "over the 28672 bytes Teams accepts") || len(f.Requests()) != 0 {
		t.Fatalf("%+v", resp)
	}
}

func TestLoopbackRefused(t *testing.T) {
	f := newFake(t)
	a := newAction(t, f, false)
	resp, _ := a.Execute(context.Background(), queryRequest(map[string]string{"webhookUrl": workflowURL, "title": "t", "isAttached": "false"}))
	if resp.Success || !strings.Contains(resp.Message, "loopback") || len(f.Requests()) != 0 {
		t.Fatalf("%+v", resp)
	}
	if strings.Contains(resp.Message, "127.0.0.1") || strings.Contains(resp.Message, "SECRETSIG") {
		t.Errorf("message reveals the address or signature: %s", resp.Message)
	}
}

func TestEndToEnd(t *testing.T) {
	f := newFake(t)
	mod := sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
		a, err := New(env)
		a.(*Action).Client = netguard.FromEnv(env.Get).Client(f.Rewire)
		return a, err
	}}
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{netguard.AllowPrivateVar: "true"}, Actions: []sdk.Module{mod}})
	form := h.Form(t, Name, map[string]any{})
	var names []string
	for _, fl := range form.Fields {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "webhookUrl,title,text,isAttached,webhookType" {
		t.Errorf("form fields %v", names)
	}
	body := map[string]any{"type": "dashboard",
		"form_params":    map[string]any{"webhookUrl": workflowURL, "title": "Board", "isAttached": "true"},
		"scheduled_plan": map[string]any{"title": "Board", "type": "Dashboard", "url": "https://looker.example.com/dashboards/1"},
		"attachment":     map[string]any{"mimetype": "image/png;base64", "extension": "png", "data": "iVBORw0KGgo="}}
	res := h.Execute(t, Name, body)
	if res.Status != 200 || !res.Looker.Success || res.Looker.Message != "success" {
		t.Fatalf("execute: %d %s", res.Status, res.Body)
	}
	if r := f.Requests(); len(r) != 1 || !strings.Contains(string(r[0].Body), `"url":"https://looker.example.com/dashboards/1"`) {
		t.Fatalf("requests %+v", r)
	}
	delete(body["form_params"].(map[string]any), "title")
	res = h.Execute(t, Name, body)
	if res.Status != 404 || !strings.Contains(string(res.Body), "Teams Error: Need a title") {
		t.Errorf("missing title: %d %s", res.Status, res.Body)
	}
}
