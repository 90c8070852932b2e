package batch

import (
	"context"
	"errors"

	"github.com/actionhub/actionhub/sdk"
)

// Numbered is a row that knows its 1-based number in the result (*rows.Row).
type Numbered interface {
	Number() int64
}

// Source is the row iterator Pump reads; *rows.Reader satisfies it.
type Source[R Numbered] interface {
	Next() bool
	Row() R
	Err() error
}

// ErrSkip, returned (or wrapped) by a MapFunc, counts the row as skipped rather than
// rejected: a row deliberately not sent (an empty key the vendor does not need, a
// duplicate) is not a failure.
var ErrSkip = errors.New("batch: skip row")

// MapFunc appends one row's vendor record to dst and returns it. An error rejects the
// row with the error's text as the reason (it must hold no secret), except ErrSkip.
type MapFunc[R Numbered] func(dst []byte, row R) ([]byte, error)

// Pump is the whole row loop of a row action: it reads every row of src, counts it read,
// maps it to a record with mapRow (reusing one scratch buffer), adds the record to b, and
// closes b. A read error of src (a cut download) is recorded as the report's fatal error;
// a cancelled ctx stops reading and sending. It returns the first such error, which the
// report already holds: an action normally ignores it and answers sdk.FromReport(report).
func Pump[R Numbered](ctx context.Context, src Source[R], report *sdk.Report, b *Batcher, mapRow MapFunc[R]) error {
	var scratch []byte
	var err error
	for src.Next() {
		report.AddRead(1)
		row := src.Row()
		rec, merr := mapRow(scratch[:0], row)
		if cap(rec) > cap(scratch) {
			scratch = rec[:0]
		}
		if merr != nil {
			if errors.Is(merr, ErrSkip) {
				report.AddSkipped(1)
			} else {
				report.Reject(row.Number(), capReason(merr.Error()))
			}
			continue
		}
		if err = b.Add(ctx, row.Number(), rec); err != nil {
			break
		}
	}
	if err == nil {
		if rerr := src.Err(); rerr != nil {
			err = rerr
			report.Fatal(rerr.Error())
		}
	}
	if cerr := b.Close(ctx); err == nil {
		err = cerr
	}
	return err
}
