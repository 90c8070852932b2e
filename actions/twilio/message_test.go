package twilio

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

// jsonDetail builds a json_detail document with a phone-tagged dimension (tagged says
// whether it carries the tag) holding numbers.
func jsonDetail(tagged bool, numbers ...any) []byte {
	tags := []string{}
	if tagged {
		tags = []string{"phone"}
	}
	var data []map[string]any
	for i, n := range numbers {
		data = append(data, map[string]any{"users.phone": map[string]any{"value": n},
			"users.name": map[string]any{"value": fmt.Sprint("user", i)}})
	}
	doc := map[string]any{"fields": map[string]any{"dimensions": []any{
		map[string]any{"name": "users.name", "tags": []string{}},
		map[string]any{"name": "users.phone", "tags": tags}}, "measures": []any{}},
		"data": data}
	b, _ := json.Marshal(doc)
	return b
}

func queryRequest(data []byte, message string) *sdk.Request {
	r := &sdk.Request{Type: sdk.TypeQuery, Params: goodParams(), FormParams: map[string]string{}}
	if message != "" {
		r.FormParams["message"] = message
	}
	if data != nil {
		r.Attachment = &sdk.Attachment{MimeType: "application/json", Extension: "json", Data: data}
	}
	return r
}

// Node: "errors if there is no phone tag"
func TestMessageNoPhoneTag(t *testing.T) {
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), newFake(t, nil))
	_, err := a.Execute(context.Background(), queryRequest(jsonDetail(false, "+15551234567"), "hi"))
	wantErrText(t, err, "Query requires a field tagged phone.")
}

// Node: "errors if there is no message"
func TestMessageNoMessage(t *testing.T) {
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), newFake(t, nil))
	_, err := a.Execute(context.Background(), queryRequest(jsonDetail(true, "+15551234567"), ""))
	wantErrText(t, err, "Need a message.")
}

func TestMessageNoAttachment(t *testing.T) {
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), newFake(t, nil))
	_, err := a.Execute(context.Background(), queryRequest(nil, "hi"))
	wantErrText(t, err, "Couldn't get data from attachment.")
}

func TestMessageInvalidPayload(t *testing.T) {
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), newFake(t, nil))
	_, err := a.Execute(context.Background(), queryRequest([]byte(`{"fields": [nope`), "hi"))
	wantErrText(t, err, "Request payload is an invalid format.")
}

// Node: "sends to right number (query)"
func TestMessageQuery(t *testing.T) {
	f := newFake(t, nil)
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), f)
	res, err := a.Execute(context.Background(), queryRequest(jsonDetail(true, "+15551234567"), "My Message"))
	if err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	if m := f.Messages(); len(m) != 1 || m[0].To != "+15551234567" || m[0].Body != "My Message" || m[0].From != testFrom {
		t.Fatalf("%+v", m)
	}
}

// Node: "errors if there is no cell value", "sends to right number (cell)"
func TestMessageCell(t *testing.T) {
	f := newFake(t, nil)
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), f)
	req := &sdk.Request{Type: sdk.TypeCell, Params: goodParams(), FormParams: map[string]string{"message": "My Message"}}
	_, err := a.Execute(context.Background(), req)
	wantErrText(t, err, "Couldn't get data from cell.")
	req.Params["value"] = "+15551234567"
	res, err := a.Execute(context.Background(), req)
	if err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	if m := f.Messages(); len(m) != 1 || m[0].To != "+15551234567" || m[0].Body != "My Message" {
		t.Fatalf("%+v", m)
	}
	req.Params["value"] = "555-1234"
	res, err = a.Execute(context.Background(), req)
	if err != nil || res.Success || !strings.Contains(res.Message, "****1234: not in E.164 format") {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestMessageHasForm(t *testing.T) {
	a := newAction(t, MessageModule(Options{}), newFake(t, nil))
	f, err := a.(sdk.FormAction).Form(context.Background(), &sdk.Request{})
	if err != nil || len(f.Fields) != 1 || f.Fields[0].Name != "message" || f.Fields[0].Type != sdk.FieldTextarea {
		t.Fatalf("%v %+v", err, f)
	}
}

func TestMessageTruncated(t *testing.T) {
	f := newFake(t, nil)
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), f)
	long := strings.Repeat("0123456789\n", 200)
	res, err := a.Execute(context.Background(), queryRequest(jsonDetail(true, "+15551234567"), long))
	if err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	if m := f.Messages(); len(m) != 1 || m[0].Body != strings.Repeat("0123456789\n", 145) {
		t.Fatalf("body of %d chars", len(m[0].Body))
	}
}

// The report: invalid numbers rejected with a reason, refused numbers listed masked,
// duplicates skipped, the rest delivered.
func TestMessageReport(t *testing.T) {
	f := newFake(t, map[string]int{"+15557654321": 21610})
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), f)
	data := jsonDetail(true, "+15551234567", "+1 555 123 4567", "5550001111", nil, "+15557654321", "+447700900123", 15550009999)
	res, err := a.Execute(context.Background(), queryRequest(data, "hi"))
	if err != nil || res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	s := res.Report.Snapshot()
	if s.Read != 7 || s.Delivered != 2 || s.Skipped != 1 || s.Rejected != 4 {
		t.Fatalf("%+v", s)
	}
	want := map[int64]string{3: "******1111: not in E.164 format", 4: "no phone number",
		5: "+*******4321: Twilio error 21610", 7: "*******9999: not in E.164 format"}
	for _, r := range s.Rejections {
		if w := want[r.Row]; w == "" || !strings.HasPrefix(r.Reason, w) {
			t.Errorf("row %d: %q", r.Row, r.Reason)
		}
	}
	for _, n := range []string{"5557654321", "5550001111", "5550009999"} {
		if strings.Contains(res.Message, n) {
			t.Errorf("number %s unmasked in %q", n, res.Message)
		}
	}
	got := map[string]bool{}
	for _, m := range f.Messages() {
		got[m.To] = true
	}
	if len(got) != 2 || !got["+15551234567"] || !got["+447700900123"] {
		t.Fatalf("%v", got)
	}
}

// Bad credentials stop the execute after the first refusal instead of trying every row.
func TestMessageBadCredentialsStop(t *testing.T) {
	f := newFake(t, nil)
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP, MaxInFlight: 1}), f)
	var nums []any
	for i := 0; i < 50; i++ {
		nums = append(nums, fmt.Sprintf("+1555000%04d", i))
	}
	req := queryRequest(jsonDetail(true, nums...), "hi")
	req.Params[ParamAuthToken] = "not_the_token_000"
	res, err := a.Execute(context.Background(), req)
	if err != nil || res.Success || !strings.Contains(res.Message, "Twilio refused the account credentials") {
		t.Fatalf("%v %+v", err, res)
	}
	if f.Requests() > 3 {
		t.Fatalf("%d requests after a 401", f.Requests())
	}
}

// Concurrency is bounded by MaxInFlight.
func TestMessageBoundedConcurrency(t *testing.T) {
	f := newFake(t, nil)
	var nums []any
	for i := 0; i < 40; i++ {
		nums = append(nums, fmt.Sprintf("+1555000%04d", i))
	}
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP, MaxInFlight: 3}), f)
	slow := twilioSlow(f, 10*time.Millisecond)
	defer slow()
	res, err := a.Execute(context.Background(), queryRequest(jsonDetail(true, nums...), "hi"))
	if err != nil || !res.Success || len(f.Messages()) != 40 {
		t.Fatalf("%v %+v", err, res)
	}
	if m := f.MaxInFlight(); m > 3 || m < 2 {
		t.Fatalf("max in flight %d, want 2..3", m)
	}
}

// twilioSlow makes the fake answer every request after d, until the returned func runs.
func twilioSlow(f interface{ SetDelay(time.Duration) }, d time.Duration) func() {
	f.SetDelay(d)
	return func() { f.SetDelay(0) }
}

// The rate limit: 25 messages at 10/s with a burst of 5 take at least 2s of (virtual) time.
func TestMessageRateLimit(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	f := newFake(t, nil)
	var nums []any
	for i := 0; i < 25; i++ {
		nums = append(nums, fmt.Sprintf("+1555000%04d", i))
	}
	cfg := fastHTTP
	cfg.Rate, cfg.Burst, cfg.Clock = 10, 5, clock
	a := newAction(t, MessageModule(Options{HTTP: cfg, MaxInFlight: 1}), f)
	req := queryRequest(jsonDetail(true, nums...), "hi")
	req.Params[ParamAccountSID] = testSID
	res, err := a.Execute(context.Background(), req)
	if err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	if s := clock.Slept(); s < 1900*time.Millisecond || s > 2100*time.Millisecond {
		t.Fatalf("slept %v for 25 messages at 10/s burst 5, want about 2s", s)
	}
}

// Faults on some messages are retried; each message is sent once.
func TestMessageFaults(t *testing.T) {
	f := newFake(t, nil)
	f.Faults.Stall = 2 * time.Second
	f.Faults.Func = faults.Random(7, 0.3, 2, faults.RateLimit, faults.ServerError, faults.DropBefore, faults.TimeoutBefore)
	var nums []any
	for i := 0; i < 30; i++ {
		nums = append(nums, fmt.Sprintf("+1555000%04d", i))
	}
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP}), f)
	res, err := a.Execute(context.Background(), queryRequest(jsonDetail(true, nums...), "hi"))
	if err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	if len(f.Messages()) != 30 || f.Faults.Total() == 0 || res.Report.Snapshot().Retries == 0 {
		t.Fatalf("%d messages, %d faults, %+v", len(f.Messages()), f.Faults.Total(), res.Report.Snapshot())
	}
}

// A cancelled execute stops sending.
func TestMessageCancel(t *testing.T) {
	f := newFake(t, nil)
	var nums []any
	for i := 0; i < 200; i++ {
		nums = append(nums, fmt.Sprintf("+1555000%04d", i))
	}
	a := newAction(t, MessageModule(Options{HTTP: fastHTTP, MaxInFlight: 1}), f)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	f.SetDelay(time.Millisecond)
	go func() {
		for f.Requests() < 5 {
			time.Sleep(time.Millisecond)
		}
		n.Store(f.Requests())
		cancel()
	}()
	res, _ := a.Execute(ctx, queryRequest(jsonDetail(true, nums...), "hi"))
	if res != nil && res.Success {
		t.Fatal("cancelled execute succeeded")
	}
	if f.Requests() > n.Load()+3 {
		t.Fatalf("%d requests after cancel at %d", f.Requests(), n.Load())
	}
}
