package hubspot

import (
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	hubspotfake "github.com/actionhub/actionhub/internal/fakes/hubspot"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// listEntry is the part of the action list these tests check.
type listEntry struct {
	Name                      string              `json:"name"`
	Label                     string              `json:"label"`
	Params                    []sdk.Param         `json:"params"`
	RequiredFields            []sdk.RequiredField `json:"required_fields"`
	SupportedFormats          []string            `json:"supported_formats"`
	SupportedDownloadSettings []string            `json:"supported_download_settings"`
	UsesOAuth                 bool                `json:"uses_oauth"`
	FormURL                   *string             `json:"form_url"`
}

func TestEndToEnd(t *testing.T) {
	fake := hubspotfake.New(t, hubspotfake.Options{Token: token})
	fake.Faults.Push(faults.RateLimit, faults.DropBefore)
	h := hubtest.New(t, hubtest.Options{
		Env:     map[string]string{sdk.VendorURLVar + "HUBSPOT": fake.URL},
		Actions: []sdk.Module{Module(Contacts, nil), Module(Companies, nil)},
	})

	// the action list
	r := h.Post(t, "/", nil)
	var list struct {
		Integrations []listEntry `json:"integrations"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatalf("list: %v: %s", err, r.Body)
	}
	found := 0
	for _, e := range list.Integrations {
		if e.Name != "hubspot_contacts" && e.Name != "hubspot_companies" {
			continue
		}
		found++
		if !reflect.DeepEqual(e.SupportedFormats, []string{"json_detail_lite_stream"}) ||
			!reflect.DeepEqual(e.SupportedDownloadSettings, []string{"url"}) || e.UsesOAuth || e.FormURL != nil ||
			len(e.Params) != 2 || !e.Params[0].Sensitive || len(e.RequiredFields) != 1 {
			t.Errorf("list entry %+v", e)
		}
	}
	if found != 2 {
		t.Fatalf("%d hubspot actions listed", found)
	}

	// a streamed execute through the download URL
	const n = 1000
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, genOpts(n, Contacts.Tag)) })
	res := h.Execute(t, "hubspot_contacts", map[string]any{
		"type": "query", "data": map[string]any{"hubspot_access_token": token},
		"scheduled_plan": map[string]any{"download_url": dl, "title": "Contacts"},
	})
	if res.Status != 200 || !res.Looker.Success || res.Looker.Message != "Delivered 1,000 of 1,000 rows; 2 retries." {
		t.Fatalf("execute: %d %s", res.Status, res.Body)
	}
	applied := fake.Applied()
	if len(applied) != n {
		t.Fatalf("%d objects updated", len(applied))
	}
	for id, k := range applied {
		if k != 1 {
			t.Fatalf("%s updated %d times", id, k)
		}
	}

	// Node's validation failure is a 200 with success false (the action ran in its own process)
	dl = h.Download(t, []byte(`{"fields":{"dimensions":[{"name":"x"}]},"data":[{"x":{"value":1}}]}`))
	res = h.Execute(t, "hubspot_companies", map[string]any{
		"type": "query", "data": map[string]any{"hubspot_access_token": token},
		"scheduled_plan": map[string]any{"download_url": dl},
	})
	if res.Status != 200 || res.Looker.Success || res.Looker.Message != "Dimension with the hubspot_company_id tag is required" {
		t.Fatalf("execute without tag: %d %s", res.Status, res.Body)
	}

	// a missing token is refused before the action runs
	res = h.Execute(t, "hubspot_contacts", map[string]any{"type": "query", "data": map[string]any{},
		"scheduled_plan": map[string]any{"download_url": "http://127.0.0.1:1/x"}})
	if res.Status != 404 || string(res.Body) == "" {
		t.Fatalf("execute without token: %d %s", res.Status, res.Body)
	}
}
