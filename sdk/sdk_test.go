package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

func TestLookerVersionVectors(t *testing.T) {
	b, err := os.ReadFile("../../shared/vectors/looker_version.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			UserAgent     string  `json:"user_agent"`
			LookerVersion *string `json:"looker_version"`
		} `json:"cases"`
		Gating []struct {
			LookerVersion string `json:"looker_version"`
			Minimum       string `json:"minimum_supported_looker_version"`
			Listed        bool   `json:"listed"`
		} `json:"gating"`
	}
	json.Unmarshal(b, &v)
	if len(v.Cases) != 14 || len(v.Gating) == 0 {
		t.Fatalf("vectors: %d cases", len(v.Cases))
	}
	for _, c := range v.Cases {
		want := ""
		if c.LookerVersion != nil {
			want = *c.LookerVersion
		}
		if got := sdk.LookerVersion(c.UserAgent); got != want {
			t.Errorf("%q: %q, want %q", c.UserAgent, got, want)
		}
	}
	for _, g := range v.Gating {
		if got := sdk.VersionAtLeast(g.LookerVersion, g.Minimum); got != g.Listed {
			t.Errorf("%s >= %s: %v", g.LookerVersion, g.Minimum, got)
		}
	}
	if !sdk.VersionAtLeast("7.3.0", "7.3.0-rc.1") || sdk.VersionAtLeast("7.3.0-rc.1", "7.3.0") {
		t.Error("prerelease ordering")
	}
}

func TestDecodeRequestVectors(t *testing.T) {
	cases := map[string]func(t *testing.T, r *sdk.Request, vec map[string]any){
		"02_execute_query_json_detail.json": func(t *testing.T, r *sdk.Request, vec map[string]any) {
			if r.Type != sdk.TypeQuery || r.Attachment == nil || !json.Valid(r.Attachment.Data) || r.Attachment.Extension == "" {
				t.Errorf("attachment %+v", r.Attachment)
			}
		},
		"03_execute_query_streaming_download_url.json": func(t *testing.T, r *sdk.Request, vec map[string]any) {
			if r.DownloadURL() == "" || !r.HasData() || r.Attachment != nil {
				t.Errorf("download url %q", r.DownloadURL())
			}
		},
		"04_execute_cell.json": func(t *testing.T, r *sdk.Request, vec map[string]any) {
			if r.Type != sdk.TypeCell || r.Params["value"] == "" {
				t.Errorf("cell %+v", r.Params)
			}
		},
		"05_execute_dashboard_png_base64.json": func(t *testing.T, r *sdk.Request, vec map[string]any) {
			if r.Attachment == nil || !bytes.HasPrefix(r.Attachment.Data, []byte("\x89PNG\r\n\x1a\n")) {
				t.Errorf("png not decoded")
			}
		},
		"06_execute_query_csv_text.json": func(t *testing.T, r *sdk.Request, vec map[string]any) {
			if r.Attachment == nil || !bytes.Contains(r.Attachment.Data, []byte(",")) {
				t.Errorf("csv not kept as text")
			}
		},
	}
	for file, check := range cases {
		b, err := os.ReadFile("../../shared/vectors/requests/" + file)
		if err != nil {
			t.Fatal(err)
		}
		var vec struct {
			Request struct {
				Body json.RawMessage `json:"body"`
			} `json:"request"`
		}
		json.Unmarshal(b, &vec)
		r, err := sdk.DecodeRequest(vec.Request.Body)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		check(t, r, nil)
	}
	if _, err := sdk.DecodeRequest([]byte(`{"type":null}`)); err != sdk.ErrNullType {
		t.Errorf("null type: %v", err)
	}
	r, err := sdk.DecodeRequest([]byte(`{"type":"query","data":{"n":5,"b":true,"z":null,"s":"x"}}`))
	if err != nil || r.Params["n"] != "5" || r.Params["b"] != "true" || r.Params["s"] != "x" {
		t.Errorf("coercion: %+v %v", r.Params, err)
	}
	if _, ok := r.Params["z"]; ok {
		t.Error("null param must be absent")
	}
}

func TestOpenDownload(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "hello")
		case "/gone":
			w.WriteHeader(404)
		case "/cut":
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/stall":
			io.WriteString(w, "x")
			w.(http.Flusher).Flush()
			time.Sleep(600 * time.Millisecond)
		}
	}))
	defer srv.Close()
	env := &sdk.Env{StreamTimeout: 200 * time.Millisecond}
	read := func(path string) (string, error) {
		r := &sdk.Request{ScheduledPlan: &sdk.ScheduledPlan{DownloadURL: srv.URL + path}, Env: env}
		rc, err := r.Open(context.Background())
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	if s, err := read("/ok"); s != "hello" || err != nil {
		t.Errorf("ok: %q %v", s, err)
	}
	_, err := read("/gone")
	if err == nil || err.Error() != "There was an error with Action Hub calling back to Looker, status code: 404" {
		t.Errorf("gone: %v", err)
	}
	var de *sdk.DownloadError
	if _, err := read("/cut"); !errors.As(err, &de) || de.Bytes != 7 || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("cut: %v", err)
	}
	if _, err := read("/stall"); !errors.As(err, &de) || de.Bytes != 1 {
		t.Errorf("stall (idle timeout): %v", err)
	}
}

func TestOAuthTokensRules(t *testing.T) {
	c := actioncrypto.New("281243e09385f19773569e4d99d306065efb0cf0f6e3ca4c705571c173722c99")
	env := &sdk.Env{Crypto: c}
	wrapped, _ := c.Wrap(map[string]string{"access_token": "a"})
	wb, _ := json.Marshal(wrapped)
	cases := map[string]bool{"": false, "reset": false, "null": false, "{bad": false,
		`{"access_token":"a"}`: true, string(wb): true, `{"cid":"x","payload":"1043022garbage"}`: false}
	for state, want := range cases {
		r := &sdk.Request{Params: map[string]string{"state_json": state}, Env: env}
		var tok map[string]string
		if got := r.OAuthTokens(&tok); got != want || (want && tok["access_token"] != "a") {
			t.Errorf("%q: %v %v", state, got, tok)
		}
	}
}

func TestFilenames(t *testing.T) {
	r := &sdk.Request{ScheduledPlan: &sdk.ScheduledPlan{Title: "My: Report?"}, Attachment: &sdk.Attachment{Extension: "csv", Data: []byte("x")},
		FormParams: map[string]string{"filename": " my file "}}
	if got := r.SuggestedFilename(); got != "My Report.csv" {
		t.Errorf("suggested %q", got)
	}
	if got := r.CompleteFilename(); got != "my_file.csv" {
		t.Errorf("complete %q", got)
	}
	r.FormParams["filename"] = "report.csv"
	if got := r.CompleteFilename(); got != "report.csv" {
		t.Errorf("complete with ext %q", got)
	}
	r.FormParams["filename"] = "report.xlsx"
	if got := r.CompleteFilename(); got != "My Report.csv" {
		t.Errorf("complete with other ext %q", got)
	}
}

func TestReportSummary(t *testing.T) {
	r := sdk.NewReport()
	r.AddRead(100000)
	r.AddDelivered(99997)
	r.Reject(17, "invalid email")
	r.Reject(18, "invalid email")
	r.Reject(99, "too large")
	r.AddRetries(2)
	if r.Success() {
		t.Error("rejections must fail")
	}
	want := "Delivered 99,997 of 100,000 rows; 3 rejected: row 17: invalid email (x2); row 99: too large; 2 retries."
	if got := r.Summary(); got != want {
		t.Errorf("summary\n got %s\nwant %s", got, want)
	}
	ok := sdk.NewReport()
	ok.AddRead(2)
	ok.AddDelivered(2)
	if !ok.Success() || ok.Summary() != "Delivered 2 of 2 rows." {
		t.Errorf("ok: %v %s", ok.Success(), ok.Summary())
	}
	cut := sdk.NewReport()
	cut.AddRead(10)
	cut.AddDelivered(5)
	cut.Fatal("the download from Looker failed after 900 bytes")
	if cut.Success() || !strings.Contains(cut.Summary(), "5 not sent") {
		t.Errorf("cut: %s", cut.Summary())
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{}`, `{"type":"query","data":{"a":"b"},"form_params":{"x":1}}`, `{"type":null}`,
		`{"attachment":{"mimetype":"image/png;base64","data":"iVBORw0KGgo="}}`, `{"scheduled_plan":{"download_url":"http://x"}}`, `[`, `{"type":5}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := sdk.DecodeRequest(b)
		if err == nil && (r.Params == nil || r.FormParams == nil) {
			t.Fatal("nil maps")
		}
	})
}

func TestStatusName(t *testing.T) {
	for code, want := range map[int]string{400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
		404: "NOT_FOUND", 408: "REQUEST_TIMEOUT", 409: "ALREADY_EXISTS", 413: "PAYLOAD_TOO_LARGE", 429: "RESOURCE_EXHAUSTED",
		500: "INTERNAL", 502: "BAD_GATEWAY", 503: "UNAVAILABLE", 504: "GATEWAY_TIMEOUT", 507: "INTERNAL", 0: "INTERNAL"} {
		if got := sdk.StatusName(code); got != want {
			t.Errorf("StatusName(%d) = %s, want %s", code, got, want)
		}
	}
}

func TestFileWritten(t *testing.T) {
	r := sdk.NewReport()
	r.Unit = "files"
	r.AddRead(1)
	resp := sdk.FileWritten(r, "s3://b/k.csv", 1234567)
	if !resp.Success || resp.Message != "Delivered 1 of 1 files: wrote s3://b/k.csv (1,234,567 bytes)." || r.Snapshot().Bytes != 1234567 {
		t.Errorf("%v %q", resp.Success, resp.Message)
	}
	req := &sdk.Request{FormParams: map[string]string{"format": "csv"}}
	if req.ContentType() != "text/csv" {
		t.Errorf("content type %q", req.ContentType())
	}
}
