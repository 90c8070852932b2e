package simulator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

func TestDownloadOneTime(t *testing.T) {
	ds := &Downloads{}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	d := ds.Add("text/csv", func(ctx context.Context, w io.Writer, rows *atomic.Int64) error {
		_, err := io.WriteString(w, "a,b\n1,2\n")
		rows.Add(1)
		return err
	})
	if ds.Pending() != 1 {
		t.Fatalf("pending %d", ds.Pending())
	}
	u := srv.URL + "/downloads/" + d.Token

	// Another method does not use up the URL.
	resp, err := http.Post(u, "text/plain", nil)
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %v %v", err, resp.StatusCode)
	}
	resp, err = http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "a,b\n1,2\n" || resp.Header.Get("Content-Type") != "text/csv" {
		t.Fatalf("first GET: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	st := d.Stats()
	if !st.Fetched || !st.Complete || st.Rows != 1 || st.Bytes != 8 {
		t.Errorf("stats %+v", st)
	}
	resp, _ = http.Get(u)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("second GET: %d, want 404", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL + "/downloads/unknown")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown token: %d", resp.StatusCode)
	}
}

func TestDownloadExpires(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ds := &Downloads{Now: func() time.Time { return now }}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	src := func(ctx context.Context, w io.Writer, rows *atomic.Int64) error {
		_, err := io.WriteString(w, "x")
		return err
	}
	early := ds.Add("text/plain", src)
	late := ds.Add("text/plain", src)
	now = now.Add(DownloadTTL - time.Second)
	resp, _ := http.Get(srv.URL + "/downloads/" + early.Token)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("before 3600 s: %d", resp.StatusCode)
	}
	now = now.Add(2 * time.Second)
	resp, _ = http.Get(srv.URL + "/downloads/" + late.Token)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("after 3600 s: %d, want 404", resp.StatusCode)
	}
	if late.Stats().Fetched {
		t.Errorf("an expired URL counts as fetched")
	}
}

func TestDownloadFailureCutsTheBody(t *testing.T) {
	ds := &Downloads{}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	d := ds.Add("application/json", func(ctx context.Context, w io.Writer, rows *atomic.Int64) error {
		io.WriteString(w, `{"data":[`)
		return io.ErrUnexpectedEOF
	})
	resp, err := http.Get(srv.URL + "/downloads/" + d.Token)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a failed source gave a clean body")
	}
	d.Wait(time.Second)
	if st := d.Stats(); st.Complete || st.Error == "" {
		t.Errorf("stats %+v", st)
	}
}

// TestDownloadStreamsBoundedMemory streams a million generated rows through a download
// URL and checks that the heap stays small while hundreds of megabytes go out.
func TestDownloadStreamsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a million rows")
	}
	const rows = 1_000_000
	ds := &Downloads{}
	srv := httptest.NewServer(ds)
	defer srv.Close()
	spec := GenSpec{Rows: rows, Pivot: "orders.status", PivotValues: []string{"complete", "pending"}}
	d := ds.Add("application/json", func(ctx context.Context, w io.Writer, n *atomic.Int64) error {
		return WriteData(ctx, w, sdk.FormatJSONDetailLiteStream, spec.Dataset(), Meta{}, n)
	})

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	resp, err := http.Get(srv.URL + "/downloads/" + d.Token)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	close(stop)
	<-sampled
	if err != nil {
		t.Fatalf("after %d bytes: %v", got, err)
	}
	st := d.Stats()
	if !st.Complete || st.Rows != rows || st.Bytes != got {
		t.Fatalf("stats %+v", st)
	}
	grow := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("%d rows, %d MB sent in %s; heap in use grew by at most %.1f MB", st.Rows, st.Bytes>>20,
		st.Duration.Round(time.Millisecond), float64(grow)/(1<<20))
	if st.Bytes < 100<<20 {
		t.Errorf("only %d bytes for %d rows", st.Bytes, rows)
	}
	if grow > 32<<20 {
		t.Errorf("heap grew by %d MB while streaming: the download is being held in memory", grow>>20)
	}
}

// TestPushStreamsBoundedMemory pushes a large attachment: the request body is written
// while it is sent, so the simulator does not hold it.
func TestPushStreamsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes half a million rows")
	}
	var received atomic.Int64
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			io.WriteString(w, `{"label":"h","integrations":[{"name":"p","label":"P","params":[],"supported_action_types":["query"],`+
				`"supported_download_settings":["push"],"url":"`+"http://"+r.Host+`/actions/p/execute","form_url":null,"token_url":""}]}`)
		default:
			n, _ := io.Copy(io.Discard, r.Body)
			received.Store(n)
			io.WriteString(w, `{"looker":{"success":true,"refresh_query":false,"validation_errors":{}}}`)
		}
	}))
	defer hub.Close()
	sim := New(Options{Hub: hub.URL, Key: "k/k"})
	sim.Actions(context.Background(), true)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	rec := sim.Execute(context.Background(), ExecInput{Action: "p", Format: "csv", Gen: GenSpec{Rows: 500_000}})
	close(stop)
	<-sampled
	if !rec.OK || rec.PushedRows != 500_000 || received.Load() < rec.Pushed {
		t.Fatalf("push: ok %v rows %d pushed %d received %d err %q", rec.OK, rec.PushedRows, rec.Pushed, received.Load(), rec.Error)
	}
	grow := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("pushed %d MB; heap in use grew by at most %.1f MB", rec.Pushed>>20, float64(grow)/(1<<20))
	if grow > 24<<20 {
		t.Errorf("heap grew by %d MB for a %d MB push: the body is held in memory", grow>>20, rec.Pushed>>20)
	}
	if !strings.Contains(rec.Exchanges[0].RequestBody, "cut for display") || len(rec.Exchanges[0].RequestBody) > 8<<10 {
		t.Errorf("shown request body: %d bytes", len(rec.Exchanges[0].RequestBody))
	}
}
