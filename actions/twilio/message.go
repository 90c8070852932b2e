package twilio

import (
	"context"
	"errors"
	"hash/maphash"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/batch"
	"github.com/actionhub/actionhub/sdk/rows"
)

// Message is the twilio_message action ("Twilio - Send Message"): one text to every
// number of the column tagged "phone" (query), or to the clicked cell's number (cell).
type Message struct {
	client      *client
	maxInFlight int
}

// Definition describes the action as the Node hub lists it.
func (a *Message) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                 NameMessage,
		Label:                "Twilio - Send Message",
		Description:          "Send a message to phone numbers via Twilio.",
		Icon:                 icon,
		Params:               params("Twilio Phone Number"),
		RequiredFields:       []sdk.RequiredField{{Tag: TagPhone}},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeCell, sdk.TypeQuery},
		SupportedFormats:     []sdk.Format{sdk.FormatJSONDetail},
	}
}

// Form asks for the message.
func (a *Message) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{{
		Label: "Message", Name: "message", Required: true, Type: sdk.FieldTextarea,
	}}}, nil
}

// Execute sends the message to every distinct valid number and reports per number.
func (a *Message) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if req.FormParams["message"] == "" {
		return nil, sdk.Errorf("Need a message.")
	}
	body := TruncateString(req.FormParams["message"], MaxMessageChars)
	cr := credsOf(req)
	report := sdk.NewReport()

	if req.Type == sdk.TypeCell {
		value := req.Params["value"]
		if value == "" {
			return nil, sdk.Errorf("Couldn't get data from cell.")
		}
		report.AddRead(1)
		to, why := NormalizeE164(value)
		if why != "" {
			report.Reject(1, Mask(value)+": "+why)
			return sdk.FromReport(report), nil
		}
		retries, err := a.client.send(ctx, cr, to, body)
		report.AddRetries(retries)
		if err != nil {
			report.Reject(1, err.Error())
		} else {
			report.AddDelivered(1)
		}
		return sdk.FromReport(report), nil
	}

	if !req.HasData() {
		return nil, sdk.Errorf("Couldn't get data from attachment.")
	}
	rc, err := req.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	rd := rows.NewReader(rc, "")
	defer rd.Close()
	fields, err := rd.Fields()
	if err != nil {
		var de *sdk.DownloadError
		if errors.As(err, &de) {
			report.Fatal(err.Error())
			return sdk.FromReport(report), nil
		}
		return nil, sdk.Errorf("Request payload is an invalid format.")
	}
	phone := fields.FirstTagged(TagPhone)
	if phone == nil {
		return nil, sdk.Errorf("Query requires a field tagged %s.", TagPhone)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	send := func(ctx context.Context, b *batch.Batch) error {
		to := string(b.Items[0])
		retries, err := a.client.send(ctx, cr, to, body)
		report.AddRetries(retries)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *sendError
		if errors.As(err, &se) && se.account {
			report.Fatal(se.text)
			b.FailAll(se.text)
			cancel()
			return nil
		}
		b.Fail(0, err.Error())
		return nil
	}
	b := batch.New(batch.Config{MaxItems: 1, MaxInFlight: a.maxInFlight, ItemRetries: -1}, report, send)
	// Distinct numbers are remembered by a 64-bit hash: 8 bytes per number, whatever the
	// number of rows.
	seed := maphash.MakeSeed()
	seen := map[uint64]struct{}{}
	batch.Pump(ctx, rd, report, b, func(dst []byte, row *rows.Row) ([]byte, error) {
		v := row.Value(phone.Name)
		raw := v.String()
		if v.IsNull() {
			raw = ""
		}
		to, why := NormalizeE164(raw)
		if why != "" {
			if raw == "" {
				return nil, errors.New(why)
			}
			return nil, errors.New(Mask(raw) + ": " + why)
		}
		h := maphash.String(seed, to)
		if _, dup := seen[h]; dup {
			return nil, batch.ErrSkip
		}
		seen[h] = struct{}{}
		return append(dst, to...), nil
	})
	return sdk.FromReport(report), nil
}
