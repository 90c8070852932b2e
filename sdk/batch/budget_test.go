package batch

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

func TestMemoryBudgetBoundsBatchesInFlightAcrossBatchers(t *testing.T) {
	SetMemoryBudget(1000) // each 200-byte batch holds 400: two fit
	defer SetMemoryBudget(0)
	var inFlight, peak atomic.Int64
	send := func(ctx context.Context, b *Batch) error {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		return nil
	}
	rec := make([]byte, 200)
	var wg sync.WaitGroup
	reports := make([]*sdk.Report, 3)
	for i := range reports {
		reports[i] = sdk.NewReport()
		wg.Add(1)
		go func(r *sdk.Report) {
			defer wg.Done()
			b := New(Config{MaxItems: 1, MaxInFlight: 8}, r, send)
			for row := int64(1); row <= 20; row++ {
				r.AddRead(1)
				if err := b.Add(context.Background(), row, rec); err != nil {
					t.Error(err)
				}
			}
			b.Close(context.Background())
		}(reports[i])
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Errorf("%d batches in flight at once, the budget allows 2", p)
	}
	for _, r := range reports {
		if !r.Success() || r.Snapshot().Delivered != 20 {
			t.Errorf("report %s", r.Summary())
		}
	}
	if budget.used != 0 || len(budget.waiters) != 0 {
		t.Errorf("budget not returned: used %d, %d waiters", budget.used, len(budget.waiters))
	}
}

func TestMemoryBudgetWaitEndsWithContext(t *testing.T) {
	SetMemoryBudget(100)
	defer SetMemoryBudget(0)
	held, _ := budget.acquire(context.Background(), 100)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := budget.acquire(ctx, 50); err == nil {
		t.Fatal("acquire past the budget must wait, then fail with the context")
	}
	budget.release(held)
	if n, err := budget.acquire(context.Background(), 50); err != nil || n != 50 {
		t.Fatalf("after release: %d %v", n, err)
	}
	budget.release(50)
}
