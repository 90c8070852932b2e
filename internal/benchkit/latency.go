package benchkit

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Latency is the outcome of a closed-loop load: Clients clients each sending one request
// after the other for a duration.
type Latency struct {
	Requests int64
	Errors   int64
	P50, P99 time.Duration
	// PerSecond is the completed requests per second of wall time.
	PerSecond float64
}

// Load runs clients goroutines calling do in a loop for d and measures each call. A call
// that returns an error counts in Errors and not in the percentiles.
func Load(ctx context.Context, clients int, d time.Duration, do func(ctx context.Context) error) Latency {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var bad int64
			for ctx.Err() == nil {
				t0 := time.Now()
				err := do(ctx)
				if ctx.Err() != nil {
					break // cut by the end of the run: not a measurement
				}
				if err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(all)
	l := Latency{Requests: int64(len(all)), Errors: errs, P50: Percentile(all, 50), P99: Percentile(all, 99)}
	if elapsed > 0 {
		l.PerSecond = float64(len(all)) / elapsed.Seconds()
	}
	return l
}

// Percentile returns the p-th percentile (nearest rank) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.5) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// Machine describes where a run happened.
type Machine struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	OS    string `json:"os"`
	Go    string `json:"go"`
}

// ThisMachine reads the CPU model from /proc/cpuinfo and the core count from the runtime.
func ThisMachine() Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
