package webhookbatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/fakes/faults"
	"github.com/actionhub/actionhub/internal/fakes/webhookrecv"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
	"github.com/actionhub/actionhub/server"
)

// testModule registers the action with the fast test client.
func testModule() sdk.Module {
	return sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) { return New(env, testConfig()), nil }}
}

func executeBody(recv *webhookrecv.Receiver, downloadURL string, batchSize string) map[string]any {
	return map[string]any{
		"type": "query",
		"data": map[string]any{"url": recv.URL + "/hook", "secret": testSecret, "batch_size": batchSize},
		"scheduled_plan": map[string]any{
			"title": "Daily users", "download_url": downloadURL,
		},
	}
}

func TestE2EUnderFaults(t *testing.T) {
	const n = 5000
	recv, _ := faultyReceiver(t, 7, 0.2)
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{testModule()}, HTTPClient: recv.Client()})
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, rowsgen.Options{Rows: n}) })
	res := h.Execute(t, Name, executeBody(recv, dl, "250"))
	if res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if res.Looker.Success {
		t.Fatalf("rows were rejected, yet success: %s", res.Body)
	}
	// The envelope's message is the report's summary: rebuild the figures from it.
	checkFaultyReport(t, recv, n, snapshotFromReceiver(recv, n), res.Looker.Message)
	if strings.Contains(string(res.Body), testSecret) {
		t.Fatal("secret in the reply")
	}
}

// snapshotFromReceiver is what the report must say, as the receiver saw it.
func snapshotFromReceiver(recv *webhookrecv.Receiver, n int) sdk.Snapshot {
	st := recv.Stats()
	var rej []sdk.Rejection
	for id := 50; id <= n && len(rej) < sdk.MaxReportedRejections; id += 50 {
		rej = append(rej, sdk.Rejection{Row: int64(id), Reason: "invalid email"})
	}
	return sdk.Snapshot{Read: int64(n), Delivered: st.Rows, Rejected: st.Rejected, Retries: 1, Rejections: rej}
}

func TestE2EClean(t *testing.T) {
	const n = 1234
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{testModule()}, HTTPClient: recv.Client()})
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, rowsgen.Options{Rows: n, DataFirst: true}) })
	res := h.Execute(t, Name, executeBody(recv, dl, ""))
	if res.Status != 200 || !res.Looker.Success || !strings.Contains(res.Looker.Message, "Delivered 1,234 of 1,234 rows") {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	checkExactlyOnce(t, recv, n, func(int) bool { return false })
	if st := recv.Stats(); st.Batches != 3 { // default batch size 500
		t.Fatalf("receiver %+v", st)
	}
}

// TestE2ELookerHangsUp: when Looker closes the execute connection, the hub stops sending.
func TestE2ELookerHangsUp(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	recv.Faults.Func = func(int64) faults.Kind { return faults.TimeoutBefore } // never answers
	recv.Faults.Stall = 30 * time.Second
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{testModule()}, HTTPClient: recv.Client()})
	dl := h.DownloadFunc(t, func(w io.Writer) error { return rowsgen.JSONDetail(w, rowsgen.Options{Rows: 20_000}) })
	body, _ := json.Marshal(executeBody(recv, dl, "10"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.URL+"/actions/"+Name+"/execute", bytes.NewReader(body))
	req.Header.Set("Authorization", server.AuthorizationHeader(h.Key))
	req.Header.Set("User-Agent", "LookerOutgoingWebhook/"+hubtest.LookerVersion)
	req.Header.Set("Content-Type", "application/json")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for recv.Stats().Calls < maxInFlight {
		time.Sleep(time.Millisecond)
	}
	cancel() // Looker hangs up
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("execute ended with %v", err)
	}
	// Attempts time out after 150ms in the test client: a hub still sending would call again.
	time.Sleep(100 * time.Millisecond)
	calls := recv.Stats().Calls
	time.Sleep(500 * time.Millisecond)
	if got := recv.Stats().Calls; got != calls || calls > 2*maxInFlight {
		t.Fatalf("%d calls after the hang-up, then %d", calls, got)
	}
}

func TestE2EListing(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{testModule()}, HTTPClient: recv.Client()})
	r := h.Post(t, "/", map[string]any{})
	body := string(r.Body)
	for _, want := range []string{`"name":"webhook_batch"`, `"label":"Webhook (JSON batches)"`, `"supported_formats":["json_detail_lite_stream"]`,
		`"supported_download_settings":["url"]`, `"sensitive":true`} {
		if !strings.Contains(body, want) {
			t.Errorf("action list lacks %s: %s", want, body)
		}
	}
}

func TestConformance(t *testing.T) {
	recv := webhookrecv.New(t, webhookrecv.Options{Secret: testSecret})
	actiontest.Conformance(t, sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
		// The conformance hub has its own client; the receiver is on loopback either way.
		return New(env, testConfig()), nil
	}}, actiontest.CheckOptions{
		Params: map[string]string{"url": recv.URL, "secret": testSecret},
		Data:   genData(t, rowsgen.Options{Rows: 3}),
		Format: sdk.FormatJSONDetailLiteStream,
	})
	if recv.Stats().Batches != 2 {
		t.Fatalf("receiver %+v", recv.Stats())
	}
}
