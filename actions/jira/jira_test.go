package jira

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/fakes/faults"
	jirafake "github.com/actionhub/actionhub/internal/fakes/jira"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

const (
	email    = "looker@example.com"
	apiToken = "ATATT3xFfGF0secret_api_token"
	pat      = "NjM0secret_personal_access_token"
)

var fastHTTP = vendorhttp.Config{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 500 * time.Millisecond}

func newFake(t *testing.T) *jirafake.Server {
	return jirafake.New(t, jirafake.Options{Email: email, APIToken: apiToken, PAT: pat,
		Projects: []jirafake.Project{{ID: "1", Key: "A", Name: "A"}, {ID: "2", Key: "B", Name: "B"}},
		IssueTypes: []jirafake.IssueType{{ID: "1", Name: "Task"}, {ID: "2", Name: "Bug", Description: "A problem"},
			{ID: "3", Name: "Epic", Description: "A big one"}},
	})
}

var allowPrivate = &sdk.Env{Getenv: func(k string) string {
	if k == netguard.AllowPrivateVar {
		return "true"
	}
	return ""
}}

func params(f *jirafake.Server) map[string]string {
	return map[string]string{ParamAddress: f.URL, ParamUsername: email, ParamPassword: apiToken}
}

func request(f *jirafake.Server, data string) *sdk.Request {
	r := &sdk.Request{Type: sdk.TypeQuery, Params: params(f),
		FormParams:    map[string]string{"project": "1", "summary": "mysummary", "description": "mydescription", "issueType": "2"},
		ScheduledPlan: &sdk.ScheduledPlan{Title: "Weekly sales", URL: "looker_url"}}
	if data != "" {
		r.Attachment = &sdk.Attachment{MimeType: "text/csv", Extension: "csv", Data: []byte(data)}
	}
	return r
}

// Node: "sends right body to addNewIssue"
func TestExecuteCreatesIssueAndAttaches(t *testing.T) {
	f := newFake(t)
	a := New(allowPrivate, Options{HTTP: fastHTTP})
	res, err := a.Execute(context.Background(), request(f, "a,b\n1,2\n"))
	if err != nil || !res.Success || !strings.Contains(res.Message, "A-1") {
		t.Fatalf("%v %+v", err, res)
	}
	is := f.Issues()
	want := jirafake.Issue{Key: "A-1", ProjectID: "1", IssueTypeID: "2", Summary: "mysummary",
		Description: "mydescription\nLooker URL: looker_url"}
	if len(is) != 1 || is[0] != want {
		t.Fatalf("%+v", is)
	}
	at := f.Attachments()
	if len(at) != 1 || at[0].IssueKey != "A-1" || at[0].Filename != "Weekly sales.csv" ||
		at[0].ContentType != "text/csv" || string(at[0].Data) != "a,b\n1,2\n" || !at[0].Chunked {
		t.Fatalf("%+v", at)
	}
	if s := f.AuthSchemes(); len(s) != 2 || s[0] != "Basic" {
		t.Fatalf("%v", s)
	}
}

func TestExecuteNoAttachment(t *testing.T) {
	f := newFake(t)
	_, err := New(allowPrivate, Options{}).Execute(context.Background(), request(f, ""))
	if e, ok := sdk.AsError(err); !ok || e.Text != "Couldn't get data from attachment" {
		t.Fatal(err)
	}
}

func TestInvalidAddress(t *testing.T) {
	f := newFake(t)
	for _, addr := range []string{"myjira", "ftp://x", ""} {
		req := request(f, "a")
		req.Params[ParamAddress] = addr
		_, err := New(allowPrivate, Options{}).Execute(context.Background(), req)
		if e, ok := sdk.AsError(err); !ok || e.Text != "Invalid JIRA server address." {
			t.Errorf("%q: %v", addr, err)
		}
	}
}

func TestPersonalAccessToken(t *testing.T) {
	f := newFake(t)
	req := request(f, "x")
	req.Params[ParamAuthMethod] = AuthPAT
	req.Params[ParamPassword] = pat
	res, err := New(allowPrivate, Options{HTTP: fastHTTP}).Execute(context.Background(), req)
	if err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	for _, s := range f.AuthSchemes() {
		if s != "Bearer" {
			t.Fatalf("%v", f.AuthSchemes())
		}
	}
}

func TestNoURLNoUndefined(t *testing.T) {
	f := newFake(t)
	req := request(f, "x")
	req.ScheduledPlan = nil
	if res, err := New(allowPrivate, Options{HTTP: fastHTTP}).Execute(context.Background(), req); err != nil || !res.Success {
		t.Fatalf("%v %+v", err, res)
	}
	if d := f.Issues()[0].Description; d != "mydescription" {
		t.Fatalf("%q", d)
	}
}

func TestCreateRefusedAndBadCredentials(t *testing.T) {
	f := newFake(t)
	req := request(f, "x")
	req.FormParams["summary"] = ""
	res, err := New(allowPrivate, Options{HTTP: fastHTTP}).Execute(context.Background(), req)
	if err != nil || res.Success || !strings.Contains(res.Message, "summary: You must specify a summary") {
		t.Fatalf("%v %+v", err, res)
	}
	req = request(f, "x")
	req.Params[ParamPassword] = "wrong-secret-value"
	res, err = New(allowPrivate, Options{HTTP: fastHTTP}).Execute(context.Background(), req)
	if err != nil || res.Success || !strings.Contains(res.Message, "HTTP 401") || strings.Contains(res.Message, "wrong-secret-value") {
		t.Fatalf("%v %+v", err, res)
	}
	if len(f.Issues()) != 0 {
		t.Fatal("issue created")
	}
}

// Node: form "has form with correct projects and issue types" (only types with a
// description; defaults the first ids).
func TestForm(t *testing.T) {
	f := newFake(t)
	form, err := New(allowPrivate, Options{HTTP: fastHTTP}).Form(context.Background(), &sdk.Request{Params: params(f)})
	if err != nil || form.Error != "" || len(form.Fields) != 4 {
		t.Fatalf("%v %+v", err, form)
	}
	p, it := form.Fields[0], form.Fields[3]
	if p.Name != "project" || p.Default != "1" || len(p.Options) != 2 || p.Options[1] != (sdk.Option{Name: "2", Label: "B"}) {
		t.Fatalf("%+v", p)
	}
	if it.Name != "issueType" || it.Default != "2" || len(it.Options) != 2 || it.Options[0] != (sdk.Option{Name: "2", Label: "Bug"}) {
		t.Fatalf("%+v", it)
	}
	if form.Fields[1].Name != "summary" || form.Fields[2].Name != "description" || form.Fields[2].Type != sdk.FieldTextarea {
		t.Fatalf("%+v", form.Fields)
	}
}

// Node: "returns form error on client failure"
func TestFormError(t *testing.T) {
	f := jirafake.New(t, jirafake.Options{Email: email, APIToken: apiToken, FailLists: "hahaha i failed"})
	form, err := New(allowPrivate, Options{HTTP: vendorhttp.Config{MaxRetries: -1}}).Form(context.Background(), &sdk.Request{Params: params(f)})
	if err != nil || !strings.Contains(form.Error, "hahaha i failed") || len(form.Fields) != 0 {
		t.Fatalf("%v %+v", err, form)
	}
}

// The guard refuses a Jira address on the hub's own network unless allowed.
func TestNetguard(t *testing.T) {
	f := newFake(t)
	res, err := New(&sdk.Env{Getenv: func(string) string { return "" }}, Options{HTTP: vendorhttp.Config{MaxRetries: -1}}).
		Execute(context.Background(), request(f, "x"))
	if err != nil || res.Success || len(f.Issues()) != 0 {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestFaults(t *testing.T) {
	t.Run("429 on create is retried", func(t *testing.T) {
		f := newFake(t)
		f.Faults.Push(faults.RateLimit, faults.RateLimit)
		res, err := New(allowPrivate, Options{HTTP: fastHTTP}).Execute(context.Background(), request(f, "x"))
		if err != nil || !res.Success || len(f.Issues()) != 1 {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("5xx on create is not retried", func(t *testing.T) {
		f := newFake(t)
		f.Faults.Push(faults.ServerError)
		res, err := New(allowPrivate, Options{HTTP: fastHTTP}).Execute(context.Background(), request(f, "x"))
		if err != nil || res.Success || !strings.Contains(res.Message, "HTTP 503") || len(f.Issues()) != 0 {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("timeout on create", func(t *testing.T) {
		f := newFake(t)
		f.Faults.Stall = 3 * time.Second
		f.Faults.Func = func(int64) faults.Kind { return faults.TimeoutBefore }
		cfg := fastHTTP
		cfg.Timeout = 100 * time.Millisecond
		cfg.MaxRetries = 1
		res, err := New(allowPrivate, Options{HTTP: cfg}).Execute(context.Background(), request(f, "x"))
		if err != nil || res.Success || !strings.Contains(res.Message, "no answer within") {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("attachment failure names the issue", func(t *testing.T) {
		f := newFake(t)
		f.Faults.Push(faults.None, faults.ServerError)
		res, err := New(allowPrivate, Options{HTTP: fastHTTP}).Execute(context.Background(), request(f, "x"))
		if err != nil || res.Success || !strings.Contains(res.Message, "Created JIRA issue A-1, but attaching the data failed: JIRA: HTTP 503") {
			t.Fatalf("%v %+v", err, res)
		}
	})
}

// The upload is streamed: a large download reaches Jira without being held whole.
func TestEndToEndStreamedUpload(t *testing.T) {
	f := newFake(t)
	h := hubtest.New(t, hubtest.Options{Env: map[string]string{netguard.AllowPrivateVar: "true"},
		Actions: []sdk.Module{Module(Options{HTTP: fastHTTP})}})
	const size = 8 << 20
	dl := h.DownloadFunc(t, func(w io.Writer) error {
		_, err := io.CopyN(w, repeatReader{}, size)
		return err
	})
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(f),
		"form_params":    map[string]any{"project": "2", "summary": "s", "description": "d", "issueType": "3", "format": "csv"},
		"scheduled_plan": map[string]any{"title": "Big", "url": "https://looker.example.com/x", "download_url": dl}})
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	at := f.Attachments()
	if len(at) != 1 || len(at[0].Data) != size || at[0].IssueKey != "B-1" || at[0].Filename != "Big.csv" || !at[0].Chunked ||
		!bytes.Equal(at[0].Data[:8], []byte("abcdefgh")) {
		t.Fatalf("%d attachments", len(at))
	}
	// and with Looker's pushed attachment, plus the form, through the server
	form := h.Form(t, Name, map[string]any{"data": params(f)})
	if form.Status != 200 || len(form.Fields) != 4 {
		t.Fatalf("%d %s", form.Status, form.Body)
	}
	res = h.Execute(t, Name, map[string]any{"type": "query", "data": params(f),
		"form_params": map[string]any{"project": "1", "summary": "s", "description": "d", "issueType": "2"},
		"attachment":  map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "a,b\n"}})
	if res.Status != 200 || !res.Looker.Success || strings.Contains(string(res.Body), apiToken) {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
}

type repeatReader struct{}

func (repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "abcdefgh"[i%8]
	}
	return len(p), nil
}

func TestConformance(t *testing.T) {
	f := newFake(t)
	actiontest.Conformance(t, Module(Options{HTTP: fastHTTP}), actiontest.CheckOptions{
		Env:    map[string]string{netguard.AllowPrivateVar: "true"},
		Params: params(f), Data: []byte("a,b\n1,2\n"), Format: sdk.FormatCSV,
		FormParams: map[string]string{"project": "1", "summary": "s", "description": "d", "issueType": "2"},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			at := f.Attachments()
			if len(at) == 0 || string(at[len(at)-1].Data) != "a,b\n1,2\n" {
				t.Errorf("no attachment")
			}
		},
	})
}
