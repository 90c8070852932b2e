package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

// collector is a SendFunc that records what it was sent.
type collector struct {
	mu      sync.Mutex
	batches [][]string
	rows    [][]int64
	seqs    []int64
	attempt []int
	ptrs    map[*Batch]bool
	mark    func(b *Batch) error
}

func (c *collector) send(ctx context.Context, b *Batch) error {
	c.mu.Lock()
	var items []string
	for _, it := range b.Items {
		items = append(items, string(it))
	}
	c.batches = append(c.batches, items)
	c.rows = append(c.rows, append([]int64(nil), b.Rows...))
	c.seqs = append(c.seqs, b.Seq)
	c.attempt = append(c.attempt, b.Attempt)
	if c.ptrs == nil {
		c.ptrs = map[*Batch]bool{}
	}
	c.ptrs[b] = true
	mark := c.mark
	c.mu.Unlock()
	if mark != nil {
		return mark(b)
	}
	return nil
}

func rec(i int) []byte { return []byte(`{"id":` + strconv.Itoa(i) + `}`) }

func TestBatchesBySizeInOrder(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	var c collector
	b := New(Config{MaxItems: 100}, report, c.send)
	buf := make([]byte, 0, 32)
	for i := 1; i <= 1050; i++ {
		report.AddRead(1)
		buf = append(buf[:0], rec(i)...)
		if err := b.Add(ctx, int64(i), buf); err != nil {
			t.Fatal(err)
		}
		copy(buf, "XXXXXXXX") // the caller reuses its buffer at once
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 11 {
		t.Fatalf("got %d batches, want 11", len(c.batches))
	}
	n := 0
	for bi, items := range c.batches {
		want := 100
		if bi == 10 {
			want = 50
		}
		if len(items) != want {
			t.Fatalf("batch %d has %d items, want %d", bi, len(items), want)
		}
		if c.seqs[bi] != int64(bi+1) {
			t.Errorf("batch %d has Seq %d", bi, c.seqs[bi])
		}
		for j, it := range items {
			n++
			if it != string(rec(n)) || c.rows[bi][j] != int64(n) {
				t.Fatalf("batch %d item %d = %q row %d, want %q row %d", bi, j, it, c.rows[bi][j], rec(n), n)
			}
		}
	}
	s := report.Snapshot()
	if s.Read != 1050 || s.Delivered != 1050 || s.Rejected != 0 || s.Batches != 11 || !report.Success() {
		t.Fatalf("report %+v", s)
	}
	if err := b.Add(ctx, 1, rec(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close = %v", err)
	}
}

func TestMaxBytes(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	var c collector
	const maxBytes = 100
	b := New(Config{MaxItems: 50, MaxBytes: maxBytes}, report, c.send)
	sizes := []int{10, 30, 50, 9, 99, 100, 40, 60, 1, 200, 98}
	for i, sz := range sizes {
		report.AddRead(1)
		if err := b.Add(ctx, int64(i+1), bytes.Repeat([]byte{'a' + byte(i)}, sz)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, items := range c.batches {
		total := 0
		for _, it := range items {
			total += len(it) + 1
		}
		if total > maxBytes {
			t.Errorf("batch of %d bytes over %d: %q", total, maxBytes, items)
		}
		sent += len(items)
	}
	s := report.Snapshot()
	// 100 and 200 bytes cannot fit with their separator.
	if sent != len(sizes)-2 || s.Delivered != int64(sent) || s.Rejected != 2 {
		t.Fatalf("sent %d, report %+v", sent, s)
	}
	if s.Rejections[0].Row != 6 || s.Rejections[0].Reason != "record is 100 bytes, over the limit of 99 bytes" ||
		s.Rejections[1].Row != 10 {
		t.Fatalf("rejections %+v", s.Rejections)
	}
	// Greedy packing: [10,30,50] [9] [99] [40] ...: each batch is closed only when the next item would overflow.
	if got := len(c.batches[0]); got != 3 {
		t.Errorf("first batch has %d items, want 3", got)
	}
}

func TestMaxItemBytes(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	var c collector
	b := New(Config{MaxItems: 10, MaxItemBytes: 5}, report, c.send)
	b.Add(ctx, 1, []byte("12345"))
	b.Add(ctx, 2, []byte("123456"))
	b.Close(ctx)
	s := report.Snapshot()
	if s.Delivered != 1 || s.Rejected != 1 || s.Rejections[0].Row != 2 {
		t.Fatalf("report %+v", s)
	}
}

func TestMarksAndRetries(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	var c collector
	seen := map[string]int{}
	var mu sync.Mutex
	c.mark = func(b *Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for i, it := range b.Items {
			id, _ := strconv.Atoi(strings.Trim(string(it), `{}"id:`))
			seen[string(it)]++
			if b.attempts[i] != seen[string(it)]-1 {
				t.Errorf("row %d sent for the %d. time with attempt %d", id, seen[string(it)], b.attempts[i])
			}
			switch {
			case id%10 == 0:
				b.Fail(i, "invalid email")
			case id%10 == 1 && seen[string(it)] == 1:
				b.Retry(i, "try later") // transient once, then accepted
			case id == 7:
				b.Retry(i, "always busy") // transient for ever
			}
		}
		return nil
	}
	b := New(Config{MaxItems: 10, ItemRetries: 2, MaxInFlight: 2}, report, c.send)
	for i := 1; i <= 50; i++ {
		report.AddRead(1)
		if err := b.Add(ctx, int64(i), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := report.Snapshot()
	reasons := map[string]int{}
	for _, r := range s.Rejections {
		reasons[r.Reason]++
	}
	// rows 10..50 step 10 invalid; row 7 given up after 2 re-sends.
	if s.Rejected != 6 || s.Delivered != 44 || s.Read != 50 {
		t.Fatalf("report %+v", s)
	}
	if reasons["invalid email"] != 5 || reasons["always busy"] != 1 {
		t.Fatalf("reasons %v", reasons)
	}
	mu.Lock()
	if seen[string(rec(7))] != 3 {
		t.Errorf("row 7 sent %d times, want 3 (1 + 2 retries)", seen[string(rec(7))])
	}
	for _, id := range []int{1, 11, 21, 31, 41} {
		if seen[string(rec(id))] != 2 {
			t.Errorf("row %d sent %d times, want 2", id, seen[string(rec(id))])
		}
	}
	mu.Unlock()
	maxAttempt := 0
	for _, a := range c.attempt {
		maxAttempt = max(maxAttempt, a)
	}
	if maxAttempt != 2 {
		t.Errorf("highest Batch.Attempt %d, want 2", maxAttempt)
	}
	if !strings.Contains(report.Summary(), "invalid email (x5)") {
		t.Errorf("summary %q", report.Summary())
	}
}

func TestBatchError(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	var c collector
	c.mark = func(b *Batch) error {
		if b.Seq == 2 {
			b.Fail(0, "bad thing") // kept despite the error
			b.Retry(1, "later")    // re-sent despite the error
			return errors.New("vendor said 400: broken batch")
		}
		return nil
	}
	b := New(Config{MaxItems: 10}, report, c.send)
	for i := 1; i <= 30; i++ {
		report.AddRead(1)
		b.Add(ctx, int64(i), rec(i))
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := report.Snapshot()
	if s.Rejected != 9 || s.Delivered != 21 || s.Batches != 4 {
		t.Fatalf("report %+v", s)
	}
	if s.Rejections[0] != (sdk.Rejection{Row: 11, Reason: "bad thing"}) ||
		s.Rejections[1] != (sdk.Rejection{Row: 13, Reason: "vendor said 400: broken batch"}) {
		t.Fatalf("rejections %+v", s.Rejections)
	}
}

func TestFailAll(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	b := New(Config{MaxItems: 3}, report, func(ctx context.Context, b *Batch) error {
		b.Fail(1, "one")
		b.FailAll("all")
		return nil
	})
	for i := 1; i <= 3; i++ {
		b.Add(ctx, int64(i), rec(i))
	}
	b.Close(ctx)
	s := report.Snapshot()
	if s.Rejected != 3 || s.Rejections[0].Reason != "all" || s.Rejections[1].Reason != "one" {
		t.Fatalf("report %+v", s)
	}
}

func TestBackpressureAndPool(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	gate := make(chan struct{})
	started := make(chan struct{}, 100)
	var inFlight, maxSeen atomic.Int32
	var c collector
	c.mark = func(b *Batch) error {
		n := inFlight.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		started <- struct{}{}
		<-gate
		inFlight.Add(-1)
		return nil
	}
	const maxInFlight, size = 2, 5
	b := New(Config{MaxItems: size, MaxInFlight: maxInFlight}, report, c.send)
	var added atomic.Int32
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= 100; i++ {
			if err := b.Add(ctx, int64(i), rec(i)); err != nil {
				done <- err
				return
			}
			added.Add(1)
		}
		done <- b.Close(ctx)
	}()
	<-started
	<-started
	// Two batches in flight, the third fills and then its Add must wait for a slot.
	time.Sleep(50 * time.Millisecond)
	if got := added.Load(); got != (maxInFlight+1)*size-1 {
		t.Fatalf("added %d rows while 2 batches were stuck, want %d", got, (maxInFlight+1)*size-1)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if maxSeen.Load() != maxInFlight {
		t.Errorf("max in flight %d, want %d", maxSeen.Load(), maxInFlight)
	}
	// Sent batches are not pooled (see New): live buffers are the one being filled plus
	// those in flight, which the checks above bound to maxInFlight+1.
	if s := report.Snapshot(); s.Delivered != 100 || s.Batches != 20 {
		t.Fatalf("report %+v", s)
	}
}

func TestCancelWhileBlocked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	report := sdk.NewReport()
	b := New(Config{MaxItems: 2, MaxInFlight: 1}, report, func(ctx context.Context, b *Batch) error {
		<-ctx.Done() // a vendor that never answers; the client gives up when Looker does
		return ctx.Err()
	})
	errc := make(chan error, 1)
	go func() {
		for i := 1; ; i++ {
			report.AddRead(1)
			if err := b.Add(ctx, int64(i), rec(i)); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Add = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Add did not return after cancel")
	}
	if err := b.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v", err)
	}
	s := report.Snapshot()
	if s.Delivered != 0 || s.Rejected != 0 || s.Fatal != "delivery cancelled: context canceled" || report.Success() {
		t.Fatalf("report %+v", s)
	}
	if !strings.Contains(report.Summary(), "not sent") {
		t.Errorf("summary %q", report.Summary())
	}
}

func TestFlushInterval(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	sent := make(chan int, 10)
	b := New(Config{MaxItems: 100, FlushInterval: 20 * time.Millisecond}, report, func(ctx context.Context, b *Batch) error {
		sent <- b.Len()
		return nil
	})
	for i := 1; i <= 3; i++ {
		b.Add(ctx, int64(i), rec(i))
	}
	select {
	case n := <-sent:
		if n != 3 {
			t.Fatalf("partial batch of %d, want 3", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("partial batch not sent after the flush interval")
	}
	b.Add(ctx, 4, rec(4))
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if s := report.Snapshot(); s.Delivered != 4 || s.Batches != 2 {
		t.Fatalf("report %+v", s)
	}
}

func TestItemsAreCapped(t *testing.T) {
	ctx := context.Background()
	b := New(Config{MaxItems: 2}, sdk.NewReport(), func(ctx context.Context, b *Batch) error {
		_ = append(b.Items[0], "zzzz"...)
		if string(b.Items[1]) != "bb" {
			return fmt.Errorf("item 1 clobbered: %q", b.Items[1])
		}
		if got := string(b.AppendJoined([]byte("x"), `{"batch":[`, ",", `]}`)); got != `x{"batch":[aa,bb]}` {
			return fmt.Errorf("joined %q", got)
		}
		if got := string(b.Joined("[", ",", "]")); got != `[aa,bb]` {
			return fmt.Errorf("joined %q", got)
		}
		return nil
	})
	b.Add(ctx, 1, []byte("aa"))
	b.Add(ctx, 2, []byte("bb"))
	report := b.report
	b.Close(ctx)
	if s := report.Snapshot(); s.Delivered != 2 {
		t.Fatalf("report %+v", s)
	}
}

func TestLongReasonCapped(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	b := New(Config{MaxItems: 1}, report, func(ctx context.Context, b *Batch) error {
		return errors.New(strings.Repeat("é", 1000))
	})
	b.Add(ctx, 1, rec(1))
	b.Close(ctx)
	r := report.Snapshot().Rejections[0].Reason
	if len(r) > maxReasonBytes+len("…") || !strings.HasSuffix(r, "…") || !strings.HasPrefix(r, "éé") {
		t.Fatalf("reason of %d bytes: %q", len(r), r[:20])
	}
}

func TestAddAllocs(t *testing.T) {
	ctx := context.Background()
	b := New(Config{MaxItems: 500, MaxBytes: 1 << 20, MaxInFlight: 2}, sdk.NewReport(), func(ctx context.Context, b *Batch) error {
		_ = b.Joined(`{"batch":[`, ",", `]}`)
		return nil
	})
	r := bytes.Repeat([]byte("x"), 200)
	for i := 0; i < 5000; i++ { // warm the buffers
		b.Add(ctx, int64(i), r)
	}
	allocs := testing.AllocsPerRun(20000, func() { b.Add(ctx, 1, r) })
	b.Close(ctx)
	// One goroutine per batch of 500 is the only steady allocation.
	if allocs > 0.1 {
		t.Fatalf("%.3f allocations per Add, want ~0", allocs)
	}
}

// slice source for Pump
type numRow int64

func (n numRow) Number() int64 { return int64(n) }

type sliceSource struct {
	n, max int
	err    error
}

func (s *sliceSource) Next() bool  { s.n++; return s.n <= s.max }
func (s *sliceSource) Row() numRow { return numRow(s.n) }
func (s *sliceSource) Err() error {
	if s.n > s.max {
		return s.err
	}
	return nil
}

func TestPump(t *testing.T) {
	ctx := context.Background()
	report := sdk.NewReport()
	var c collector
	b := New(Config{MaxItems: 7}, report, c.send)
	src := &sliceSource{max: 40, err: errors.New("the download from Looker failed after 1234 bytes: unexpected EOF")}
	err := Pump(ctx, src, report, b, func(dst []byte, row numRow) ([]byte, error) {
		switch {
		case row%13 == 0:
			return nil, errors.New("missing email")
		case row%17 == 0:
			return nil, fmt.Errorf("row %d: %w", row, ErrSkip)
		}
		return strconv.AppendInt(append(dst, "r"...), int64(row), 10), nil
	})
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("Pump = %v", err)
	}
	s := report.Snapshot()
	if s.Read != 40 || s.Rejected != 3 || s.Skipped != 2 || s.Delivered != 35 || s.Fatal == "" {
		t.Fatalf("report %+v", s)
	}
	if s.Rejections[0].Row != 13 || s.Rejections[0].Reason != "missing email" {
		t.Fatalf("rejections %+v", s.Rejections)
	}
	if c.batches[0][0] != "r1" || c.batches[0][6] != "r7" {
		t.Fatalf("batches %v", c.batches[0])
	}
}

func BenchmarkBatcherAdd(b *testing.B) {
	ctx := context.Background()
	report := sdk.NewReport()
	bt := New(Config{MaxItems: 500, MaxBytes: 1 << 20, MaxInFlight: 2}, report, func(ctx context.Context, b *Batch) error {
		_ = b.Joined(`{"batch":[`, ",", `]}`)
		return nil
	})
	r := bytes.Repeat([]byte("x"), 200)
	b.SetBytes(int64(len(r)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt.Add(ctx, int64(i), r)
	}
	bt.Close(ctx)
	b.StopTimer()
	if report.Snapshot().Delivered != int64(b.N) {
		b.Fatal("not all delivered")
	}
}
