package simulator

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// rowsgenSource streams generated data in an unusual shape through package rowsgen.
func rowsgenSource(g GenSpec, f sdk.Format) (Source, error) {
	opts := rowsgen.Options{Rows: int(g.Rows), NullEvery: g.Shape.NullEvery, DataFirst: g.Shape.DataFirst,
		Rendered: g.Shape.Rendered, Extra: g.Shape.Extra}
	switch f {
	case sdk.FormatJSONDetail, sdk.FormatJSONDetailLiteStream:
		opts.Format = rowsgen.JSONDetailFormat
	case sdk.FormatJSON, sdk.FormatInlineJSON:
		opts.Format = rowsgen.JSONFormat
	case sdk.FormatCSV:
		opts.Format = rowsgen.CSVFormat
	default:
		return nil, fmt.Errorf("data shapes are available for json_detail, json_detail_lite_stream, json, inline_json and csv, not %s", f)
	}
	cols := g.Columns
	if len(cols) == 0 {
		cols = DefaultColumns()
	}
	for _, c := range cols {
		rc := rowsgen.Column{Name: c.Name, Label: c.Label, Tags: c.Tags, Measure: c.Measure}
		switch genKindOf(c) {
		case kindEmail:
			rc.Kind = rowsgen.Email
		case kindID, kindCount:
			rc.Kind = rowsgen.Int
		case kindMoney:
			rc.Kind = rowsgen.Float
		case kindDate:
			rc.Kind = rowsgen.Date
		default:
			rc.Kind = rowsgen.String
			if g.Shape.Unicode {
				rc.Kind = rowsgen.Unicode
			}
		}
		opts.Columns = append(opts.Columns, rc)
	}
	if g.Pivot != "" {
		opts.Pivots = g.PivotValues
	}
	return func(ctx context.Context, w io.Writer, rows *atomic.Int64) error {
		if _, err := io.Copy(w, &ctxReader{ctx: ctx, r: rowsgen.NewReader(opts)}); err != nil {
			return err
		}
		// rowsgen does not count as it goes: the rows are known once all is written.
		rows.Add(g.Rows)
		return nil
	}, nil
}

// ctxReader stops a long generation when its request ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
