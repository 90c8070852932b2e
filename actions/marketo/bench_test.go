package marketo

import (
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	marketofake "github.com/actionhub/actionhub/internal/fakes/marketo"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkExecute1M sends 1,000,000 rows of json_detail_lite_stream through a download
// URL and the real HTTP server to the fake Marketo (lead sync only), which answers at
// once. The limits are lifted through Module's tune hook (Limits.Rate = 0 and no
// concurrency cap; in a deployment MARKETO_RATE_LIMIT=0 lifts the rate) and the fake's
// own limits are off. It reports rows/s (wall time), rows per CPU-second of the whole
// process, the peak Go heap and the peak RSS of the whole test process (hub, fake vendor
// and data generator together), and fails if a row is lost or duplicated:
//
//	taskset -c 0 go test -run '^$' -bench Execute1M -benchtime 1x -cpu 1 ./actions/marketo
func BenchmarkExecute1M(b *testing.B) {
	const n = 1_000_000
	opts := mapped(n)
	var total, cpu time.Duration
	var peakHeap, peakRSS uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fake := marketofake.New(b, marketofake.Options{ClientID: clientID, ClientSecret: secret, Fast: true,
			RateLimit: -1, Concurrency: -1})
		h := hubtest.New(b, hubtest.Options{
			Actions: []sdk.Module{Module(func(l *Limits) { l.Rate, l.Concurrency = 0, 0 })},
		})
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		runtime.GC()
		stop := sampleMemory()
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		res := h.Execute(b, "marketo", map[string]any{
			"type": "query", "data": map[string]any{"url": fake.URL, "clientID": clientID, "clientSecret": secret},
			"form_params":    map[string]any{"lookupField": "email", "subaction": "none"},
			"scheduled_plan": map[string]any{"download_url": dl},
		})
		total += time.Since(start)
		cpu += cpuTime() - cpu0
		b.StopTimer()
		heap, rss := stop()
		peakHeap, peakRSS = max(peakHeap, heap), max(peakRSS, rss)
		if !res.Looker.Success || res.Looker.Message != "Delivered 1,000,000 of 1,000,000 rows." {
			b.Fatalf("execute: %s", res.Body)
		}
		if distinct, repeated := fake.Seen(); distinct != n || repeated != 0 {
			b.Fatalf("fake saw %d distinct leads and %d repeats, want %d and 0", distinct, repeated, n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MB")
}

// sampleMemory resets the process's peak RSS mark and samples the live heap every 5ms
// until the returned function is called; it returns the peaks.
func sampleMemory() func() (heap, rss uint64) {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM (Linux)
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			mu.Lock()
			peak = max(peak, samples[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		return peak, vmHWM()
	}
}

// cpuTime is the user and system CPU time of the process so far: on a shared machine,
// rows per CPU-second says what one dedicated core would do better than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmHWM returns the process's peak resident set size from /proc/self/status.
func vmHWM() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
