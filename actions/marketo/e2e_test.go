package marketo

import (
	"io"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	marketofake "github.com/actionhub/actionhub/internal/fakes/marketo"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func TestEndToEnd(t *testing.T) {
	fake := newFake(t, marketofake.Options{})
	fake.Faults.Push(faults.ServerError)
	fake.InjectCodes("", "606")
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{Module(func(l *Limits) { l.MinBackoff = 1e6 })}})

	form := h.Form(t, "marketo", map[string]any{"data": map[string]any{"url": fake.URL, "clientID": clientID, "clientSecret": secret}})
	if form.Status != 200 || len(form.Fields) != 3 || form.Fields[1].Default != "addCampaign" {
		t.Fatalf("form: %d %s", form.Status, form.Body)
	}

	const n = 1000
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, mapped(n)) })
	res := h.Execute(t, "marketo", map[string]any{
		"type": "query", "data": map[string]any{"url": fake.URL, "clientID": clientID, "clientSecret": secret},
		"form_params":    map[string]any{"lookupField": "email", "subaction": "addList", "campaignId": "12"},
		"scheduled_plan": map[string]any{"download_url": dl},
	})
	if res.Status != 200 || !res.Looker.Success || res.Looker.Message != "Delivered 1,000 of 1,000 rows; 2 retries." {
		t.Fatalf("execute: %d %s", res.Status, res.Body)
	}
	if leads := fake.Leads("email"); len(leads) != n || len(fake.ListMembers("12")) != n {
		t.Fatalf("%d leads, %d members", len(leads), len(fake.ListMembers("12")))
	}

	// Node's validation failure: a 200 with success false (the action ran in its own process)
	dl = h.Download(t, rowsgen.Bytes(mapped(3)))
	res = h.Execute(t, "marketo", map[string]any{
		"type": "query", "data": map[string]any{"url": fake.URL, "clientID": clientID, "clientSecret": secret},
		"form_params":    map[string]any{"lookupField": "email", "subaction": "none", "campaignId": "12"},
		"scheduled_plan": map[string]any{"download_url": dl},
	})
	if res.Status != 200 || res.Looker.Success || res.Looker.Message != "Additional action of 'none' was selected, but additional action ID was provided" {
		t.Fatalf("invalid form: %d %s", res.Status, res.Body)
	}
}
