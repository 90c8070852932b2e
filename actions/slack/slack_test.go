package slack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
	fake "github.com/actionhub/actionhub/internal/fakes/slack"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp/vendorhttptest"
)

const (
	token1 = "xoxb-team-one-token"
	token2 = "xoxb-team-two-token"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func workspaces() map[string]*fake.Workspace {
	return map[string]*fake.Workspace{
		token1: {TeamID: "T1", Team: "Team One",
			Channels: []fake.Channel{{ID: "C001", Name: "general"}, {ID: "C002", Name: "random"},
				{ID: "C003", Name: "old", Archived: true}, {ID: "G004", Name: "secret", Private: true}},
			Users: []fake.User{{ID: "U001", Name: "alice"}, {ID: "U002", Name: "bob"}, {ID: "U003", Name: "botty", Bot: true},
				{ID: "U004", Name: "gone", Deleted: true}, {ID: "U005", Name: "guest", Restricted: true},
				{ID: "U007", Name: "single", UltraRestricted: true}, {ID: "W006", Name: "wendy"}, {ID: "USLACKBOT", Name: "slackbot"}}},
		token2: {TeamID: "T2", Team: "Team Two", NoIMWrite: true,
			Channels: []fake.Channel{{ID: "C100", Name: "two-general"}},
			Users:    []fake.User{{ID: "U100", Name: "zed"}}},
	}
}

func testEnv(f *fake.Server) *sdk.Env {
	return &sdk.Env{Logger: quiet, Getenv: func(k string) string {
		if k == "ACTION_HUB_VENDOR_URL_SLACK" {
			return f.APIURL()
		}
		return ""
	}}
}

func newLegacy(t *testing.T, f *fake.Server) (*Legacy, *vendorhttptest.FakeClock) {
	a, _ := NewLegacy(testEnv(f))
	l := a.(*Legacy)
	clock := vendorhttptest.NewFakeClock(time.Time{})
	l.Clock = clock
	return l, clock
}

func legacyRequest(env *sdk.Env, form map[string]string, data string) *sdk.Request {
	r := &sdk.Request{Type: sdk.TypeQuery, Env: env, Params: map[string]string{"slack_api_token": token1}, FormParams: form}
	if data != "" {
		r.Attachment = &sdk.Attachment{MimeType: "text/csv", Extension: "csv", Data: []byte(data)}
	}
	return r
}

func fieldNames(fs []sdk.Field) string {
	var n []string
	for _, f := range fs {
		n = append(n, f.Name)
	}
	return strings.Join(n, ",")
}

// Node test_utils.ts "returns correct channels": every page is read and the options are
// sorted; archived channels are left out, private ones kept.
func TestFormChannels(t *testing.T) {
	ws := workspaces()
	// 2,100 more channels, named in reverse order: three pages of 999.
	for i := 2100; i > 0; i-- {
		ws[token1].Channels = append(ws[token1].Channels, fake.Channel{ID: fmt.Sprintf("C9%05d", i), Name: fmt.Sprintf("z%05d", i)})
	}
	f := fake.New(t, ws)
	a, _ := newLegacy(t, f)
	form, err := a.Form(context.Background(), legacyRequest(a.env, map[string]string{"channelType": "channels"}, ""))
	if err != nil || form.Error != "" {
		t.Fatalf("%v %q", err, form.Error)
	}
	if fieldNames(form.Fields) != "channelType,channel,initial_comment,filename" {
		t.Fatalf("fields %s", fieldNames(form.Fields))
	}
	ct := form.Fields[0]
	if ct.Label != "Channel Type" || ct.Default != "manual" || !ct.Interactive || ct.Type != sdk.FieldSelect ||
		!reflect.DeepEqual(ct.Options, []sdk.Option{{Name: "manual", Label: "Manual Channel ID"}, {Name: "channels", Label: "Channels"}, {Name: "users", Label: "Users"}}) {
		t.Errorf("channelType %+v", ct)
	}
	ch := form.Fields[1]
	if ch.Label != "Share In" || ch.Type != sdk.FieldSelect || !ch.Required || len(ch.Options) != 2103 {
		t.Fatalf("channel field %s, %d options", ch.Label, len(ch.Options))
	}
	if !reflect.DeepEqual(ch.Options[:3], []sdk.Option{{Name: "C001", Label: "#general"}, {Name: "C002", Label: "#random"}, {Name: "G004", Label: "#secret"}}) ||
		ch.Options[3].Label != "#z00001" || ch.Options[2102].Label != "#z02100" {
		t.Errorf("options %v ... %v", ch.Options[:4], ch.Options[2102])
	}
	calls := f.Calls()
	if len(calls) != 3 || calls[0].Form["limit"] != "999" || calls[0].Form["types"] != "public_channel,private_channel" ||
		calls[0].Form["exclude_archived"] != "true" || calls[1].Form["cursor"] == "" {
		t.Errorf("calls %+v", calls)
	}
	if form.Fields[2].Label != "Comment" || form.Fields[3].Label != "Filename" {
		t.Errorf("fields %+v", form.Fields[2:])
	}
}

// Node "returns correct users": paginated, sorted, without bots, deleted users, guests.
func TestFormUsers(t *testing.T) {
	ws := workspaces()
	for i := 0; i < 1200; i++ {
		ws[token1].Users = append(ws[token1].Users, fake.User{ID: fmt.Sprintf("U8%05d", i), Name: fmt.Sprintf("u%05d", i), Bot: i%2 == 0})
	}
	f := fake.New(t, ws)
	a, _ := newLegacy(t, f)
	form, _ := a.Form(context.Background(), legacyRequest(a.env, map[string]string{"channelType": "users"}, ""))
	opts := form.Fields[1].Options
	if len(opts) != 3+600 || !reflect.DeepEqual(opts[:3], []sdk.Option{{Name: "U001", Label: "@alice"}, {Name: "U002", Label: "@bob"}, {Name: "U800001", Label: "@u00001"}}) ||
		opts[len(opts)-1] != (sdk.Option{Name: "W006", Label: "@wendy"}) {
		t.Errorf("%d options: %v ... %v", len(opts), opts[:3], opts[len(opts)-1])
	}
	if n := len(f.Calls()); n != 2 {
		t.Errorf("%d users.list calls", n)
	}
}

func TestFormManual(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	// Node test_slack.ts: the legacy action is not streaming (push, "to support legacy formats").
	if d := a.Definition(); d.Streaming || d.SupportedFormats != nil || d.Params[0].Name != "slack_api_token" || !d.Params[0].Sensitive {
		t.Errorf("definition %+v", d)
	}
	form, _ := a.Form(context.Background(), legacyRequest(a.env, map[string]string{}, ""))
	if fieldNames(form.Fields) != "channelType,channel,initial_comment,filename" || form.Fields[1].Type != sdk.FieldString ||
		form.Fields[1].Label != "Channel or User ID" {
		t.Errorf("fields %+v", form.Fields)
	}
	if len(f.Calls()) != 0 {
		t.Errorf("manual form called Slack: %v", f.Methods())
	}
}

// Node test_slack.ts: invalid_auth gives the friendly text.
func TestFormBadToken(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	req := legacyRequest(a.env, map[string]string{"channelType": "channels"}, "")
	req.Params["slack_api_token"] = "xoxb-wrong"
	form, _ := a.Form(context.Background(), req)
	if form.Error != "Your Slack authentication credentials are not valid." {
		t.Errorf("form %+v", form)
	}
}

func TestMissingChannel(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	resp, err := a.Execute(context.Background(), legacyRequest(a.env, map[string]string{}, "1,2,3,4"))
	if err != nil || resp.Success || resp.Error == nil || resp.Error.HTTPCode != 400 || resp.Error.StatusCode != "BAD_REQUEST" ||
		!strings.HasSuffix(resp.Error.Message, "[SLACK] Missing channel") || resp.Message != resp.Error.Message {
		t.Fatalf("%+v %v", resp, err)
	}
	if len(f.Calls()) != 0 {
		t.Error("Slack was called")
	}
}

// Node "sends to right body, channel and filename if specified": the upload trio, then the
// comment on its own.
func TestUploadToChannel(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	resp, err := a.Execute(context.Background(), legacyRequest(a.env,
		map[string]string{"channel": "C001", "filename": "mywackyfilename", "initial_comment": "mycomment <https://x|link>"}, "1,2,3,4"))
	if err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	if got := strings.Join(f.Methods(), ","); got != "files.getUploadURLExternal,upload,files.completeUploadExternal,chat.postMessage" {
		t.Errorf("calls %s", got)
	}
	c := f.Calls()[0]
	if c.Form["filename"] != "mywackyfilename.csv" || c.Form["length"] != "7" || c.Token != token1 {
		t.Errorf("getUploadURLExternal %+v", c)
	}
	shares := f.Shares()
	if len(shares) != 1 || shares[0].Channel != "C001" || shares[0].Title != "mywackyfilename.csv" ||
		string(shares[0].Upload.Data) != "1,2,3,4" || shares[0].InitialComment != "" {
		t.Errorf("shares %+v", shares)
	}
	if m := f.Messages(); len(m) != 1 || m[0] != (fake.Message{Channel: "C001", Text: "mycomment <https://x|link>", TS: m[0].TS}) {
		t.Errorf("messages %+v", m)
	}
}

// Node "sends right body and channel": without a filename the suggested one is used.
func TestUploadSuggestedFilename(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	req := legacyRequest(a.env, map[string]string{"channel": "C002"}, "1,2,3,4")
	req.ScheduledPlan = &sdk.ScheduledPlan{Title: "Daily numbers"}
	resp, _ := a.Execute(context.Background(), req)
	if !resp.Success || f.Shares()[0].Title != "Daily numbers.csv" || len(f.Messages()) != 0 {
		t.Fatalf("%+v %+v", resp, f.Shares())
	}
}

// Node "sends right body and channel if payload is empty": chat.postMessage.
func TestNoDataPostsMessage(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	req := legacyRequest(a.env, map[string]string{"channel": "C001", "initial_comment": "mycomment"}, "")
	req.ScheduledPlan = &sdk.ScheduledPlan{}
	req.Attachment = &sdk.Attachment{}
	resp, _ := a.Execute(context.Background(), req)
	if !resp.Success || strings.Join(f.Methods(), ",") != "chat.postMessage" || f.Messages()[0].Text != "mycomment" {
		t.Fatalf("%+v %v", resp, f.Methods())
	}
}

// Node: user IDs (U…, W…) get the file in their DM. With a comment, the comment opens the
// DM; without one, conversations.open does, and no extra message is posted.
func TestUploadToUser(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	resp, _ := a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "U001", "initial_comment": "for you"}, "a,b"))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	if got := strings.Join(f.Methods(), ","); got != "files.getUploadURLExternal,upload,chat.postMessage,files.completeUploadExternal" {
		t.Errorf("calls %s", got)
	}
	if f.Shares()[0].Channel != "DU001" || len(f.Messages()) != 1 || f.Messages()[0].Text != "for you" {
		t.Errorf("shares %+v messages %+v", f.Shares(), f.Messages())
	}

	resp, _ = a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "W006"}, "a,b"))
	if !resp.Success || f.Shares()[1].Channel != "DW006" || len(f.Messages()) != 1 {
		t.Fatalf("%+v shares %+v messages %+v", resp, f.Shares(), f.Messages())
	}
}

// A token without im:write opens the DM the Node way, with a "Looker Data" message.
func TestUploadToUserWithoutIMWrite(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	req := legacyRequest(a.env, map[string]string{"channel": "U100"}, "a,b")
	req.Params["slack_api_token"] = token2
	resp, _ := a.Execute(context.Background(), req)
	if !resp.Success || f.Shares()[0].Channel != "DU100" || f.Messages()[0].Text != "Looker Data" {
		t.Fatalf("%+v shares %+v messages %+v", resp, f.Shares(), f.Messages())
	}
}

// Node "returns failure on slack files.upload error": a finalize failure fails the
// execute with the error object (Slack's channel_not_found is a platform error: 400).
func TestCompleteFailure(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	resp, _ := a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "mychannel", "initial_comment": "mycomment"}, "1,2,3,4"))
	if resp.Success || resp.Error == nil || resp.Error.StatusCode != "BAD_REQUEST" ||
		!strings.Contains(resp.Message, "[SLACK] Error while sending data errored with WebPlatformError channel_not_found") {
		t.Fatalf("%+v", resp)
	}
	if len(f.Messages()) != 0 {
		t.Error("the comment was posted although the file was not shared")
	}
	// A 5xx from files.completeUploadExternal is not retried (it may have shared the file).
	f.Faults("files.completeUploadExternal").Push(faults.ServerError)
	resp, _ = a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "C001"}, "1,2,3,4"))
	if resp.Success || resp.Error.StatusCode != "UNAVAILABLE" || resp.Error.HTTPCode != 503 ||
		!strings.Contains(resp.Message, "[SLACK] HTTP request error: 503 Service Unavailable") {
		t.Fatalf("%+v", resp)
	}
	n := 0
	for _, m := range f.Methods() {
		if m == "files.completeUploadExternal" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d completeUploadExternal calls, want 2 (one per execute)", n)
	}
}

func TestRateLimitHonoured(t *testing.T) {
	f := fake.New(t, workspaces())
	f.Faults("files.completeUploadExternal").RetryAfter = "7"
	f.Faults("files.completeUploadExternal").Push(faults.RateLimit)
	f.Faults("chat.postMessage").Push(faults.RateLimit) // Retry-After 0: waits a second
	a, clock := newLegacy(t, f)
	resp, _ := a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "C001", "initial_comment": "hi"}, "1,2"))
	if !resp.Success || len(f.Shares()) != 1 || len(f.Messages()) != 1 {
		t.Fatalf("%+v", resp)
	}
	if got := clock.Sleeps(); !reflect.DeepEqual(got, []time.Duration{7 * time.Second, time.Second}) {
		t.Errorf("sleeps %v", got)
	}
}

func TestRateLimitBounded(t *testing.T) {
	f := fake.New(t, workspaces())
	f.Faults("chat.postMessage").Func = func(int64) faults.Kind { return faults.RateLimit }
	f.Faults("chat.postMessage").RetryAfter = "2"
	a, clock := newLegacy(t, f)
	resp, _ := a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "C001", "initial_comment": "hi"}, ""))
	if resp.Success || resp.Error.StatusCode != "RESOURCE_EXHAUSTED" || resp.Error.HTTPCode != 429 {
		t.Fatalf("%+v", resp)
	}
	if len(clock.Sleeps()) != maxRetries || len(f.Calls()) != maxRetries+1 {
		t.Errorf("sleeps %v, %d calls", clock.Sleeps(), len(f.Calls()))
	}
	f.Faults("chat.postMessage").RetryAfter = "3600"
	resp, _ = a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "C001", "initial_comment": "hi"}, ""))
	if resp.Success || !strings.Contains(resp.Message, "retry after 1h0m0s") {
		t.Fatalf("%+v", resp)
	}
}

// The upload itself failing (503) starts again from a new upload URL; nothing is shared
// twice.
func TestUploadRetried(t *testing.T) {
	f := fake.New(t, workspaces())
	f.Faults("upload").Push(faults.ServerError)
	a, _ := newLegacy(t, f)
	resp, _ := a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "C001"}, "1,2,3,4"))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	if got := strings.Join(f.Methods(), ","); got != "files.getUploadURLExternal,upload,files.getUploadURLExternal,upload,files.completeUploadExternal" {
		t.Errorf("calls %s", got)
	}
	if s := f.Shares(); len(s) != 1 || string(s[0].Upload.Data) != "1,2,3,4" {
		t.Errorf("shares %+v", s)
	}
}

func TestTimeout(t *testing.T) {
	f := fake.New(t, workspaces())
	f.Faults("files.completeUploadExternal").Push(faults.TimeoutBefore)
	a, _ := newLegacy(t, f)
	a.Timeout = 200 * time.Millisecond
	start := time.Now()
	resp, _ := a.Execute(context.Background(), legacyRequest(a.env, map[string]string{"channel": "C001"}, "1,2"))
	if resp.Success || resp.Error.StatusCode != "GATEWAY_TIMEOUT" || !strings.Contains(resp.Message, "did not answer files.completeUploadExternal within 200ms") {
		t.Fatalf("%+v", resp)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

func TestBadTokenNotLeaked(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	req := legacyRequest(a.env, map[string]string{"channel": "C001"}, "1,2")
	req.Params["slack_api_token"] = "xoxb-leaky-secret"
	resp, _ := a.Execute(context.Background(), req)
	if resp.Success || !strings.Contains(resp.Message, "invalid_auth") || !strings.Contains(resp.Message, "credentials are not valid") {
		t.Fatalf("%+v", resp)
	}
	if strings.Contains(resp.Message, "leaky") {
		t.Error("token leaked")
	}
}

func TestEmptyData(t *testing.T) {
	f := fake.New(t, workspaces())
	a, _ := newLegacy(t, f)
	req := legacyRequest(a.env, map[string]string{"channel": "C001"}, "")
	req.Attachment = &sdk.Attachment{Extension: "csv", Data: []byte{}}
	resp, _ := a.Execute(context.Background(), req)
	if resp.Success || resp.Error.StatusCode != "INVALID_ARGUMENT" || len(f.Calls()) != 0 {
		t.Fatalf("%+v", resp)
	}
}

// A download is spooled to a file (bounded); over the limit it is refused with Node's text.
// (sdk's TestOpenSizedDownload checks the spool file is removed on Close.)
func TestSpoolLimit(t *testing.T) {
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 5000))
	}))
	defer dl.Close()
	req := &sdk.Request{Env: &sdk.Env{}, ScheduledPlan: &sdk.ScheduledPlan{DownloadURL: dl.URL}}
	src, err := req.OpenSized(context.Background(), 5000)
	if err != nil || src.Size() != 5000 {
		t.Fatalf("%+v %v", src, err)
	}
	b, _ := io.ReadAll(src.Reader())
	src.Close()
	if len(b) != 5000 {
		t.Errorf("read %d", len(b))
	}
	req.ScheduledPlan.DownloadURL = dl.URL
	_, err = req.OpenSized(context.Background(), 4999)
	code, text := classify(err)
	if code != "PAYLOAD_TOO_LARGE" || text != "[SLACK] Payload was over 1 GB which is not supported" {
		t.Errorf("%s %s", code, text)
	}
}
