package hubspot

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

	hubspotfake "github.com/actionhub/actionhub/internal/fakes/hubspot"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkExecute1M sends 1,000,000 rows of json_detail_lite_stream through a download
// URL and the real HTTP server to the fake HubSpot, which answers at once. The rate limit
// is lifted through Module's tune hook (Limits.Rate = 0; in a deployment the same is
// HUBSPOT_RATE_LIMIT=0). It reports rows/s (wall time), rows per CPU-second of the whole
// process (the figure that matters on a shared machine), the peak Go heap and the peak RSS of the
// whole test process (hub, fake vendor and data generator together), and fails if a row
// is lost or duplicated. Run alone for meaningful memory figures:
//
//	taskset -c 0 go test -run '^$' -bench Execute1M -benchtime 1x -cpu 1 ./actions/hubspot
func BenchmarkExecute1M(b *testing.B) {
	const n = 1_000_000
	opts := genOpts(n, Contacts.Tag)
	var total, cpu time.Duration
	var peakHeap, peakRSS uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fake := hubspotfake.New(b, hubspotfake.Options{Token: token, Fast: true})
		h := hubtest.New(b, hubtest.Options{
			Env:     map[string]string{sdk.VendorURLVar + "HUBSPOT": fake.URL},
			Actions: []sdk.Module{Module(Contacts, func(l *Limits) { l.Rate = 0 })},
		})
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		runtime.GC()
		stop := sampleMemory()
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		res := h.Execute(b, "hubspot_contacts", map[string]any{
			"type": "query", "data": map[string]any{"hubspot_access_token": token},
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
			b.Fatalf("fake saw %d distinct ids and %d repeats, want %d and 0", distinct, repeated, n)
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
