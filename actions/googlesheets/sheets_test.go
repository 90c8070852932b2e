package googlesheets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/actions/googledrive"
	googlefake "github.com/actionhub/actionhub/internal/fakes/google"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

const redirect = "https://hub.example.com/actions/google_sheets/oauth_redirect"

type fixture struct {
	fake   *googlefake.Server
	env    *sdk.Env
	act    *Action
	sleeps []time.Duration
}

func setup(t *testing.T, extra map[string]string) *fixture {
	t.Helper()
	fake := googlefake.New(t, "cid", "csecret")
	vars := fake.Env()
	for k, v := range extra {
		vars[k] = v
	}
	env := &sdk.Env{BaseURL: "https://hub.example.com", Getenv: func(k string) string { return vars[k] },
		Crypto: actioncrypto.New(actioncrypto.GenerateKey()), Logger: slog.New(slog.DiscardHandler)}
	a, err := New(env)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{fake: fake, env: env, act: a.(*Action)}
	noSleep := func(ctx context.Context, d time.Duration) error { f.sleeps = append(f.sleeps, d); return ctx.Err() }
	f.act.Retry.Sleep = noSleep
	f.act.SheetsRetry.Sleep = noSleep
	return f
}

func (f *fixture) state(t *testing.T) string {
	tok := f.fake.IssueTokens("user@example.com", googledrive.ScopeSpreadsheets+" "+googledrive.ScopeDrive+" "+googledrive.ScopeEmail)
	b, _ := json.Marshal(googledrive.TokenPayload{Tokens: tok, Redirect: redirect})
	return string(b)
}

func (f *fixture) req(t *testing.T, state string, form map[string]any, data string) *sdk.Request {
	t.Helper()
	d := map[string]any{"state_url": "https://looker.example.com/state/1"}
	if state != "" {
		d["state_json"] = state
	}
	body := map[string]any{"type": "query", "data": d, "form_params": form}
	if data != "" {
		body["attachment"] = map[string]any{"mimetype": "text/csv", "extension": "csv", "data": data}
	}
	b, _ := json.Marshal(body)
	r, err := sdk.DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	r.Env, r.ActionName = f.env, Name
	return r
}

func (f *fixture) exec(t *testing.T, r *sdk.Request) *sdk.Response {
	t.Helper()
	resp, err := f.act.Execute(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func values(t *testing.T, f *fixture, id string) [][]string {
	t.Helper()
	sp, ok := f.fake.Spreadsheet(id)
	if !ok {
		t.Fatal("no spreadsheet")
	}
	return sp.Sheets[0].Values()
}

// pasted returns the pasteData rows and whether updateCells appeared in each batchUpdate.
func batches(f *fixture) (pastes [][]string, clears []bool) {
	for _, c := range f.fake.Calls("sheets.batchUpdate") {
		if c.Status != 200 {
			continue
		}
		var rows []string
		clear := false
		for _, rq := range c.Body["requests"].([]any) {
			m := rq.(map[string]any)
			if p, ok := m["pasteData"].(map[string]any); ok {
				rows = append(rows, p["data"].(string))
			}
			if _, ok := m["updateCells"]; ok {
				clear = true
			}
		}
		if rows != nil || clear {
			pastes, clears = append(pastes, rows), append(clears, clear)
		}
	}
	return
}

func TestGateAndCredentials(t *testing.T) {
	if _, err := New(&sdk.Env{Getenv: func(k string) string {
		return map[string]string{"GOOGLE_DRIVE_CLIENT_ID": "d", "GOOGLE_DRIVE_CLIENT_SECRET": "s"}[k]
	}}); !errors.Is(err, sdk.ErrNotConfigured) {
		t.Fatal("must be gated on GOOGLE_SHEET_CLIENT_ID/SECRET", err)
	}
	a, err := New(&sdk.Env{Getenv: func(k string) string {
		return map[string]string{"GOOGLE_SHEET_CLIENT_ID": "sheet-id", "GOOGLE_SHEET_CLIENT_SECRET": "s2",
			"GOOGLE_DRIVE_CLIENT_ID": "drive-id", "GOOGLE_DRIVE_CLIENT_SECRET": "s1", "GOOGLE_SHEETS_WRITE_BATCH": "7",
			"GOOGLE_SHEETS_BASE_DELAY": "2"}[k]
	}})
	if err != nil {
		t.Fatal(err)
	}
	act := a.(*Action)
	if act.OAuth.ClientID != "drive-id" || act.WriteBatch != 7 || act.SheetsRetry.Delay(3) != 8*time.Second {
		t.Fatalf("%s %d %v", act.OAuth.ClientID, act.WriteBatch, act.SheetsRetry.Delay(3))
	}
	a, _ = New(&sdk.Env{Getenv: func(k string) string {
		return map[string]string{"GOOGLE_SHEET_CLIENT_ID": "sheet-id", "GOOGLE_SHEET_CLIENT_SECRET": "s2"}[k]
	}})
	if a.(*Action).OAuth.ClientID != "sheet-id" || a.(*Action).WriteBatch != DefaultWriteBatch {
		t.Fatal("fallback credentials")
	}
	u, _ := a.(*Action).OAuthURL(context.Background(), redirect, "st", nil)
	pu, _ := url.Parse(u)
	if pu.Query().Get("scope") != googledrive.ScopeSpreadsheets+" "+googledrive.ScopeDrive+" "+googledrive.ScopeEmail {
		t.Fatal(u)
	}
}

func TestDefinitionAndForm(t *testing.T) {
	f := setup(t, nil)
	d := f.act.Definition()
	if d.Name != "google_sheets" || d.Label != "Google Sheets" || !d.Streaming || len(d.SupportedFormats) != 1 ||
		d.SupportedFormats[0] != sdk.FormatCSV || len(d.SupportedActionTypes) != 1 || d.MinimumLookerVersion != "7.3.0" {
		t.Fatalf("%+v", d)
	}
	if _, ok := sdk.Action(f.act).(sdk.OAuthV2Action); !ok {
		t.Fatal("v2")
	}
	form, err := f.act.Form(context.Background(), f.req(t, f.state(t), nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	last := form.Fields[len(form.Fields)-1]
	if len(form.Fields) != 5 || last.Name != "overwrite" || last.Default != "yes" || last.Label != "Overwrite Existing Files" {
		t.Fatalf("%+v", form.Fields)
	}
	form, _ = f.act.Form(context.Background(), f.req(t, "", nil, ""))
	if len(form.Fields) != 1 || form.Fields[0].Type != sdk.FieldOAuthLinkGoogle {
		t.Fatalf("%+v", form.Fields)
	}
}

func TestCreateNewSheet(t *testing.T) {
	f := setup(t, nil)
	for _, overwrite := range []string{"no", "yes"} { // "yes" without an existing file creates too
		resp := f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "report-" + overwrite, "overwrite": overwrite}, "a,b\n1,2\n"))
		if !resp.Success {
			t.Fatalf("%+v", resp)
		}
	}
	files := f.fake.Files()
	if len(files) != 2 || files[0].Name != "report-no.csv" || files[0].MimeType != googlefake.SpreadsheetMimeType {
		t.Fatalf("%+v", files)
	}
	if got := values(t, f, files[1].ID); !reflect.DeepEqual(got, [][]string{{"a", "b"}, {"1", "2"}}) {
		t.Fatalf("%v", got)
	}
	for _, c := range f.fake.Calls("upload.start") {
		if c.Header.Get("X-Upload-Content-Type") != "text/csv" || c.Body["mimeType"] != googlefake.SpreadsheetMimeType {
			t.Fatalf("%+v", c)
		}
	}
}

func TestOverwriteExisting(t *testing.T) {
	f := setup(t, nil)
	old := [][]string{{"x", "x", "x", "x", "x"}, {"x"}, {"x"}, {"keep?"}}
	id := f.fake.AddSpreadsheet("Barbara's File.csv", "", old, 5, 5)
	f.fake.AddSpreadsheet("Barbara's File.csv", "otherFolder", nil, 5, 5)
	resp := f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "Barbara's File", "overwrite": "yes"},
		"\ufeff\"a\",\"b\",\"lol\"\"\",\"c\"\n1,2,3,4\n"))
	if !resp.Success || resp.Report == nil || resp.Report.Snapshot().Delivered != 2 {
		t.Fatalf("%+v", resp)
	}
	if got := values(t, f, id); !reflect.DeepEqual(got, [][]string{{"a", "b", `lol"`, "c"}, {"1", "2", "3", "4"}}) {
		t.Fatalf("%v", got)
	}
	pastes, clears := batches(f)
	if len(pastes) != 1 || !clears[0] || pastes[0][0] != `"a","b","lol""","c"` || pastes[0][1] != `"1","2","3","4"` {
		t.Fatalf("%q %v", pastes, clears)
	}
	q, _ := url.Parse(f.fake.Calls("files.list")[0].URL)
	if !strings.Contains(q.Query().Get("q"), `name = 'Barbara\'s File.csv' and 'root' in parents`) {
		t.Fatal(q.Query().Get("q"))
	}
	if len(f.fake.Files()) != 2 {
		t.Fatal("a new file was created instead of overwriting")
	}
	sp, _ := f.fake.Spreadsheet(id)
	if sp.Sheets[0].Rows != 2 {
		t.Fatalf("grid not shrunk to the data: %d rows", sp.Sheets[0].Rows)
	}
}

func csvRows(n int) string {
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "%d,row %d\n", i, i)
	}
	return b.String()
}

func TestOverwriteBatchesAndGrowsGrid(t *testing.T) {
	f := setup(t, nil)
	f.act.WriteBatch = 3
	id := f.fake.AddSpreadsheet("big.csv", "", [][]string{{"old"}}, 5, 1)
	resp := f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "big.csv", "overwrite": "yes"}, csvRows(10)))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	got := values(t, f, id)
	if len(got) != 10 || got[0][0] != "id" || got[9][1] != "row 9" {
		t.Fatalf("%v", got)
	}
	pastes, clears := batches(f)
	if len(pastes) != 4 || !clears[0] || clears[1] || clears[3] || len(pastes[3]) != 1 {
		t.Fatalf("%d batches %v", len(pastes), clears)
	}
	// the first batch widened the grid to 2 columns in the same atomic call
	first := f.fake.Calls("sheets.batchUpdate")[0].Body["requests"].([]any)[0].(map[string]any)
	if _, ok := first["updateSheetProperties"]; !ok {
		t.Fatalf("%v", first)
	}
	sp, _ := f.fake.Spreadsheet(id)
	if sp.Sheets[0].Rows != 10 || sp.Sheets[0].Cols != 2 {
		t.Fatalf("grid %dx%d", sp.Sheets[0].Rows, sp.Sheets[0].Cols)
	}
}

func TestOverwriteRetriesWithBoundedBackoff(t *testing.T) {
	f := setup(t, nil)
	id := f.fake.AddSpreadsheet("r.csv", "", nil, 10, 2)
	f.fake.FailNext("sheets.batchUpdate", 429, 503, 429, 500)
	resp := f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "r", "overwrite": "yes"}, "a,b\n"))
	if !resp.Success || resp.Report.Snapshot().Retries != 4 {
		t.Fatalf("%+v %+v", resp, resp.Report.Snapshot())
	}
	if want := []time.Duration{3 * time.Second, 9 * time.Second, 27 * time.Second, 64 * time.Second}; !reflect.DeepEqual(f.sleeps, want) {
		t.Fatalf("sleeps %v", f.sleeps)
	}
	if got := values(t, f, id); !reflect.DeepEqual(got, [][]string{{"a", "b"}}) {
		t.Fatalf("%v", got)
	}
	// a sixth failure in a row gives up; a 400 is not retried
	f.fake.FailNext("sheets.batchUpdate", 429, 429, 429, 429, 429, 429)
	resp = f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "r", "overwrite": "yes"}, "c,d\n"))
	if resp.Success || resp.Error == nil || resp.Error.HTTPCode != 429 {
		t.Fatalf("%+v", resp)
	}
	if got := values(t, f, id); !reflect.DeepEqual(got, [][]string{{"a", "b"}}) {
		t.Fatalf("a failed first batch changed the sheet: %v", got)
	}
}

func TestCellLimit(t *testing.T) {
	f := setup(t, nil)
	f.act.WriteBatch = 3
	other := &googlefake.Sheet{ID: 7, Title: "Big", Rows: 999_999, Cols: 10} // 9,999,990 cells
	id := f.fake.AddSpreadsheet("c.csv", "", [][]string{{"prev", "x"}}, 1, 2, other)
	// 2 columns: at most (10,000,000 - 9,999,990) / 2 = 5 rows
	resp := f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "c", "overwrite": "yes"}, csvRows(8)))
	if resp.Success || !strings.Contains(resp.Message, "Cannot send more than 5 rows") || !strings.Contains(resp.Message, "first 3 rows were written") {
		t.Fatalf("%+v", resp)
	}
	if got := values(t, f, id); len(got) != 3 {
		t.Fatalf("%v", got)
	}
	// too big already for the first batch: nothing changes
	id2 := f.fake.AddSpreadsheet("d.csv", "", [][]string{{"prev", "x"}}, 1, 2, &googlefake.Sheet{ID: 8, Title: "B", Rows: 999_999, Cols: 10})
	f.act.WriteBatch = 100
	resp = f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "d", "overwrite": "yes"}, csvRows(8)))
	if resp.Success || !strings.Contains(resp.Message, "Cannot send more than") {
		t.Fatalf("%+v", resp)
	}
	if got := values(t, f, id2); !reflect.DeepEqual(got, [][]string{{"prev", "x"}}) {
		t.Fatalf("%v", got)
	}
}

func cutServer(rows int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10000000")
		io.WriteString(w, csvRows(rows))
		w.(http.Flusher).Flush()
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	}))
}

func TestCutDownload(t *testing.T) {
	f := setup(t, nil)
	id := f.fake.AddSpreadsheet("cut.csv", "", [][]string{{"prev"}}, 10, 2)
	dl := cutServer(10)
	defer dl.Close()
	r := f.req(t, f.state(t), map[string]any{"filename": "cut", "overwrite": "yes"}, "")
	r.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: dl.URL}
	resp := f.exec(t, r)
	if resp.Success || !strings.Contains(resp.Message, `Upload aborted, nothing was changed in the Google Sheet "cut.csv"`) {
		t.Fatalf("%+v", resp)
	}
	if got := values(t, f, id); !reflect.DeepEqual(got, [][]string{{"prev"}}) || len(f.fake.Calls("sheets.batchUpdate")) != 0 {
		t.Fatalf("%v", got)
	}
	// with small batches some were written: the answer says how many
	f.act.WriteBatch = 4
	r = f.req(t, f.state(t), map[string]any{"filename": "cut", "overwrite": "yes"}, "")
	r.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: dl.URL}
	resp = f.exec(t, r)
	if resp.Success || !strings.Contains(resp.Message, "Upload aborted after writing 8 rows") || resp.Report.Snapshot().Fatal == "" {
		t.Fatalf("%+v", resp)
	}
	// the new-sheet path creates nothing
	r = f.req(t, f.state(t), map[string]any{"filename": "fresh", "overwrite": "no"}, "")
	r.ScheduledPlan = &sdk.ScheduledPlan{DownloadURL: dl.URL}
	n := len(f.fake.Files())
	resp = f.exec(t, r)
	if resp.Success || !strings.Contains(resp.Message, "Upload aborted, nothing was saved") || len(f.fake.Files()) != n {
		t.Fatalf("%+v", resp)
	}
}

func TestPayloadBound(t *testing.T) {
	f := setup(t, nil)
	f.fake.AddSpreadsheet("wide.csv", "", nil, 10, 1)
	var b strings.Builder
	big := strings.Repeat("w", 100_000)
	for i := 0; i < 50; i++ {
		b.WriteString(big + "\n")
	}
	resp := f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "wide", "overwrite": "yes"}, b.String()))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	calls := f.fake.Calls("sheets.batchUpdate")
	if len(calls) < 3 {
		t.Fatalf("%d calls", len(calls))
	}
	for _, c := range calls {
		if c.Size > MaxPayloadBytes+200_000 {
			t.Fatalf("payload %d bytes", c.Size)
		}
	}
}

func TestExpiredTokenRefreshedStateReturned(t *testing.T) {
	f := setup(t, map[string]string{"ENCRYPT_PAYLOAD": "true"})
	id := f.fake.AddSpreadsheet("e.csv", "", nil, 10, 2)
	st := f.state(t)
	f.fake.ExpireAccessTokens()
	resp := f.exec(t, f.req(t, st, map[string]any{"filename": "e", "overwrite": "yes"}, "a,b\n"))
	if !resp.Success || resp.State == nil || !strings.Contains(*resp.State.Data, `"cid"`) {
		t.Fatalf("%+v", resp)
	}
	if got := values(t, f, id); !reflect.DeepEqual(got, [][]string{{"a", "b"}}) {
		t.Fatalf("%v", got)
	}
}

func TestNoStateAndFilename(t *testing.T) {
	f := setup(t, nil)
	resp := f.exec(t, f.req(t, "", map[string]any{"filename": "x"}, "a"))
	if resp.Success || resp.Message != "No state found with oauth credentials." || *resp.State.Data != "reset" {
		t.Fatalf("%+v", resp)
	}
	r := f.req(t, f.state(t), map[string]any{}, "a,b")
	resp = f.exec(t, r)
	if !resp.Success || !strings.HasSuffix(f.fake.Files()[0].Name, ".csv") || !strings.HasPrefix(f.fake.Files()[0].Name, "looker_file_") {
		t.Fatalf("%+v %+v", resp, f.fake.Files())
	}
}

func TestEmptyCSVClears(t *testing.T) {
	f := setup(t, nil)
	id := f.fake.AddSpreadsheet("empty.csv", "", [][]string{{"a"}, {"b"}}, 20, 3)
	resp := f.exec(t, f.req(t, f.state(t), map[string]any{"filename": "empty", "overwrite": "yes"}, "\n"))
	if !resp.Success {
		t.Fatalf("%+v", resp)
	}
	if got := values(t, f, id); len(got) != 0 {
		t.Fatalf("%v", got)
	}
}
