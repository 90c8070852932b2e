package firebase

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/fakes/faults"
	fcmfake "github.com/actionhub/actionhub/internal/fakes/firebase"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

const (
	project = "looker-mobile"
	email   = "fcm@looker-mobile.iam.gserviceaccount.com"
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
	keyPEM  string
)

func testKey(t *testing.T) (*rsa.PrivateKey, string) {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		key = k
		// as an env var holds it: literal \n
		keyPEM = strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "\n", `\n`)
	})
	return key, keyPEM
}

var fastHTTP = vendorhttp.Config{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 300 * time.Millisecond, Rate: -1}

func setup(t *testing.T, opts fcmfake.Options) (*fcmfake.Server, map[string]string) {
	k, p := testKey(t)
	opts.ProjectID, opts.ClientEmail, opts.PublicKey = project, email, &k.PublicKey
	f := fcmfake.New(t, opts)
	return f, map[string]string{EnvProjectID: project, EnvClientEmail: email, EnvPrivateKey: p,
		"ACTION_HUB_VENDOR_URL_FCM": f.URL, "ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH_TOKEN": f.URL + "/token"}
}

func envOf(m map[string]string) *sdk.Env {
	return &sdk.Env{Getenv: func(k string) string { return m[k] }}
}

func newAction(t *testing.T, env map[string]string, o Options) *Action {
	if o.HTTP.Timeout == 0 {
		o.HTTP = fastHTTP
	}
	a, err := New(envOf(env), o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func req(form map[string]string) *sdk.Request {
	return &sdk.Request{Type: sdk.TypeQuery, Params: map[string]string{}, FormParams: form}
}

func wantErr(t *testing.T, err error, text string) {
	t.Helper()
	if e, ok := sdk.AsError(err); !ok || e.Text != text {
		t.Fatalf("%v, want %q", err, text)
	}
}

func TestGated(t *testing.T) {
	_, env := setup(t, fcmfake.Options{})
	delete(env, EnvPrivateKey)
	if _, err := New(envOf(env), Options{}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatal(err)
	}
}

// Node: "errors if there is no notification data", "errors if there is no alertId.",
// "errors if there is no valid title.", "no errors if there is valid request".
func TestValidation(t *testing.T) {
	f, env := setup(t, fcmfake.Options{})
	a := newAction(t, env, Options{})
	ctx := context.Background()
	_, err := a.Execute(ctx, req(map[string]string{}))
	wantErr(t, err, "Need valid notification data.")
	_, err = a.Execute(ctx, req(map[string]string{"title": "title", "data": `{"dashboard_id":"123"}`}))
	wantErr(t, err, "Need Valid AlertId.")
	_, err = a.Execute(ctx, req(map[string]string{"data": `{"alert_id":"123"}`}))
	wantErr(t, err, "Needs a valid title.")
	res, err := a.Execute(ctx, req(map[string]string{"title": "title", "data": `{"alert_id":"123"}`}))
	if err != nil || !res.Success || f.Sends() != 0 {
		t.Fatalf("%v %+v", err, res)
	}
}

func deviceIDs(groups ...[]string) string {
	var out [][]map[string]any
	for gi, g := range groups {
		var row []map[string]any
		for _, d := range g {
			row = append(row, map[string]any{"device_id": d, "user_id": gi + 1})
		}
		out = append(out, row)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// The FCM v1 message of the spec's mapping, per device.
func TestMessages(t *testing.T) {
	f, env := setup(t, fcmfake.Options{})
	now := time.Unix(1_800_000_000, 0)
	a := newAction(t, env, Options{Now: func() time.Time { return now }})
	res, err := a.Execute(context.Background(), req(map[string]string{"title": "Sales dropped",
		"data":      `{"alert_id": 42, "dashboard_name": "Sales", "extra": {"a": 1}}`,
		"deviceIds": deviceIDs([]string{"tokA", "tokB"}, []string{"tokC"})}))
	if err != nil || !res.Success || res.Message != "Delivered 3 of 3 notifications." {
		t.Fatalf("%v %+v", err, res)
	}
	ms := f.Messages()
	if len(ms) != 3 || f.TokensIssued() != 1 {
		t.Fatalf("%d messages, %d tokens", len(ms), f.TokensIssued())
	}
	byTok := map[string]fcmfake.Message{}
	for _, m := range ms {
		byTok[m["token"].(string)] = m
	}
	m := byTok["tokC"]
	got, _ := json.Marshal(m)
	var want map[string]any
	json.Unmarshal([]byte(`{"token":"tokC","notification":{"title":"Sales dropped","body":"On Sales"},
	 "android":{"priority":"HIGH","ttl":"86400s"},
	 "apns":{"headers":{"apns-priority":"10","apns-expiration":"1800086400"},"payload":{"aps":{"content-available":1,"mutable-content":1}}}}`), &want)
	for k, v := range want {
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(m[k])
		if string(a) != string(b) {
			t.Errorf("%s: %s, want %s (message %s)", k, b, a, got)
		}
	}
	d := m["data"].(map[string]any)
	if d["alert_id"] != "42" || d["user_id"] != "2" || d["extra"] != `{"a":1}` || d["dashboard_name"] != "Sales" || len(d["id"].(string)) != 36 {
		t.Errorf("data %v", d)
	}
	if byTok["tokA"]["data"].(map[string]any)["user_id"] != "1" {
		t.Error("user_id of tokA")
	}
}

func TestPerRequestOptionsDoNotLeak(t *testing.T) {
	f, env := setup(t, fcmfake.Options{})
	a := newAction(t, env, Options{})
	a.Execute(context.Background(), req(map[string]string{"title": "t", "data": `{"alert_id":1}`,
		"deviceIds": deviceIDs([]string{"a"}), "timeToLive": "60", "priority": "normal"}))
	a.Execute(context.Background(), req(map[string]string{"title": "t", "data": `{"alert_id":1}`,
		"deviceIds": deviceIDs([]string{"b"})}))
	ms := f.Messages()
	if len(ms) != 2 {
		t.Fatal(len(ms))
	}
	first, second := ms[0]["android"].(map[string]any), ms[1]["android"].(map[string]any)
	if first["ttl"] != "60s" || first["priority"] != "NORMAL" || second["ttl"] != "86400s" || second["priority"] != "HIGH" {
		t.Fatalf("%v %v", first, second)
	}
}

// Dead and invalid tokens are per-device rejections; duplicates skipped; the rest delivered.
func TestInvalidTokensReported(t *testing.T) {
	f, env := setup(t, fcmfake.Options{Unregistered: []string{"dead-token-123456"}, Invalid: []string{"bad-token-abcdef"}})
	a := newAction(t, env, Options{})
	res, err := a.Execute(context.Background(), req(map[string]string{"title": "t", "data": `{"alert_id":1}`,
		"deviceIds": deviceIDs([]string{"ok1", "dead-token-123456", "ok1"}, []string{"bad-token-abcdef", "ok2", ""})}))
	if err != nil || res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	s := res.Report.Snapshot()
	if s.Read != 5 || s.Delivered != 2 || s.Skipped != 1 || s.Rejected != 2 {
		t.Fatalf("%+v", s)
	}
	if !strings.Contains(res.Message, "device …123456: UNREGISTERED") || !strings.Contains(res.Message, "device …abcdef: INVALID_ARGUMENT") {
		t.Fatal(res.Message)
	}
	if len(f.Messages()) != 2 {
		t.Fatal(len(f.Messages()))
	}
}

func TestBadServiceAccountKey(t *testing.T) {
	f, env := setup(t, fcmfake.Options{})
	other, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	env[EnvPrivateKey] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	a := newAction(t, env, Options{})
	res, err := a.Execute(context.Background(), req(map[string]string{"title": "t", "data": `{"alert_id":1}`,
		"deviceIds": deviceIDs([]string{"a", "b", "c"})}))
	if err != nil || res.Success || !strings.Contains(res.Message, "Google refused the service account's token request: invalid_grant") {
		t.Fatalf("%v %+v", err, res)
	}
	if f.Sends() != 0 || strings.Contains(res.Message, "PRIVATE KEY") {
		t.Fatal(res.Message)
	}
}

func TestFaultsAndConcurrency(t *testing.T) {
	f, env := setup(t, fcmfake.Options{})
	f.Faults.Stall = 2 * time.Second
	f.Faults.Func = faults.Random(3, 0.3, 2, faults.RateLimit, faults.ServerError, faults.TimeoutBefore, faults.DropBefore)
	a := newAction(t, env, Options{MaxInFlight: 3})
	var toks []string
	for i := 0; i < 40; i++ {
		toks = append(toks, fmt.Sprintf("tok%02d", i))
	}
	res, err := a.Execute(context.Background(), req(map[string]string{"title": "t", "data": `{"alert_id":1}`,
		"deviceIds": deviceIDs(toks)}))
	if err != nil || !res.Success || len(f.Messages()) != 40 || f.Faults.Total() == 0 {
		t.Fatalf("%v %+v faults %d", err, res, f.Faults.Total())
	}
	if m := f.MaxInFlight(); m > 3 {
		t.Fatalf("max in flight %d", m)
	}
}

func TestConformanceAndEndToEnd(t *testing.T) {
	f, env := setup(t, fcmfake.Options{})
	actiontest.Conformance(t, Module(Options{HTTP: fastHTTP}), actiontest.CheckOptions{
		Env: env, Data: []byte(`{"fields":{},"data":[]}`),
		FormParams: map[string]string{"title": "t", "data": `{"alert_id":"7"}`, "deviceIds": deviceIDs([]string{"conf"})},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if len(f.Messages()) == 0 {
				t.Error("no message")
			}
		},
	})
	h := hubtest.New(t, hubtest.Options{Env: env, Actions: []sdk.Module{Module(Options{HTTP: fastHTTP})}})
	// Looker sends data as an object and deviceIds as a JSON string
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": map[string]any{},
		"form_params": map[string]any{"title": "Alert", "data": map[string]any{"alert_id": 9, "dashboard_name": "Ops"},
			"deviceIds": deviceIDs([]string{"e2e-1", "e2e-2"})}})
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	res = h.Execute(t, Name, map[string]any{"type": "query", "data": map[string]any{},
		"form_params": map[string]any{"title": "Alert", "data": `{"dashboard_id":"1"}`}})
	if res.Status != 404 || !strings.Contains(string(res.Body), "Need Valid AlertId.") {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
}
