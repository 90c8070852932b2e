package mparticle

import (
	"io"
	"strings"
	"testing"

	mparticlefake "github.com/actionhub/actionhub/internal/fakes/mparticle"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func newHub(t testing.TB, fake *mparticlefake.Server, opts Options) *hubtest.Hub {
	return hubtest.New(t, hubtest.Options{
		Env:     map[string]string{"ACTION_HUB_VENDOR_URL_MPARTICLE": fake.URL, EnvRateLimit: "0"},
		Actions: []sdk.Module{Module(opts)},
	})
}

func executeBody(dl, dataType string) map[string]any {
	return map[string]any{
		"type":           "query",
		"data":           map[string]any{ParamAPIKey: testKey, ParamAPISecret: testSecret, ParamPod: "EU1"},
		"form_params":    map[string]any{FormDataType: dataType, FormEnvironment: "production"},
		"scheduled_plan": map[string]any{"title": "Users", "download_url": dl},
	}
}

func TestEndToEnd(t *testing.T) {
	fake := mparticlefake.New(t, mparticlefake.Options{APIKey: testKey, APISecret: testSecret})
	h := newHub(t, fake, Options{HTTP: fastHTTP})
	opts := rowsgen.Options{Rows: 1234, Columns: genColumns, Pivots: []string{"a", "b"}}
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
	res := h.Execute(t, Name, executeBody(dl, EventData))
	if res.Status != 200 || !res.Looker.Success || res.Looker.Message != "Delivered 1,234 of 1,234 rows." {
		t.Fatalf("%d %+v", res.Status, res.Looker)
	}
	batches := fake.Batches()
	if len(batches) != 1234 {
		t.Fatalf("%d batches", len(batches))
	}
	for _, b := range batches {
		ev := b["events"].([]any)[0].(map[string]any)["data"].(map[string]any)
		// the pivoted measure has no single value and is left out, as in the Node action
		if _, ok := ev["custom_attributes"].(map[string]any)["looker_orders.total"]; ok || b["environment"] != "production" {
			t.Fatalf("batch %v", b)
		}
	}
	form := h.Form(t, Name, map[string]any{"data": map[string]any{ParamAPIKey: testKey, ParamAPISecret: testSecret}})
	if form.Status != 200 || len(form.Fields) != 2 {
		t.Fatalf("form %+v", form)
	}
}

func TestEndToEndNoIdentity(t *testing.T) {
	fake := mparticlefake.New(t, mparticlefake.Options{APIKey: testKey, APISecret: testSecret})
	h := newHub(t, fake, Options{HTTP: fastHTTP})
	dl := h.Download(t, rowsgen.Bytes(rowsgen.Options{Rows: 3, Columns: []rowsgen.Column{{Name: "a.b", Kind: rowsgen.Int}}}))
	res := h.Execute(t, Name, executeBody(dl, UserData))
	if res.Status != 404 || !strings.Contains(string(res.Body), "Each row must specify at least 1 identity tag.") {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
}
