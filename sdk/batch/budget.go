package batch

import (
	"context"
	"sync"
)

// DefaultMemoryBudget bounds the bytes of batches in flight across every Batcher of the
// process (each batch counts twice: its items and the joined request body). With many
// concurrent executes, senders wait for room instead of growing memory: a busy hub slows
// down rather than running out of memory.
const DefaultMemoryBudget = 48 << 20

var budget = &byteBudget{max: DefaultMemoryBudget}

// SetMemoryBudget changes the process-wide budget of in-flight batch bytes (n <= 0 restores
// the default). Call it at start-up.
func SetMemoryBudget(n int64) {
	if n <= 0 {
		n = DefaultMemoryBudget
	}
	budget.mu.Lock()
	budget.max = n
	budget.mu.Unlock()
}

// byteBudget is a weighted semaphore served in arrival order.
type byteBudget struct {
	mu      sync.Mutex
	max     int64
	used    int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

// acquire takes n bytes (at most the whole budget, so a single large batch can still go),
// waiting for room or ctx. It returns the amount taken, to pass to release.
func (b *byteBudget) acquire(ctx context.Context, n int64) (int64, error) {
	b.mu.Lock()
	if n > b.max {
		n = b.max
	}
	if len(b.waiters) == 0 && b.used+n <= b.max {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.mu.Unlock()
			b.release(n)
			return 0, ctx.Err()
		default:
		}
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
		b.grantLocked()
		b.mu.Unlock()
		return 0, ctx.Err()
	}
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grantLocked()
	b.mu.Unlock()
}

func (b *byteBudget) grantLocked() {
	for len(b.waiters) > 0 && b.used+b.waiters[0].n <= b.max {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}
