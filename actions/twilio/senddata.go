package twilio

import (
	"bufio"
	"context"
	"io"
	"strings"

	"github.com/actionhub/actionhub/sdk"
)

// SendData is the twilio action ("Twilio - Send Data"): the first MaxLines lines of a
// query's CSV, after the plan's title and URL, texted to one number.
type SendData struct {
	client *client
}

// Definition describes the action as the Node hub lists it.
func (a *SendData) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                 NameSendData,
		Label:                "Twilio - Send Data",
		Description:          "Send data from a Look to a phone number via Twilio.",
		Icon:                 icon,
		Params:               params("Twilio Verified Phone Number"),
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery},
		SupportedFormats:     []sdk.Format{sdk.FormatCSV},
	}
}

// Form asks for the destination number.
func (a *SendData) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{{
		Label: "Destination Phone Number", Name: "to", Required: true, Type: sdk.FieldString,
		Description: "In E.164 form, with + and the country code: +15551234567.",
	}}}, nil
}

// Execute texts the truncated data to the form's number.
func (a *SendData) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if !req.HasData() {
		return nil, sdk.Errorf("Couldn't get data from attachment.")
	}
	if req.Form("to") == "" {
		return nil, sdk.Errorf("Need a destination phone number.")
	}
	to, why := NormalizeE164(req.Form("to"))
	if why != "" {
		return &sdk.Response{Success: false, Message: "Destination phone number: " + why + ".",
			ValidationErrors: map[string]string{"to": why}}, nil
	}
	rc, err := req.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var title, url string
	if p := req.ScheduledPlan; p != nil {
		title, url = p.Title, p.URL
	}
	body, err := SuggestedTruncatedMessage(rc, title, url, MaxLines, MaxMessageChars)
	if err != nil {
		return nil, err
	}
	report := sdk.NewReport()
	report.Unit = "messages"
	report.AddRead(1)
	retries, err := a.client.send(ctx, credsOf(req), to, body)
	report.AddRetries(retries)
	if err != nil {
		report.Reject(1, err.Error())
	} else {
		report.AddDelivered(1)
	}
	return sdk.FromReport(report), nil
}

// SuggestedTruncatedMessage is the Node hub's suggestedTruncatedMessage over a stream:
// "<title>:\n" when there is a title, "<url>\n" when there is a URL, then the first
// maxLines lines of the data (with a trailing newline when there were that many), cut
// with TruncateString to maxChars. Only what can appear in the result is read: at most
// maxChars characters of data (4 bytes each at most).
func SuggestedTruncatedMessage(r io.Reader, title, url string, maxLines, maxChars int) (string, error) {
	var b strings.Builder
	if title != "" {
		b.WriteString(title + ":\n")
	}
	if url != "" {
		b.WriteString(url + "\n")
	}
	br := bufio.NewReader(io.LimitReader(r, int64(maxChars)*4+1))
	lines := 0
	for lines < maxLines {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		if err == io.EOF {
			// the last piece of a split: kept even when empty, as JavaScript's split does
			b.WriteString(line)
			lines++
			break
		}
		lines++
		if lines == maxLines {
			line = strings.TrimSuffix(line, "\n")
		}
		b.WriteString(line)
	}
	if lines == maxLines {
		b.WriteString("\n")
	}
	return TruncateString(b.String(), maxChars), nil
}
