// Package vendorhttptest helps test code that calls vendors through package vendorhttp:
// a fake clock whose sleeps return at once and advance virtual time, so retries, backoff,
// Retry-After and rate limits take no wall time and can be measured exactly.
package vendorhttptest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// FakeClock is a vendorhttp.Clock in virtual time. Sleep returns at once (or with
// ctx.Err() if ctx has ended) and moves the clock forward by d. It is safe for concurrent
// use; concurrent sleeps add up, as if they ran one after another, so Slept is an upper
// bound of the wall time the waits would take.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	slept  time.Duration
	sleeps []time.Duration
}

// NewFakeClock returns a FakeClock starting at start (zero: 2026-01-01T00:00:00Z).
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &FakeClock{now: start}
}

// Now returns the virtual time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep advances the virtual time by d.
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return nil
}

// Advance moves the virtual time without counting a sleep.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Slept returns the total of every Sleep.
func (c *FakeClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// Sleeps returns each Sleep's duration in order.
func (c *FakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// Instant installs a new FakeClock as the process-wide default of vendorhttp Clients
// (those whose Config.Clock is nil) until the test ends, and returns it. Use it in tests
// of actions that build their own Clients; do not combine it with t.Parallel.
func Instant(t testing.TB) *FakeClock {
	c := NewFakeClock(time.Time{})
	restore := vendorhttp.SetClock(c)
	t.Cleanup(restore)
	return c
}
