package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	segmentfake "github.com/actionhub/actionhub/internal/fakes/segment"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

func newHub(t testing.TB, fake *segmentfake.Server, opts Options) *hubtest.Hub {
	return hubtest.New(t, hubtest.Options{
		Env:     map[string]string{"ACTION_HUB_VENDOR_URL_SEGMENT": fake.URL, EnvRateLimit: "0"},
		Actions: []sdk.Module{Module(Identify, opts), Module(Group, opts), Module(Track, opts)},
	})
}

func executeBody(dl string, form map[string]any, hidden ...string) map[string]any {
	hf := []any{}
	for _, h := range hidden {
		hf = append(hf, h)
	}
	return map[string]any{
		"type":        "query",
		"data":        map[string]any{ParamWriteKey: testKey},
		"form_params": form,
		"scheduled_plan": map[string]any{"title": "Users", "download_url": dl,
			"query": map[string]any{"vis_config": map[string]any{"hidden_fields": hf}}},
	}
}

func TestEndToEndIdentify(t *testing.T) {
	fake := segmentfake.New(t, segmentfake.Options{WriteKey: testKey})
	h := newHub(t, fake, Options{HTTP: fastHTTP})
	opts := rowsgen.Options{Rows: 2500, Pivots: []string{"complete", "pending"}}
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
	res := h.Execute(t, NameIdentify, executeBody(dl, map[string]any{}, "users.created"))
	if res.Status != 200 || !res.Looker.Success || res.Looker.Message != "Delivered 2,500 of 2,500 rows." {
		t.Fatalf("%d %+v", res.Status, res.Looker)
	}
	msgs := fake.Messages()
	if len(msgs) != 2500 {
		t.Fatalf("%d messages", len(msgs))
	}
	n := 42
	id, _ := opts.Text(n, 0, 0)
	var m segmentfake.Message
	for _, x := range msgs {
		if x["userId"] == id {
			m = x
		}
	}
	if m == nil {
		t.Fatalf("no message for row %d", n)
	}
	tr := m["traits"].(map[string]any)
	if _, hidden := tr["users.created"]; hidden {
		t.Error("hidden field sent")
	}
	if _, isID := tr["users.id"]; isID {
		t.Error("id field sent as a trait")
	}
	p0, _ := opts.Text(n, 4, 0)
	p1, _ := opts.Text(n, 4, 1)
	got, _ := json.Marshal(tr["orders.total"])
	if want := `[{"complete":` + p0 + `},{"pending":` + p1 + `}]`; string(got) != want {
		t.Errorf("pivoted trait %s, want %s", got, want)
	}
	// rowsgen writes ran_at after the rows, so (as in the Node hub) the rows carry the
	// execute's time.
	if ts, err := time.Parse(time.RFC3339, m["timestamp"].(string)); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("timestamp %v", m["timestamp"])
	}
}

func TestEndToEndTrackAndForm(t *testing.T) {
	fake := segmentfake.New(t, segmentfake.Options{WriteKey: testKey})
	h := newHub(t, fake, Options{HTTP: fastHTTP})
	form := h.Form(t, NameTrack, map[string]any{"data": map[string]any{ParamWriteKey: testKey}})
	if form.Status != 200 || len(form.Fields) != 1 || form.Fields[0].Name != "event" {
		t.Fatalf("form %+v", form)
	}
	dl := h.Download(t, rowsgen.Bytes(rowsgen.Options{Rows: 10}))
	res := h.Execute(t, NameTrack, executeBody(dl, map[string]any{"event": "Exported"}))
	if !res.Looker.Success {
		t.Fatalf("%+v", res.Looker)
	}
	for _, m := range fake.Messages() {
		if m["type"] != "track" || m["event"] != "Exported" || m["properties"] == nil {
			t.Fatalf("message %v", m)
		}
	}
}

func TestEndToEndActionList(t *testing.T) {
	fake := segmentfake.New(t, segmentfake.Options{WriteKey: testKey})
	h := newHub(t, fake, Options{})
	r := h.Post(t, "/actions/"+NameGroup, nil)
	var def map[string]any
	if err := json.Unmarshal(r.Body, &def); err != nil {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if f, _ := json.Marshal(def["supported_formats"]); string(f) != `["json_detail_lite_stream"]` {
		t.Errorf("formats %s", f)
	}
	if dl, _ := json.Marshal(def["supported_download_settings"]); string(dl) != `["url"]` {
		t.Errorf("download settings %s", dl)
	}
	if rf, _ := json.Marshal(def["required_fields"]); !strings.Contains(string(rf), `"tag":"segment_group_id"`) {
		t.Errorf("required fields %s", rf)
	}
}

// A download cut in the middle: the rows read are delivered, the report says the stream
// stopped, and the execute is not a success.
func TestEndToEndCutDownload(t *testing.T) {
	fake := segmentfake.New(t, segmentfake.Options{WriteKey: testKey})
	h := newHub(t, fake, Options{HTTP: fastHTTP})
	dl := h.DownloadFunc(t, func(w io.Writer) error {
		data := rowsgen.Bytes(rowsgen.Options{Rows: 1000})
		w.Write(data[:len(data)/2])
		return errors.New("cut")
	})
	res := h.Execute(t, NameIdentify, executeBody(dl, map[string]any{}))
	if res.Looker.Success || !strings.Contains(res.Looker.Message, "Stopped:") {
		t.Fatalf("%+v", res.Looker)
	}
	var delivered int
	if _, err := fmt.Sscanf(res.Looker.Message, "Delivered %d of", &delivered); err != nil || delivered != len(fake.Messages()) || delivered == 0 {
		t.Errorf("message %q, fake holds %d", res.Looker.Message, len(fake.Messages()))
	}
}
