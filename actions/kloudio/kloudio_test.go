package kloudio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/actiontest"
	"github.com/actionhub/actionhub/internal/fakes/faults"
	kloudiofake "github.com/actionhub/actionhub/internal/fakes/kloudio"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

const (
	apiKey   = "kl_api_key_secret_123"
	sheetURL = "https://docs.google.com/spreadsheets/d/1AbC-dEf_123/edit#gid=456"
)

var fastHTTP = vendorhttp.Config{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 300 * time.Millisecond}

const detail = `{"fields":{"dimensions":[{"name":"users.name","label":"Users Name"},{"name":"users.age","label":"Users Age"}],
 "measures":[{"name":"users.count","label":"Users Count"}]},
 "data":[{"users.name":{"value":"Ada","rendered":"Ada"},"users.age":{"value":36},"users.count":{"value":1}},
         {"users.name":{"value":"Grace"},"users.age":{"value":null},"users.count":{"value":2}}]}`

func setup(t *testing.T) (*kloudiofake.Server, map[string]string) {
	f := kloudiofake.New(t, kloudiofake.Options{APIKey: apiKey})
	return f, map[string]string{EnvSignedURL: `"` + f.SignedURLPrefix + `"`, EnvAPIURL: f.APIURL}
}

func action(env map[string]string) *Action {
	return New(&sdk.Env{Getenv: func(k string) string { return env[k] }}, Options{HTTP: fastHTTP})
}

func request(data, key, sheet string) *sdk.Request {
	r := &sdk.Request{Type: sdk.TypeQuery, Params: map[string]string{}, FormParams: map[string]string{}}
	if key != "" {
		r.FormParams["apiKey"] = key
	}
	if sheet != "" {
		r.FormParams["url"] = sheet
	}
	if data != "" {
		r.Attachment = &sdk.Attachment{MimeType: "application/json", Extension: "json", Data: []byte(data)}
	}
	return r
}

func wantErr(t *testing.T, err error, text string) {
	t.Helper()
	if e, ok := sdk.AsError(err); !ok || e.Text != text {
		t.Fatalf("%v, want %q", err, text)
	}
}

// Node: "errors if there is no attachment", "errors if the sheet URL is invalid", plus the
// other thrown validations.
func TestValidation(t *testing.T) {
	_, env := setup(t)
	a := action(env)
	ctx := context.Background()
	_, err := a.Execute(ctx, request("", apiKey, sheetURL))
	wantErr(t, err, "No attached json.")
	_, err = a.Execute(ctx, request(detail, "", sheetURL))
	wantErr(t, err, "Missing API key")
	_, err = a.Execute(ctx, request(detail, apiKey, ""))
	wantErr(t, err, "Missing Google sheets URL")
	_, err = a.Execute(ctx, request(detail, apiKey, "https://example.com/spreadsheets/d/x/edit#gid=0"))
	wantErr(t, err, "Invalid url")
	_, err = a.Execute(ctx, request(`{"fields": [}`, apiKey, sheetURL))
	wantErr(t, err, "Request payload is an invalid format.")
}

// Node: "has form with apiKey and url"
func TestForm(t *testing.T) {
	_, env := setup(t)
	f, err := action(env).Form(context.Background(), &sdk.Request{})
	if err != nil || len(f.Fields) != 2 || f.Fields[0].Name != "apiKey" || f.Fields[1].Name != "url" ||
		!f.Fields[0].Required || !f.Fields[1].Required || f.Fields[0].Type != sdk.FieldString {
		t.Fatalf("%v %+v", err, f)
	}
}

func TestParseSheetURL(t *testing.T) {
	for in, want := range map[string][2]string{
		sheetURL: {"1AbC-dEf_123", "456"},
		"https://docs.google.com/spreadsheets/d/abc/edit":           {"abc", "0"},
		"https://docs.google.com/spreadsheets/d/abc/edit?gid=7#x=1": {"abc", "7"},
	} {
		s, g, ok := ParseSheetURL(in)
		if !ok || s != want[0] || g != want[1] {
			t.Errorf("%s: %s %s %v", in, s, g, ok)
		}
	}
	for _, bad := range []string{"http://docs.google.com/spreadsheets/d/abc/edit", "https://docs.google.com/document/d/abc", "nope"} {
		if _, _, ok := ParseSheetURL(bad); ok {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestExecute(t *testing.T) {
	f, env := setup(t)
	res, err := action(env).Execute(context.Background(), request(detail, apiKey, sheetURL))
	if err != nil || !res.Success || res.Message != "Data uploaded to Google Sheets" {
		t.Fatalf("%v %+v", err, res)
	}
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatal(calls)
	}
	c := calls[0]
	if c.Destination != "looker" || c.APIKey != apiKey || c.SpreadsheetID != "1AbC-dEf_123" || c.SheetID != "456" ||
		!c.S3Upload || c.ReportName != "Looker Report" || !strings.HasSuffix(c.Data, ".json") {
		t.Fatalf("%+v", c)
	}
	up, _ := f.Upload(c.Data)
	var got [][]any
	if err := json.Unmarshal(up, &got); err != nil {
		t.Fatal(err)
	}
	if want := `[["Users Name","Users Age"],["Ada",36],["Grace",null]]`; string(up) != want {
		t.Fatalf("%q, want %q", up, want)
	}
}

func TestFailures(t *testing.T) {
	t.Run("bad api key", func(t *testing.T) {
		_, env := setup(t)
		res, err := action(env).Execute(context.Background(), request(detail, "wrong_key_value_1", sheetURL))
		if err != nil || res.Success || res.Message != "Kloudio: Invalid API key" {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		res, err := action(map[string]string{}).Execute(context.Background(), request(detail, apiKey, sheetURL))
		if err != nil || res.Success || !strings.Contains(res.Message, "not configured for Kloudio") {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("destination 5xx retried then fails", func(t *testing.T) {
		f, env := setup(t)
		f.Faults.Func = func(int64) faults.Kind { return faults.ServerError }
		res, err := action(env).Execute(context.Background(), request(detail, apiKey, sheetURL))
		if err != nil || res.Success || !strings.Contains(res.Message, "Kloudio: fault") || strings.Contains(res.Message, apiKey) {
			t.Fatalf("%v %+v", err, res)
		}
		if f.Faults.Count(faults.ServerError) != vendorhttp.DefaultMaxRetries+1 {
			t.Fatal(f.Faults.Count(faults.ServerError))
		}
	})
	t.Run("429 and timeout retried", func(t *testing.T) {
		f, env := setup(t)
		f.Faults.Stall = 2 * time.Second
		f.Faults.Push(faults.RateLimit, faults.TimeoutBefore)
		res, err := action(env).Execute(context.Background(), request(detail, apiKey, sheetURL))
		if err != nil || !res.Success {
			t.Fatalf("%v %+v", err, res)
		}
	})
}

func TestConformanceAndEndToEnd(t *testing.T) {
	f, env := setup(t)
	actiontest.Conformance(t, Module(Options{HTTP: fastHTTP}), actiontest.CheckOptions{
		Env: env, Data: []byte(detail), FormParams: map[string]string{"apiKey": apiKey, "url": sheetURL},
		Expect: func(t *testing.T, res actiontest.ExecuteResult) {
			if len(f.Calls()) == 0 {
				t.Error("no call")
			}
		},
	})
	h := hubtest.New(t, hubtest.Options{Env: env, Actions: []sdk.Module{Module(Options{HTTP: fastHTTP})}})
	// a large result through a download URL is spooled, not held
	const n = 50000
	dl := h.DownloadFunc(t, func(w io.Writer) error {
		io.WriteString(w, `{"fields":{"dimensions":[{"name":"a","label":"A"}]},"data":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, `{"a":{"value":%d}}`, i)
		}
		_, err := io.WriteString(w, `]}`)
		return err
	})
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": map[string]any{},
		"form_params":    map[string]any{"apiKey": apiKey, "url": sheetURL},
		"scheduled_plan": map[string]any{"download_url": dl}})
	if res.Status != 200 || !res.Looker.Success {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	calls := f.Calls()
	up, _ := f.Upload(calls[len(calls)-1].Data)
	var got [][]any
	if err := json.Unmarshal(up, &got); err != nil || len(got) != n+1 || got[n][0] != float64(n-1) {
		t.Fatalf("%v %d rows", err, len(got))
	}
	res = h.Execute(t, Name, map[string]any{"type": "query", "data": map[string]any{},
		"form_params": map[string]any{"apiKey": apiKey, "url": "https://docs.google.com/x"},
		"attachment":  map[string]any{"mimetype": "application/json", "extension": "json", "data": detail}})
	if res.Status != 404 || !strings.Contains(string(res.Body), "Invalid url") {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
}
