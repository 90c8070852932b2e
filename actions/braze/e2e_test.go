package braze

import (
	"io"
	"strconv"
	"strings"
	"testing"

	brazefake "github.com/actionhub/actionhub/internal/fakes/braze"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func newHub(t testing.TB, fake *brazefake.Server, opts Options, env map[string]string) *hubtest.Hub {
	e := map[string]string{"ACTION_HUB_VENDOR_URL_BRAZE": fake.URL, EnvRateLimit: "0"}
	for k, v := range env {
		e[k] = v
	}
	return hubtest.New(t, hubtest.Options{Env: e, Actions: []sdk.Module{Module(opts)}})
}

func executeBody(dl, endpoint string) map[string]any {
	return map[string]any{
		"type":           "query",
		"data":           map[string]any{ParamAPIKey: testKey, ParamEndpoint: endpoint},
		"form_params":    map[string]any{FormKey: "external_id", FormSegment: "Weekly"},
		"scheduled_plan": map[string]any{"title": "Users", "download_url": dl},
	}
}

func TestEndToEnd(t *testing.T) {
	fake := brazefake.New(t, brazefake.Options{APIKey: testKey})
	h := newHub(t, fake, Options{HTTP: fastHTTP}, nil)
	opts := rowsgen.Options{Rows: 1000, Columns: genColumns}
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
	res := h.Execute(t, Name, executeBody(dl, " https://rest.fra-01.braze.eu/ "))
	if res.Status != 200 || !res.Looker.Success || res.Looker.Message != "Delivered 1,000 of 1,000 rows." {
		t.Fatalf("%d %+v", res.Status, res.Looker)
	}
	users := fake.Users()
	id, _ := opts.Text(500, 0, 0)
	total, _ := opts.Text(500, 2, 0)
	if u := users[id]; len(users) != 1000 || u.Attributes["total"] == nil || u.Added[LookerAttribute][0] != "Weekly" {
		t.Fatalf("%d users, %+v", len(users), u)
	}
	if want, _ := strconv.ParseFloat(total, 64); users[id].Attributes["total"] != want {
		t.Errorf("total %v, want %s", users[id].Attributes["total"], total)
	}

	form := h.Form(t, Name, map[string]any{"data": map[string]any{ParamAPIKey: testKey, ParamEndpoint: "https://rest.iad-01.braze.com"}})
	if form.Status != 200 || len(form.Fields) != 2 {
		t.Fatalf("form %+v", form)
	}
}

func TestEndToEndValidation(t *testing.T) {
	fake := brazefake.New(t, brazefake.Options{APIKey: testKey})
	h := newHub(t, fake, Options{HTTP: fastHTTP}, nil)
	dl := h.Download(t, rowsgen.Bytes(rowsgen.Options{Rows: 1, Columns: genColumns}))
	res := h.Execute(t, Name, executeBody(dl, "https://rest.notbraze.com"))
	if res.Status != 404 || !strings.Contains(string(res.Body), "Bad Endpoint.") {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if fake.Requests() != 0 {
		t.Error("sent to a refused endpoint")
	}
}
