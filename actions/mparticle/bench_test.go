package mparticle

import (
	"fmt"
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

	mparticlefake "github.com/actionhub/actionhub/internal/fakes/mparticle"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// BenchmarkEndToEnd sends json_detail_lite_stream rows (event data) from a one-time
// download URL through the real HTTP server (hubtest) to the fake mParticle, which answers
// at once and only counts (Light mode). The hub's own rate limit is off
// (MPARTICLE_RATE_LIMIT=0): with it on, mParticle's default 270 batches/s is the ceiling.
// It reports rows/s, rows per CPU second, the peak Go heap and the peak RSS. Run it alone,
// on one core:
//
//	go test -run '^$' -bench EndToEnd -benchtime 1x -cpu 1 ./actions/mparticle/
func BenchmarkEndToEnd(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) { benchEndToEnd(b, n) })
	}
}

func benchEndToEnd(b *testing.B, n int) {
	fake := mparticlefake.New(b, mparticlefake.Options{APIKey: testKey, APISecret: testSecret, Light: true})
	h := newHub(b, fake, Options{})
	opts := rowsgen.Options{Rows: n, Columns: genColumns}
	runtime.GC()
	resetPeakRSS()
	stop := samplePeakHeap()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		dl := h.DownloadFunc(b, func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) })
		res := h.Execute(b, Name, executeBody(dl, EventData))
		if !res.Looker.Success || res.Looker.Message != "Delivered "+group(n)+" of "+group(n)+" rows." {
			b.Fatalf("%+v", res.Looker)
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	peakHeap := stop()
	if got, want := fake.Received(), int64(n)*int64(b.N); got != want {
		b.Fatalf("the fake received %d batches, want %d", got, want)
	}
	if p := fake.Problems(); len(p) > 0 {
		b.Fatalf("the fake refused: %v", p)
	}
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(fake.Requests())/float64(b.N), "requests/op")
}

func group(n int) string {
	s := strconv.Itoa(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// cpuTime is the CPU time (user + system) the process has used: with -cpu 1 it measures
// what one core does even when other processes share the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// samplePeakHeap samples the live heap every millisecond until the returned function is
// called, which returns the peak.
func samplePeakHeap() func() uint64 {
	var (
		peak uint64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak {
			peak = v
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		read()
		return peak
	}
}

// resetPeakRSS resets the kernel's high-water mark of the process RSS (Linux).
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM, the peak resident set size since the last reset (Linux; 0 elsewhere).
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
