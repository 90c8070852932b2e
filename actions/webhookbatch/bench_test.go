package webhookbatch

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/webhookrecv"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// benchRows is the number of rows of one benchmarked execute (about 15 MB of
// json_detail_lite_stream with rowsgen's default five columns).
const benchRows = 100_000

// runBench runs one execute per iteration and reports rows/s and allocations per row
// (the receiver, in the same process, included).
func runBench(b *testing.B, newReq func() *sdk.Request, recv *webhookrecv.Receiver) {
	a := New(&sdk.Env{HTTPClient: recv.Client()}, testConfig())
	ctx := context.Background()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := a.Execute(ctx, newReq())
		if err != nil || !resp.Success {
			b.Fatalf("%+v %v", resp, err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	total := float64(b.N) * benchRows
	b.ReportMetric(total/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		// Rows per second of CPU time (hub and receiver together): what one core sustains,
		// whatever else the machine runs.
		b.ReportMetric(total/cpu.Seconds(), "rows/cpu-s")
	}
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/row")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/total, "B/row")
	if got := recv.Stats().Rows; got != int64(b.N)*benchRows {
		b.Fatalf("receiver got %d rows, want %d", got, int64(b.N)*benchRows)
	}
}

// BenchmarkExecute is the action end to end from a pushed attachment to the fake
// receiver answering at once: parse, map, batch, sign, POST over loopback HTTP.
func BenchmarkExecute(b *testing.B) {
	data := genData(b, rowsgen.Options{Rows: benchRows})
	recv := webhookrecv.New(b, webhookrecv.Options{Secret: testSecret, Discard: true})
	b.SetBytes(int64(len(data)))
	runBench(b, func() *sdk.Request { return newRequest(recv, data, DefaultBatchSize) }, recv)
}

// BenchmarkExecuteDownload is BenchmarkExecute with the data streamed from a download URL,
// as Looker sends it to a streaming action.
func BenchmarkExecuteDownload(b *testing.B) {
	data := genData(b, rowsgen.Options{Rows: benchRows})
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	}))
	defer dl.Close()
	recv := webhookrecv.New(b, webhookrecv.Options{Secret: testSecret, Discard: true})
	b.SetBytes(int64(len(data)))
	runBench(b, func() *sdk.Request {
		req := newRequest(recv, nil, DefaultBatchSize)
		req.Attachment = nil
		req.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: dl.URL}
		return req
	}, recv)
}

// BenchmarkPipelineNoHTTP is the same pipeline with a SendFunc that only builds and signs
// the body: the cost of reading, mapping and batching alone.
func BenchmarkPipelineNoHTTP(b *testing.B) {
	data := genData(b, rowsgen.Options{Rows: benchRows})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	ctx := context.Background()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		report := sdk.NewReport()
		ex := &execution{set: settings{secret: testSecret}, report: report, prefix: "bench"}
		bt := batch.New(batch.Config{MaxItems: DefaultBatchSize, MaxBytes: MaxBodyBytes - envelopeReserve, MaxInFlight: maxInFlight},
			report, func(ctx context.Context, b *batch.Batch) error {
				_ = b.Joined(`{"rows":[`, ",", `],"batch_id":"x"}`)
				return nil
			})
		rd := rows.NewReader(bytes.NewReader(data), "")
		batch.Pump(ctx, rd, report, bt, ex.mapRow)
		if report.Snapshot().Delivered != benchRows {
			b.Fatal(report.Summary())
		}
	}
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)*benchRows/cpu.Seconds(), "rows/cpu-s")
	}
}
