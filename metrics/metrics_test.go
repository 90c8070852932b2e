package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/metrics"
	"github.com/actionhub/actionhub/sdk"
)

func TestMetricsAndHealth(t *testing.T) {
	m := metrics.New()
	m.SetActions([]string{"segment_event"})
	m.Request("execute", "segment_event", 200, 5*time.Millisecond)
	m.Request("execute", "../../etc/passwd", 404, time.Millisecond)
	m.ExecuteStarted("segment_event")
	r := sdk.NewReport()
	r.AddRead(10)
	r.AddDelivered(9)
	r.Reject(3, "bad")
	m.ExecuteFinished("segment_event", r, time.Second)
	m.Call("segment", 429, time.Millisecond)
	m.Retry("segment", 429)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	out := string(b)
	for _, want := range []string{
		`actionhub_requests_total{action="segment_event",route="execute",status="200"} 1`,
		`actionhub_requests_total{action="unknown",route="execute",status="404"} 1`,
		`actionhub_rows_total{action="segment_event",outcome="delivered"} 9`,
		`actionhub_rows_total{action="segment_event",outcome="rejected"} 1`,
		`actionhub_executes_in_flight 0`,
		`actionhub_vendor_rate_limited_total{vendor="segment"} 1`,
		`actionhub_vendor_retries_total{status="429",vendor="segment"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, "passwd") {
		t.Error("a request path leaked into labels")
	}
	ready := true
	h := httptest.NewServer(metrics.Health(func() bool { return ready }))
	defer h.Close()
	for _, c := range []struct {
		path   string
		ready  bool
		status int
	}{{"/healthz", true, 200}, {"/readyz", true, 200}, {"/readyz", false, 503}, {"/healthz", false, 200}} {
		ready = c.ready
		resp, err := h.Client().Get(h.URL + c.path)
		if err != nil || resp.StatusCode != c.status {
			t.Errorf("%s ready=%v: %v %v", c.path, c.ready, resp.StatusCode, err)
		}
	}
}
