// Package batch groups the records a row action maps from Looker's rows into vendor
// batches and sends them with bounded concurrency and backpressure, counting every
// outcome into an [sdk.Report].
//
// It is the shared delivery machinery in the manner of Benthos outputs: an action says
// how to encode one record and how to send one batch (a [SendFunc]) and which items of it
// the vendor refused; the [Batcher] owns the buffers, the size and byte limits, the flush
// timer, the number of batches in flight, the bounded re-sending of items the vendor
// refused for a transient reason, and the report. An action owns no queue, retry loop or
// buffer of its own.
//
// The usual loop is [Pump]; by hand it reads:
//
//	b := batch.New(batch.Config{MaxItems: 500, MaxBytes: 500 << 10}, report, send)
//	for rd.Next() {
//		report.AddRead(1)
//		rec, err := mapRow(scratch[:0], rd.Row())
//		if err != nil {
//			report.Reject(rd.Row().Number(), err.Error())
//			continue
//		}
//		if err := b.Add(ctx, rd.Row().Number(), rec); err != nil {
//			break
//		}
//	}
//	b.Close(ctx)
//
// Memory stays bounded whatever the number of rows: at most MaxInFlight+1 batches of one
// Batcher exist at a time, and a process-wide budget (SetMemoryBudget) bounds the bytes of
// batches in flight across all executes.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

// DefaultItemRetries is how many times an item marked Retry is re-sent when
// Config.ItemRetries is 0.
const DefaultItemRetries = 3

// maxReasonBytes caps a rejection reason kept in the report, so a vendor's long error
// page cannot bloat it.
const maxReasonBytes = 500

// Config sets a Batcher's limits. MaxItems is required; every other zero value has a
// sensible meaning.
type Config struct {
	// MaxItems is the number of items per batch (the vendor's limit). Required.
	MaxItems int
	// MaxBytes caps the encoded bytes of a batch, counting one separator byte per item
	// (so a batch of n items of sizes s1..sn counts s1+...+sn+n). 0 means no limit. Leave
	// room for the envelope the SendFunc adds around the items.
	MaxBytes int
	// MaxItemBytes rejects, with a reason and without sending, one record larger than
	// this. 0 means MaxBytes-1 (a record must fit in a batch alone with its separator).
	MaxItemBytes int
	// MaxInFlight is the number of batches sent concurrently (default 1). When that many
	// are in flight, Add blocks: a slow vendor slows the reading of Looker's stream.
	MaxInFlight int
	// FlushInterval sends a partial batch once its first item has waited this long.
	// 0 sends only full batches and the rest at Close.
	FlushInterval time.Duration
	// ItemRetries is how many times an item marked Retry is re-sent in a later batch
	// before it is rejected with the reason given (default DefaultItemRetries; use a
	// negative value for none).
	ItemRetries int
}

// SendFunc sends one batch. It is called from its own goroutine, up to MaxInFlight at
// once, and owns the batch until it returns.
//
// A nil error means the vendor answered: items marked with Batch.Fail are rejected with
// their reason, items marked with Batch.Retry are re-sent later (bounded by ItemRetries),
// and every unmarked item is counted delivered. A non-nil error means the whole batch
// failed after the vendor client's own retries: every unmarked item is rejected with the
// error's text (which must hold no secret; vendorhttp's errors are redacted). When the
// context was cancelled, unmarked items are counted neither delivered nor rejected and
// the report records the cancellation as fatal.
type SendFunc func(ctx context.Context, b *Batch) error

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("batch: Add after Close")

// item marks
const (
	markNone uint8 = iota
	markFail
	markRetry
)

// Batch is one group of items handed to a SendFunc. Items and Rows are parallel: Items[i]
// is the record added for row Rows[i]. Items are views into the batch's own buffer, valid
// until the SendFunc returns; the batch is reused afterwards.
type Batch struct {
	// Items are the encoded records, in the order added.
	Items [][]byte
	// Rows are the 1-based row numbers the records came from.
	Rows []int64
	// Attempt is the highest number of earlier sends among the batch's items: 0 when
	// every item is sent for the first time, 1 or more when some are re-sent after the
	// vendor asked for it with Retry.
	Attempt int
	// Seq numbers the batches of a Batcher from 1 in the order they are sent; with an
	// execute-unique prefix it makes a batch id. A batch re-sent by the vendor client's
	// own retries keeps its Seq; items re-sent after Retry travel in a new batch.
	Seq int64

	buf      []byte
	ends     []int
	attempts []int
	marks    []uint8
	reasons  []string
	bytes    int
	scratch  []byte
}

// Len returns the number of items.
func (b *Batch) Len() int { return len(b.Items) }

// Fail marks item i as refused for good: it is rejected with reason in the report.
func (b *Batch) Fail(i int, reason string) { b.mark(i, markFail, reason) }

// Retry marks item i as refused for a transient reason: it is re-sent in a later batch,
// at most ItemRetries times, then rejected with reason.
func (b *Batch) Retry(i int, reason string) { b.mark(i, markRetry, reason) }

// FailAll marks every item not already marked as refused with reason.
func (b *Batch) FailAll(reason string) {
	for i := range b.Items {
		if b.marks[i] == markNone {
			b.mark(i, markFail, reason)
		}
	}
}

func (b *Batch) mark(i int, m uint8, reason string) {
	if i < 0 || i >= len(b.Items) {
		panic(fmt.Sprintf("batch: item %d out of range [0,%d)", i, len(b.Items)))
	}
	b.marks[i] = m
	b.reasons[i] = reason
}

// AppendJoined appends prefix, the items separated by sep, and suffix to dst, for example
// AppendJoined(dst, `{"batch":[`, ",", `]}`).
func (b *Batch) AppendJoined(dst []byte, prefix, sep, suffix string) []byte {
	dst = append(dst, prefix...)
	for i, it := range b.Items {
		if i > 0 {
			dst = append(dst, sep...)
		}
		dst = append(dst, it...)
	}
	return append(dst, suffix...)
}

// Joined is AppendJoined into a buffer the batch owns and reuses, so building a request
// body allocates nothing once warm. The result is valid until the SendFunc returns.
func (b *Batch) Joined(prefix, sep, suffix string) []byte {
	b.scratch = b.AppendJoined(b.scratch[:0], prefix, sep, suffix)
	return b.scratch
}

// reset empties the batch for reuse, keeping its memory.
func (b *Batch) reset() {
	b.buf = b.buf[:0]
	b.ends = b.ends[:0]
	b.attempts = b.attempts[:0]
	b.Rows = b.Rows[:0]
	clear(b.Items)
	b.Items = b.Items[:0]
	clear(b.reasons)
	b.reasons = b.reasons[:0]
	b.marks = b.marks[:0]
	b.bytes = 0
	b.Attempt = 0
	b.Seq = 0
}

// add appends one record.
func (b *Batch) add(row int64, rec []byte, attempt int) {
	b.buf = append(b.buf, rec...)
	b.ends = append(b.ends, len(b.buf))
	b.Rows = append(b.Rows, row)
	b.attempts = append(b.attempts, attempt)
	b.bytes += len(rec) + 1
}

func (b *Batch) n() int { return len(b.ends) }

// seal builds the Items views and the marks before the batch is handed to a SendFunc.
func (b *Batch) seal() {
	start := 0
	b.Attempt = 0
	for i, end := range b.ends {
		b.Items = append(b.Items, b.buf[start:end:end])
		b.marks = append(b.marks, markNone)
		b.reasons = append(b.reasons, "")
		if b.attempts[i] > b.Attempt {
			b.Attempt = b.attempts[i]
		}
		start = end
	}
}

// retryItem is an item waiting to be re-sent; its bytes are in Batcher.retryBuf.
type retryItem struct {
	row        int64
	attempt    int
	start, end int
}

// Batcher groups records into batches and sends them. Add and Close are called from one
// goroutine (the row reader); sends run concurrently. Create one per execute with New.
type Batcher struct {
	cfg     Config
	report  *sdk.Report
	send    SendFunc
	maxItem int

	mu     sync.Mutex // guards cur, seq, closed, flushCtx; held while a full batch waits for a slot
	cur    *Batch
	seq    int64
	closed bool
	// flushCtx is the context of the latest Add, used by the flush timer.
	flushCtx context.Context
	timer    *time.Timer
	flushAt  time.Time // when the current batch's timer is due

	sem chan struct{} // one token per batch in flight
	wg  sync.WaitGroup

	retryMu      sync.Mutex
	retryBuf     []byte
	retryItems   []retryItem
	spareBuf     []byte
	spareItems   []retryItem
	retryPending atomic.Int64
}

// batchPool shares sent batches between every Batcher of the process: a busy execute reuses
// its buffers, idle executes hold none, and the GC empties the pool when memory is needed.
var batchPool = sync.Pool{New: func() any { return &Batch{} }}

// New returns a Batcher that sends with send and counts outcomes into report.
// It panics if cfg.MaxItems < 1, a programming error.
func New(cfg Config, report *sdk.Report, send SendFunc) *Batcher {
	if cfg.MaxItems < 1 {
		panic("batch: Config.MaxItems must be at least 1")
	}
	if cfg.MaxInFlight < 1 {
		cfg.MaxInFlight = 1
	}
	if cfg.ItemRetries == 0 {
		cfg.ItemRetries = DefaultItemRetries
	} else if cfg.ItemRetries < 0 {
		cfg.ItemRetries = 0
	}
	maxItem := cfg.MaxItemBytes
	if cfg.MaxBytes > 0 && (maxItem <= 0 || maxItem > cfg.MaxBytes-1) {
		maxItem = cfg.MaxBytes - 1
	}
	b := &Batcher{
		cfg:     cfg,
		report:  report,
		send:    send,
		maxItem: maxItem,
		sem:     make(chan struct{}, cfg.MaxInFlight),
	}
	b.cur = &Batch{}
	if cfg.FlushInterval > 0 {
		b.timer = time.AfterFunc(time.Hour, b.onTimer)
		b.timer.Stop()
	}
	return b
}

// Add copies record into the current batch; the caller may reuse record's memory at once.
// A record over the item size limit is rejected in the report and not sent (Add returns
// nil). When the batch fills, Add hands it to a sender, blocking while MaxInFlight batches
// are in flight. It returns ctx.Err() if ctx is cancelled, and ErrClosed after Close.
func (b *Batcher) Add(ctx context.Context, row int64, record []byte) error {
	if err := ctx.Err(); err != nil {
		b.cancelled(err)
		return err
	}
	if b.maxItem > 0 && len(record) > b.maxItem {
		b.report.Reject(row, fmt.Sprintf("record is %d bytes, over the limit of %d bytes", len(record), b.maxItem))
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.timer != nil {
		b.flushCtx = ctx
	}
	if b.retryPending.Load() > 0 {
		if err := b.drainRetries(ctx); err != nil {
			return err
		}
	}
	return b.addLocked(ctx, row, record, 0)
}

// addLocked appends one record, flushing before it when it would overflow the byte limit
// and after it when the batch is full. b.mu is held.
func (b *Batcher) addLocked(ctx context.Context, row int64, rec []byte, attempt int) error {
	cur := b.cur
	if b.cfg.MaxBytes > 0 && cur.n() > 0 && cur.bytes+len(rec)+1 > b.cfg.MaxBytes {
		if err := b.flushLocked(ctx); err != nil {
			return err
		}
		cur = b.cur
	}
	cur.add(row, rec, attempt)
	if cur.n() == 1 && b.timer != nil {
		b.flushAt = time.Now().Add(b.cfg.FlushInterval)
		b.timer.Reset(b.cfg.FlushInterval)
	}
	if cur.n() >= b.cfg.MaxItems {
		return b.flushLocked(ctx)
	}
	return nil
}

// flushLocked hands the current batch to a sender goroutine once a slot is free and
// starts a new current batch. b.mu is held.
func (b *Batcher) flushLocked(ctx context.Context) error {
	cur := b.cur
	if cur.n() == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		b.cancelled(err)
		return err
	}
	select {
	case b.sem <- struct{}{}:
	default:
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			b.cancelled(ctx.Err())
			return ctx.Err()
		}
	}
	held, err := budget.acquire(ctx, 2*int64(cur.bytes))
	if err != nil {
		<-b.sem
		b.cancelled(err)
		return err
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	b.seq++
	cur.Seq = b.seq
	cur.seal()
	b.wg.Add(1)
	go b.run(ctx, cur, held)
	b.cur = batchPool.Get().(*Batch)
	return nil
}

// onTimer sends a partial batch whose first item has waited FlushInterval.
func (b *Batcher) onTimer() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.cur.n() == 0 || b.flushCtx == nil || time.Now().Before(b.flushAt) {
		return // nothing to send, or a stale firing: the timer was re-armed for a newer batch
	}
	_ = b.flushLocked(b.flushCtx) // a cancelled context is recorded by flushLocked
}

// run sends one batch and settles its items.
func (b *Batcher) run(ctx context.Context, bt *Batch, held int64) {
	defer b.wg.Done()
	err := b.send(ctx, bt)
	b.settle(ctx, bt, err)
	bt.reset()
	batchPool.Put(bt)
	budget.release(held)
	<-b.sem
}

// settle counts a sent batch's outcome and queues the items to re-send.
func (b *Batcher) settle(ctx context.Context, bt *Batch, err error) {
	b.report.AddBatch(0)
	cancelled := err != nil && ctx.Err() != nil
	if cancelled {
		b.cancelled(ctx.Err())
	}
	var errText string
	if err != nil && !cancelled {
		errText = capReason(err.Error())
	}
	var delivered int64
	for i, m := range bt.marks {
		switch m {
		case markNone:
			switch {
			case err == nil:
				delivered++
			case !cancelled:
				b.report.Reject(bt.Rows[i], errText)
			}
		case markFail:
			b.report.Reject(bt.Rows[i], capReason(bt.reasons[i]))
		case markRetry:
			switch {
			case cancelled:
				// not re-sent: the execute is over; counted as not sent
			case bt.attempts[i] >= b.cfg.ItemRetries:
				b.report.Reject(bt.Rows[i], capReason(bt.reasons[i]))
			default:
				b.queueRetry(bt.Rows[i], bt.Items[i], bt.attempts[i]+1)
			}
		}
	}
	if delivered > 0 {
		b.report.AddDelivered(delivered)
	}
}

func capReason(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

func (b *Batcher) queueRetry(row int64, rec []byte, attempt int) {
	b.retryMu.Lock()
	start := len(b.retryBuf)
	b.retryBuf = append(b.retryBuf, rec...)
	b.retryItems = append(b.retryItems, retryItem{row: row, attempt: attempt, start: start, end: len(b.retryBuf)})
	b.retryPending.Add(1)
	b.retryMu.Unlock()
}

// drainRetries moves the queued items into the current batch. b.mu is held.
func (b *Batcher) drainRetries(ctx context.Context) error {
	b.retryMu.Lock()
	buf, items := b.retryBuf, b.retryItems
	b.retryBuf, b.retryItems = b.spareBuf[:0], b.spareItems[:0]
	b.retryPending.Add(-int64(len(items)))
	b.retryMu.Unlock()
	var err error
	for i, it := range items {
		if err = b.addLocked(ctx, it.row, buf[it.start:it.end], it.attempt); err != nil {
			// put the rest back so Close can account for them
			for _, rest := range items[i+1:] {
				b.queueRetry(rest.row, buf[rest.start:rest.end], rest.attempt)
			}
			break
		}
	}
	b.spareBuf, b.spareItems = buf[:0], items[:0]
	return err
}

// cancelled records that delivery stopped because the execute's context ended.
func (b *Batcher) cancelled(err error) {
	b.report.Fatal("delivery cancelled: " + err.Error())
}

// Close sends the items still held, waits for every batch in flight and for the items
// they asked to re-send, and stops the flush timer. After Close the report is final.
// It returns ctx.Err() if ctx ended first; the batches in flight then end as their own
// contexts do, and Close still waits for them.
func (b *Batcher) Close(ctx context.Context) error {
	var err error
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return ErrClosed
		}
		if err == nil && b.retryPending.Load() > 0 {
			err = b.drainRetries(ctx)
		}
		if err == nil {
			err = b.flushLocked(ctx)
		}
		b.mu.Unlock()
		b.wg.Wait()
		if err != nil || b.retryPending.Load() == 0 {
			break
		}
	}
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	return err
}
