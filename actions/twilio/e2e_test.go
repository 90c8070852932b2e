package twilio

import (
	"strings"
	"testing"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
)

func TestConformance(t *testing.T) {
	f := newFake(t, nil)
	env := map[string]string{"ACTION_HUB_VENDOR_URL_TWILIO": f.URL, EnvRateLimit: "0"}
	t.Run(NameSendData, func(t *testing.T) {
		actiontest.Conformance(t, SendDataModule(Options{HTTP: fastHTTP}), actiontest.CheckOptions{
			Env: env, Params: goodParams(), Data: []byte("a,b\n1,2\n"), Format: sdk.FormatCSV,
			FormParams: map[string]string{"to": "+15551234567"},
			Expect: func(t *testing.T, res actiontest.ExecuteResult) {
				m := f.Messages()
				if len(m) == 0 || m[len(m)-1].Body != "Conformance:\na,b\n1,2\n" {
					t.Errorf("message not received: %+v", m)
				}
			},
		})
	})
	t.Run(NameMessage, func(t *testing.T) {
		actiontest.Conformance(t, MessageModule(Options{HTTP: fastHTTP}), actiontest.CheckOptions{
			Env: env, Params: goodParams(), Data: jsonDetail(true, "+15559876543"),
			FormParams: map[string]string{"message": "conformance"}, Type: sdk.TypeQuery,
			Expect: func(t *testing.T, res actiontest.ExecuteResult) {
				m := f.Messages()
				if len(m) == 0 || m[len(m)-1].To != "+15559876543" || m[len(m)-1].Body != "conformance" {
					t.Errorf("message not received: %+v", m)
				}
			},
		})
	})
}

func TestEndToEnd(t *testing.T) {
	f := newFake(t, map[string]int{"+15557654321": 21614})
	h := hubtest.New(t, hubtest.Options{
		Env:     map[string]string{"ACTION_HUB_VENDOR_URL_TWILIO": f.URL, EnvRateLimit: "0"},
		Actions: []sdk.Module{SendDataModule(Options{HTTP: fastHTTP}), MessageModule(Options{HTTP: fastHTTP})},
	})
	// twilio: pushed CSV, title and url prefix
	res := h.Execute(t, NameSendData, map[string]any{
		"type": "query", "data": goodParams(), "form_params": map[string]any{"to": "+1 555 123 4567"},
		"scheduled_plan": map[string]any{"title": "Sales", "url": "https://looker.example.com/looks/1"},
		"attachment":     map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "a,b\n1,2\n"},
	})
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if m := f.Messages(); len(m) != 1 || m[0].Body != "Sales:\nhttps://looker.example.com/looks/1\na,b\n1,2\n" {
		t.Fatalf("%+v", m)
	}
	// twilio: missing "to" is Node's 404 error
	res = h.Execute(t, NameSendData, map[string]any{"type": "query", "data": goodParams(),
		"attachment": map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "a\n"}})
	if res.Status != 404 || !strings.Contains(string(res.Body), "Need a destination phone number.") {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	// twilio_message: query with a refused number, a duplicate and a bad one
	res = h.Execute(t, NameMessage, map[string]any{
		"type": "query", "data": goodParams(), "form_params": map[string]any{"message": "Hello"},
		"attachment": map[string]any{"mimetype": "application/json", "extension": "json",
			"data": string(jsonDetail(true, "+15550001111", "+15557654321", "+15550001111", "12"))},
	})
	if res.Status != 200 || res.Looker.Success ||
		!strings.Contains(res.Looker.Message, "Delivered 1 of 4 rows; 1 skipped; 2 rejected") ||
		!strings.Contains(res.Looker.Message, "+*******4321: Twilio error 21614") ||
		strings.Contains(string(res.Body), testToken) {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	// twilio_message: cell
	res = h.Execute(t, NameMessage, map[string]any{
		"type": "cell", "data": map[string]any{ParamAccountSID: testSID, ParamAuthToken: testToken,
			ParamFrom: testFrom, "value": "+15552223333"}, "form_params": map[string]any{"message": "Cell"},
	})
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	m := f.Messages()
	if last := m[len(m)-1]; last.To != "+15552223333" || last.Body != "Cell" {
		t.Fatalf("%+v", last)
	}
	// the forms
	form := h.Form(t, NameMessage, map[string]any{"data": goodParams()})
	if form.Status != 200 || len(form.Fields) != 1 || form.Fields[0].Name != "message" {
		t.Fatalf("%d %s", form.Status, form.Body)
	}
}
