// Package benchrows is the measuring harness of the row actions' end-to-end benchmarks
// (Braze, mParticle, Segment, Airtable, HubSpot, Marketo): each sends generated rows
// through the real HTTP server to its fake vendor and reports, with the same names, rows
// per second of wall time, rows per CPU-second of the whole process (the figure that
// matters on a shared machine), the peak live Go heap and the peak RSS of the whole test
// process (hub, fake vendor and data generator together).
//
//	var tot benchrows.Totals
//	b.StopTimer()
//	for i := 0; i < b.N; i++ {
//		// ... a fresh fake and hub if needed, a download URL (untimed) ...
//		tot.Deliver(b, h, "segment_identify", body, n) // timed and measured
//	}
//	tot.Report(b, int64(n)*int64(b.N))
package benchrows

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/hubtest"
)

// Sizes are the row counts of the streaming row actions' end-to-end benchmarks.
var Sizes = []int{100_000, 1_000_000}

// PerSize runs fn as one sub-benchmark "rows=N" per count of Sizes.
func PerSize(b *testing.B, fn func(b *testing.B, n int)) {
	for _, n := range Sizes {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) { fn(b, n) })
	}
}

// Meter measures one timed section. Get one from Start.
type Meter struct {
	start time.Time
	cpu0  time.Duration
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	peak  uint64
	smp   []metrics.Sample
}

// Start resets the process's peak RSS mark (Linux), starts sampling the live heap every
// period, and notes the wall and CPU time.
func Start(period time.Duration) *Meter {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM (Linux)
	m := &Meter{done: make(chan struct{}), smp: []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}}
	m.read()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
				m.read()
			}
		}
	}()
	m.start, m.cpu0 = time.Now(), CPUTime()
	return m
}

func (m *Meter) read() {
	m.mu.Lock()
	metrics.Read(m.smp)
	m.peak = max(m.peak, m.smp[0].Value.Uint64())
	m.mu.Unlock()
}

// Sample is what a Meter measured.
type Sample struct {
	Wall, CPU         time.Duration
	PeakHeap, PeakRSS uint64 // bytes
}

// Stop ends the section and returns its figures.
func (m *Meter) Stop() Sample {
	s := Sample{Wall: time.Since(m.start), CPU: CPUTime() - m.cpu0}
	close(m.done)
	m.wg.Wait()
	m.read()
	s.PeakHeap, s.PeakRSS = m.peak, PeakRSS()
	return s
}

// Totals adds up the Samples of a benchmark's iterations: times are summed, peaks kept.
type Totals struct {
	Sample
	// Period is how often Deliver samples the live heap (default 1ms).
	Period time.Duration
}

// Deliver runs one execute of action with body on h after a GC, with b's timer running
// during the execute only (the caller stops it before its loop), adds the execute's
// figures to t, and fails b unless the answer says that all n rows were delivered.
func (t *Totals) Deliver(b *testing.B, h *hubtest.Hub, action string, body any, n int) {
	b.Helper()
	period := t.Period
	if period <= 0 {
		period = time.Millisecond
	}
	runtime.GC()
	m := Start(period)
	b.StartTimer()
	res := h.Execute(b, action, body)
	t.Add(m.Stop())
	b.StopTimer()
	if want := "Delivered " + Group(n) + " of " + Group(n) + " rows."; !res.Looker.Success || res.Looker.Message != want {
		b.Fatalf("execute: %s", res.Body)
	}
}

// Add counts one iteration's sample.
func (t *Totals) Add(s Sample) {
	t.Wall += s.Wall
	t.CPU += s.CPU
	t.PeakHeap, t.PeakRSS = max(t.PeakHeap, s.PeakHeap), max(t.PeakRSS, s.PeakRSS)
}

// Report reports rows/s, rows/cpu-s, peak-heap-MB and peak-RSS-MB for rows sent in all.
func (t *Totals) Report(b *testing.B, rows int64) {
	b.ReportMetric(float64(rows)/t.Wall.Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/t.CPU.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(t.PeakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(t.PeakRSS)/(1<<20), "peak-RSS-MB")
}

// CPUTime is the user and system CPU time of the process so far: with -cpu 1 on a shared
// machine, rows per CPU-second says what one dedicated core would do better than wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSS is VmHWM, the peak resident set size since the last reset (Linux; 0 elsewhere).
func PeakRSS() uint64 {
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

// Group writes n with thousands separators, as the hub's delivery messages do
// ("Delivered 1,000,000 of 1,000,000 rows.").
func Group(n int) string {
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
