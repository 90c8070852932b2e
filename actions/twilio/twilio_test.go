package twilio

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	twiliofake "github.com/actionhub/actionhub/internal/fakes/twilio"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "tok_secret_0123456789"
	testFrom  = "+15550000000"
)

var fastHTTP = vendorhttp.Config{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	Timeout: 300 * time.Millisecond, Rate: -1}

func newFake(t *testing.T, refuse map[string]int) *twiliofake.Server {
	return twiliofake.New(t, twiliofake.Options{AccountSID: testSID, AuthToken: testToken, Refuse: refuse})
}

func env(f *twiliofake.Server) *sdk.Env {
	return &sdk.Env{Getenv: func(k string) string {
		if k == "ACTION_HUB_VENDOR_URL_TWILIO" {
			return f.URL
		}
		return ""
	}}
}

func newAction(t *testing.T, mod sdk.Module, f *twiliofake.Server) sdk.Action {
	t.Helper()
	a, err := mod.New(env(f))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func goodParams() map[string]string {
	return map[string]string{ParamAccountSID: testSID, ParamAuthToken: testToken, ParamFrom: testFrom}
}

func csvRequest(data, to string, plan *sdk.ScheduledPlan) *sdk.Request {
	r := &sdk.Request{Type: sdk.TypeQuery, Params: goodParams(), FormParams: map[string]string{},
		ScheduledPlan: plan}
	if to != "" {
		r.FormParams["to"] = to
	}
	if data != "" {
		r.Attachment = &sdk.Attachment{MimeType: "text/csv", Extension: "csv", Data: []byte(data)}
	}
	return r
}

func wantErrText(t *testing.T, err error, text string) {
	t.Helper()
	e, ok := sdk.AsError(err)
	if !ok || e.Text != text {
		t.Fatalf("error %v, want sdk error %q", err, text)
	}
}

// Node: "errors if there is no to"
func TestSendDataNoTo(t *testing.T) {
	a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), newFake(t, nil))
	_, err := a.Execute(context.Background(), csvRequest("1,2,3,4\n5,6,7,8\n", "", nil))
	wantErrText(t, err, "Need a destination phone number.")
}

// Node: "errors if the input has no attachment"
func TestSendDataNoAttachment(t *testing.T) {
	a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), newFake(t, nil))
	_, err := a.Execute(context.Background(), csvRequest("", "+15551234567", nil))
	wantErrText(t, err, "Couldn't get data from attachment.")
}

func lines(n, cols int) string {
	var parts []string
	for i := 0; i < cols; i++ {
		parts = append(parts, fmt.Sprint(i))
	}
	return strings.Join(parts, ",") + "\n"
}

// Node: "sends right body", "... with look title and url", "truncates body at 10 lines",
// "... with title and url", "truncates body at 1600 with title on newline".
func TestSendDataBodies(t *testing.T) {
	plan := &sdk.ScheduledPlan{Title: "mylook", URL: "http://my.looker.com/looks/12345"}
	prefix := "mylook:\nhttp://my.looker.com/looks/12345\n"
	cases := []struct {
		name, data string
		plan       *sdk.ScheduledPlan
		want       string
	}{
		{"right body", "1,2,3,4\n5,6,7,8\n", nil, "1,2,3,4\n5,6,7,8\n"},
		{"title and url", "1,2,3,4\n5,6,7,8\n", plan, prefix + "1,2,3,4\n5,6,7,8\n"},
		{"10 lines", strings.Repeat(lines(1, 10), 100), nil, strings.Repeat(lines(1, 10), 10)},
		{"10 lines title url", strings.Repeat(lines(1, 10), 100), plan, prefix + strings.Repeat(lines(1, 10), 10)},
		{"1600 chars", strings.Repeat(lines(1, 100), 100), plan, prefix + strings.Repeat(lines(1, 100), 5)},
		{"no trailing newline", "a\nb", nil, "a\nb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, nil)
			a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), f)
			res, err := a.Execute(context.Background(), csvRequest(c.data, "+1 (555) 123-4567", c.plan))
			if err != nil || !res.Success {
				t.Fatalf("%v %+v", err, res)
			}
			m := f.Messages()
			if len(m) != 1 || m[0].Body != c.want || m[0].To != "+15551234567" || m[0].From != testFrom {
				t.Fatalf("sent %+v\nwant body %q", m, c.want)
			}
		})
	}
}

func TestSendDataInvalidNumber(t *testing.T) {
	f := newFake(t, nil)
	a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), f)
	res, err := a.Execute(context.Background(), csvRequest("a,b\n", "5551234567", nil))
	if err != nil || res.Success || res.ValidationErrors["to"] == "" || !strings.Contains(res.Message, "E.164") {
		t.Fatalf("%v %+v", err, res)
	}
	if f.Requests() != 0 {
		t.Fatal("sent to an invalid number")
	}
}

func TestSendDataVendorRefusal(t *testing.T) {
	f := newFake(t, map[string]int{"+15551234567": 21610})
	a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), f)
	res, err := a.Execute(context.Background(), csvRequest("a,b\n", "+15551234567", nil))
	if err != nil || res.Success || !strings.Contains(res.Message, "+*******4567: Twilio error 21610") ||
		strings.Contains(res.Message, "5551234567") {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestSendDataBadCredentialsNotEchoed(t *testing.T) {
	f := newFake(t, nil)
	a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), f)
	req := csvRequest("a,b\n", "+15551234567", nil)
	req.Params[ParamAuthToken] = "wrong_token_value_123"
	res, err := a.Execute(context.Background(), req)
	if err != nil || res.Success || !strings.Contains(res.Message, "20003") ||
		strings.Contains(res.Message, "wrong_token_value_123") || strings.Contains(res.Message, testSID) {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestSendDataMessagingService(t *testing.T) {
	f := newFake(t, nil)
	a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), f)
	req := csvRequest("a,b\n", "+15551234567", nil)
	req.Params[ParamFrom] = "MG0123456789abcdef0123456789abcdef"
	if res, err := a.Execute(context.Background(), req); err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	if m := f.Messages(); len(m) != 1 || m[0].MessagingServiceSID != "MG0123456789abcdef0123456789abcdef" || m[0].From != "" {
		t.Fatalf("%+v", m)
	}
}

func TestSendDataHasForm(t *testing.T) {
	a := newAction(t, SendDataModule(Options{}), newFake(t, nil))
	f, err := a.(sdk.FormAction).Form(context.Background(), &sdk.Request{})
	if err != nil || len(f.Fields) != 1 || f.Fields[0].Name != "to" || !f.Fields[0].Required {
		t.Fatalf("%v %+v", err, f)
	}
}

func TestTruncateString(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"ab\ncd\nef", 7, "ab\ncd\n"},
		{"abcdefgh", 4, "abcd"},
		{"\nabcdef", 4, "\nabc"}, // a newline at index 0 is not used
		{"ab😀cd", 3, "ab"},       // the surrogate pair is not split
	}
	for _, c := range cases {
		if got := TruncateString(c.in, c.n); got != c.want {
			t.Errorf("TruncateString(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestNormalizeAndMask(t *testing.T) {
	for in, want := range map[string]string{"+15551234567": "+15551234567", " +1 (555) 123-4567 ": "+15551234567",
		"+44 20 7946 0958": "+442079460958"} {
		if got, why := NormalizeE164(in); got != want || why != "" {
			t.Errorf("%q: %q %q", in, got, why)
		}
	}
	for _, bad := range []string{"", "5551234567", "+0123", "+1", "+1234567890123456", "tophone", "+1555abc"} {
		if got, why := NormalizeE164(bad); got != "" || why == "" {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
	if got := Mask("+15551234567"); got != "+*******4567" {
		t.Error(got)
	}
	if got := Mask("123"); got != "123" {
		t.Error(got)
	}
}

func TestSendDataRetriesFaults(t *testing.T) {
	for _, k := range []faults.Kind{faults.RateLimit, faults.ServerError, faults.TimeoutBefore} {
		t.Run(k.String(), func(t *testing.T) {
			f := newFake(t, nil)
			f.Faults.Stall = 2 * time.Second
			f.Faults.Push(k, k)
			a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), f)
			res, err := a.Execute(context.Background(), csvRequest("a,b\n", "+15551234567", nil))
			if err != nil || !res.Success || len(f.Messages()) != 1 || !strings.Contains(res.Message, "2 retries") {
				t.Fatalf("%v %+v", err, res)
			}
		})
	}
}

func TestSendDataRetryAfterHonoured(t *testing.T) {
	clock := vendorhttptest.NewFakeClock(time.Time{})
	f := newFake(t, nil)
	f.Faults.RetryAfter = "7"
	f.Faults.Push(faults.RateLimit)
	cfg := fastHTTP
	cfg.Clock = clock
	a := newAction(t, SendDataModule(Options{HTTP: cfg}), f)
	res, err := a.Execute(context.Background(), csvRequest("a,b\n", "+15551234567", nil))
	if err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	if s := clock.Sleeps(); len(s) != 1 || s[0] != 7*time.Second {
		t.Fatalf("sleeps %v, want [7s]", s)
	}
}

func TestSendDataGivesUp(t *testing.T) {
	f := newFake(t, nil)
	f.Faults.Func = func(int64) faults.Kind { return faults.ServerError }
	a := newAction(t, SendDataModule(Options{HTTP: fastHTTP}), f)
	res, err := a.Execute(context.Background(), csvRequest("a,b\n", "+15551234567", nil))
	if err != nil || res.Success || !strings.Contains(res.Message, "HTTP 503") {
		t.Fatalf("%v %+v", err, res)
	}
	if f.Requests() != int64(vendorhttp.DefaultMaxRetries+1) {
		t.Fatalf("%d requests", f.Requests())
	}
}
