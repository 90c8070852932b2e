package vendorhttp

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// limiterIdle is how long an unused limiter stays in the registry once it holds more than
// limiterSweepAt entries.
const (
	limiterIdle    = 15 * time.Minute
	limiterSweepAt = 4096
)

type limiterKey struct {
	vendor string
	cred   [sha256.Size]byte
}

type limiter struct {
	lim      *rate.Limiter
	lastUsed atomic.Int64 // unix nanoseconds, wall clock
}

var (
	limMu    sync.Mutex
	limiters = map[limiterKey]*limiter{}
)

// limiterFor returns the process-wide token bucket of (vendor, credential), creating it or
// updating its rate to the latest configuration.
func limiterFor(vendor, credential string, r float64, burst int) *limiter {
	key := limiterKey{vendor: vendor, cred: sha256.Sum256([]byte(credential))}
	now := time.Now()
	limMu.Lock()
	defer limMu.Unlock()
	l := limiters[key]
	if l == nil {
		if len(limiters) >= limiterSweepAt {
			sweepLimiters(now)
		}
		l = &limiter{lim: rate.NewLimiter(rate.Limit(r), burst)}
		limiters[key] = l
	} else if l.lim.Limit() != rate.Limit(r) || l.lim.Burst() != burst {
		l.lim.SetLimit(rate.Limit(r))
		l.lim.SetBurst(burst)
	}
	l.lastUsed.Store(now.UnixNano())
	return l
}

// sweepLimiters drops the limiters unused for limiterIdle. limMu is held.
func sweepLimiters(now time.Time) {
	cut := now.Add(-limiterIdle).UnixNano()
	for k, l := range limiters {
		if l.lastUsed.Load() < cut {
			delete(limiters, k)
		}
	}
}

// wait takes one token, sleeping on clock until it is available.
func (l *limiter) wait(ctx context.Context, clock Clock) error {
	now := clock.Now()
	r := l.lim.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("rate limiter refuses a request (burst %d)", l.lim.Burst())
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if err := clock.Sleep(ctx, d); err != nil {
		r.CancelAt(clock.Now())
		return err
	}
	return nil
}
