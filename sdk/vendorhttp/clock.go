package vendorhttp

import (
	"context"
	"sync/atomic"
	"time"
)

// Clock is the time source of a Client's waits (backoff, Retry-After, rate limits). Tests
// substitute a fake one (see package vendorhttptest) so that waits take no wall time and
// can be measured exactly.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends, returning ctx.Err() in that case.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type clockBox struct{ c Clock }

var procClock atomic.Pointer[clockBox]

// SetClock sets the process-wide Clock of the Clients whose Config.Clock is nil, and
// returns a function restoring the previous one. It exists for tests of actions that
// build their own Clients; such tests must not run in parallel with other tests that
// depend on the real clock.
func SetClock(c Clock) (restore func()) {
	prev := procClock.Swap(&clockBox{c})
	return func() { procClock.Store(prev) }
}

func defaultClock() Clock {
	if b := procClock.Load(); b != nil && b.c != nil {
		return b.c
	}
	return RealClock{}
}
