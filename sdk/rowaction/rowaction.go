// Package rowaction is the execute skeleton of a row-by-row action (one vendor record per
// row, sent in batches: Braze, Segment, mParticle, HubSpot, Airtable, Marketo), for the
// hub's actions and for private ones alike.
//
// [Execute] opens the request's data (a pushed attachment or Looker's download), reads its
// fields, lets the action check them and build its sender, then runs every row through
// batch.Pump and answers with the delivery report. The action supplies only what is its
// own: the validation of its fields (the identifier tag), the mapping of a row to a
// record, and the sending of a batch.
//
//	return rowaction.Execute(ctx, req, rowaction.Options{}, func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
//		m, ok := newMapper(run.Fields)
//		if !ok {
//			return nil, sdk.Fail("Dimension with the email tag is required"), nil
//		}
//		s := &sender{report: run.Report, stop: run.Stop}
//		return &rowaction.Delivery{Batch: batch.Config{MaxItems: 100}, Send: s.send, Map: m.mapRow}, nil, nil
//	})
package rowaction

import (
	"context"
	"errors"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rows"
)

// Run is one execute's delivery, as [Setup] sees it.
type Run struct {
	// Report counts the rows; the execute answers sdk.FromReport(Report).
	Report *sdk.Report
	// Rows is the row reader (already past the fields); Fields are its fields.
	Rows   *rows.Reader
	Fields *rows.Fields
	cancel context.CancelFunc
}

// Stop records msg as the report's fatal error and stops the run: no more rows are read
// and no more batches sent (a credential the vendor refused, a lost login). msg must hold
// no secret.
func (r *Run) Stop(msg string) {
	r.Report.Fatal(msg)
	r.cancel()
}

// Delivery is what an action contributes once it knows the fields: how to group records,
// how to send a group, and how to map a row.
type Delivery struct {
	Batch batch.Config
	Send  batch.SendFunc
	Map   batch.MapFunc[*rows.Row]
}

// Setup checks the fields of run and returns the delivery. Returning a response instead
// ends the execute with it (a missing identifier field: sdk.Fail); returning an error ends
// it with that error, as an action's Execute would. It must return one of the three.
type Setup func(run *Run) (*Delivery, *sdk.Response, error)

// Options are the few points where row actions differ in their skeleton.
type Options struct {
	// ReportFieldsError answers a failure to read the fields (data that is not the
	// expected JSON) with success:false and the error as the report's fatal error; by
	// default the error is returned as the execute's error.
	ReportFieldsError bool
}

// Execute is a row action's whole execute once its parameters are checked: it opens
// req's data, reads the fields, calls setup, and sends every row through batch.Pump,
// answering sdk.FromReport of the run's report. An error opening the data is returned as
// it is. The context given to the delivery is cancelled by [Run.Stop] and when Execute
// returns.
func Execute(ctx context.Context, req *sdk.Request, opts Options, setup Setup) (*sdk.Response, error) {
	rc, err := req.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	rd := rows.NewReader(rc, "")
	defer rd.Close()
	report := sdk.NewReport()
	fields, err := rd.Fields()
	if err != nil {
		if opts.ReportFieldsError {
			report.Fatal(err.Error())
			return sdk.FromReport(report), nil
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := &Run{Report: report, Rows: rd, Fields: fields, cancel: cancel}
	d, resp, err := setup(run)
	if resp != nil || err != nil {
		return resp, err
	}
	if d == nil {
		return nil, errors.New("rowaction: the action's setup returned no delivery")
	}
	b := batch.New(d.Batch, report, d.Send)
	batch.Pump(ctx, rd, report, b, d.Map)
	return sdk.FromReport(report), nil
}
