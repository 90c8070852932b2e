package rowaction_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rowaction"
	"github.com/actionhub/actionhub/sdk/rows"
)

func request(data string) *sdk.Request {
	return &sdk.Request{Attachment: &sdk.Attachment{Data: []byte(data)}}
}

const payload = `{"fields":{"dimensions":[{"name":"u","tags":["email"]},{"name":"n"}]},` +
	`"data":[{"u":{"value":"a@x"},"n":{"value":1}},{"u":{"value":null},"n":{"value":2}},{"u":{"value":"c@x"},"n":{"value":3}}]}`

// mapEmail maps a row to its tagged value, rejecting rows without one.
func mapEmail(dst []byte, row *rows.Row) ([]byte, error) {
	v := row.Value("u")
	if v.IsNull() {
		return nil, errors.New("no email")
	}
	return v.AppendJSON(dst), nil
}

// Every row is mapped and sent; the report becomes the response.
func TestExecuteDelivers(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	resp, err := rowaction.Execute(context.Background(), request(payload), rowaction.Options{},
		func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
			if f := run.Fields.All(); len(f) != 2 || !f[0].HasTag("email") || run.Rows == nil || run.Report == nil {
				t.Fatalf("fields %+v", f)
			}
			send := func(ctx context.Context, b *batch.Batch) error {
				mu.Lock()
				sent = append(sent, string(b.Joined("[", ",", "]")))
				mu.Unlock()
				return nil
			}
			return &rowaction.Delivery{Batch: batch.Config{MaxItems: 10}, Send: send, Map: mapEmail}, nil, nil
		})
	if err != nil || resp == nil {
		t.Fatalf("%+v %v", resp, err)
	}
	s := resp.Report.Snapshot()
	if resp.Success || s.Read != 3 || s.Delivered != 2 || s.Rejected != 1 || s.Rejections[0].Row != 2 ||
		len(sent) != 1 || sent[0] != `["a@x","c@x"]` {
		t.Fatalf("%+v sent %q", s, sent)
	}
}

// Stop records a fatal error and ends the run: no more batches are sent.
func TestStop(t *testing.T) {
	var calls int
	resp, err := rowaction.Execute(context.Background(), request(payload), rowaction.Options{},
		func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
			send := func(ctx context.Context, b *batch.Batch) error {
				calls++
				b.FailAll("refused")
				run.Stop("the vendor refused the key")
				return nil
			}
			return &rowaction.Delivery{Batch: batch.Config{MaxItems: 1, MaxInFlight: 1}, Send: send, Map: mapEmail}, nil, nil
		})
	if err != nil || resp.Success || calls != 1 || resp.Report.Snapshot().Fatal != "the vendor refused the key" ||
		!strings.Contains(resp.Message, "the vendor refused the key") {
		t.Fatalf("%+v %v, %d calls", resp, err, calls)
	}
}

// Setup's response or error ends the execute before any row is read.
func TestSetupEnds(t *testing.T) {
	fail := sdk.Fail("Dimension with the email tag is required")
	resp, err := rowaction.Execute(context.Background(), request(payload), rowaction.Options{},
		func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) { return nil, fail, nil })
	if resp != fail || err != nil {
		t.Fatalf("%+v %v", resp, err)
	}
	bad := sdk.Errorf("Request payload is an invalid format.")
	resp, err = rowaction.Execute(context.Background(), request(payload), rowaction.Options{},
		func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) { return nil, nil, bad })
	if resp != nil || err != bad {
		t.Fatalf("%+v %v", resp, err)
	}
	if _, err = rowaction.Execute(context.Background(), request(payload), rowaction.Options{},
		func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) { return nil, nil, nil }); err == nil {
		t.Fatal("no delivery accepted")
	}
}

// Unreadable fields are the execute's error, or the report's fatal error on request.
func TestFieldsError(t *testing.T) {
	setup := func(run *rowaction.Run) (*rowaction.Delivery, *sdk.Response, error) {
		t.Fatal("setup called")
		return nil, nil, nil
	}
	resp, err := rowaction.Execute(context.Background(), request(`{"fields":`), rowaction.Options{}, setup)
	if resp != nil || err == nil {
		t.Fatalf("%+v %v", resp, err)
	}
	resp, err = rowaction.Execute(context.Background(), request(`{"fields":`), rowaction.Options{ReportFieldsError: true}, setup)
	if err != nil || resp == nil || resp.Success || resp.Report.Snapshot().Fatal == "" {
		t.Fatalf("%+v %v", resp, err)
	}
	// No data at all: Request.Open's error, as it is.
	if _, err = rowaction.Execute(context.Background(), &sdk.Request{}, rowaction.Options{ReportFieldsError: true}, setup); err == nil {
		t.Fatal("no error without data")
	}
}
