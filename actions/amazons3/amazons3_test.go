package amazons3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/s3fake"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
)

func init() {
	// Retries in tests need no backoff.
	retryBackoff = zeroBackoff{}
}

type zeroBackoff struct{}

func (zeroBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

const (
	testAccessKey = "AKIAFAKEACCESSKEY123"
	testSecret    = "fake/secret+Key0123456789abcdefghijklmno"
)

func params(region string) map[string]any {
	return map[string]any{"access_key_id": testAccessKey, "secret_access_key": testSecret, "region": region}
}

func newHub(t *testing.T, fake *s3fake.Server) *hubtest.Hub {
	t.Helper()
	return hubtest.New(t, hubtest.Options{
		Env:     map[string]string{"ACTION_HUB_VENDOR_URL_S3": fake.URL},
		Actions: []sdk.Module{Module},
	})
}

// pattern is deterministic test content of n bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestDefinition(t *testing.T) {
	d := New(&sdk.Env{}, S3).Definition()
	if d.Name != "amazon_s3" || d.Label != "Amazon S3" || d.Description != "Write data files to an S3 bucket." {
		t.Errorf("identity = %q %q %q", d.Name, d.Label, d.Description)
	}
	if !d.Streaming || !d.SupportsType(sdk.TypeQuery) || !d.SupportsType(sdk.TypeDashboard) || d.SupportsType(sdk.TypeCell) {
		t.Errorf("streaming %v, types %v", d.Streaming, d.SupportedActionTypes)
	}
	want := []struct {
		name, label         string
		required, sensitive bool
	}{{"access_key_id", "Access Key", true, true}, {"secret_access_key", "Secret Key", true, true}, {"region", "Region", true, false}}
	if len(d.Params) != len(want) {
		t.Fatalf("params = %+v", d.Params)
	}
	for i, w := range want {
		p := d.Params[i]
		if p.Name != w.name || p.Label != w.label || p.Required != w.required || p.Sensitive != w.sensitive || p.Description == "" {
			t.Errorf("param %d = %+v, want %+v", i, p, w)
		}
	}
	if d.SupportedFormats != nil || d.FormatsFor != nil {
		t.Errorf("formats should be unset (all)")
	}
	if !strings.HasPrefix(d.Icon, "data:image/svg+xml;base64,") {
		t.Errorf("icon = %.40q", d.Icon)
	}
}

func TestObjectKey(t *testing.T) {
	for _, c := range []struct{ prefix, name, want string }{
		{"", "a.csv", "a.csv"},
		{"reports", "a.csv", "reports/a.csv"},
		{"/reports/daily/", "a.csv", "reports/daily/a.csv"},
		{" reports ", "/a.csv", "reports/a.csv"},
		{"a b/c", "x y.csv", "a b/c/x y.csv"},
	} {
		if got := ObjectKey(c.prefix, c.name); got != c.want {
			t.Errorf("ObjectKey(%q, %q) = %q, want %q", c.prefix, c.name, got, c.want)
		}
	}
}

func TestContentType(t *testing.T) {
	for _, c := range []struct {
		req  *sdk.Request
		want string
	}{
		{&sdk.Request{Attachment: &sdk.Attachment{MimeType: "image/png;base64", Extension: "png"}}, "image/png"},
		{&sdk.Request{FormParams: map[string]string{"format": "csv"}}, "text/csv"},
		{&sdk.Request{FormParams: map[string]string{"format": "json_detail"}}, "application/json"},
		{&sdk.Request{FormParams: map[string]string{"format": "wysiwyg_pdf"}}, "application/octet-stream"},
		{&sdk.Request{FormParams: map[string]string{}}, "application/octet-stream"},
	} {
		if got := c.req.ContentType(); got != c.want {
			t.Errorf("contentType(%+v) = %q, want %q", c.req.FormParams, got, c.want)
		}
	}
}

func TestFormListsBuckets(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha", "beta"}})
	h := newHub(t, fake)
	form := h.Form(t, Name, map[string]any{"data": params("us-east-1")})
	if form.Status != http.StatusOK || form.Error != "" {
		t.Fatalf("form = %d %s", form.Status, form.Body)
	}
	if len(form.Fields) != 3 {
		t.Fatalf("fields = %+v", form.Fields)
	}
	b := form.Fields[0]
	if b.Name != "bucket" || b.Label != "Bucket" || b.Type != sdk.FieldSelect || !b.Required || b.Default != "alpha" ||
		len(b.Options) != 2 || b.Options[0] != (sdk.Option{Name: "alpha", Label: "alpha"}) || b.Options[1].Name != "beta" {
		t.Errorf("bucket field = %+v", b)
	}
	if form.Fields[1].Name != "path" || form.Fields[1].Type != sdk.FieldString || form.Fields[2].Name != "filename" {
		t.Errorf("fields = %+v", form.Fields[1:])
	}
}

func TestFormWithoutBuckets(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{})
	h := newHub(t, fake)
	form := h.Form(t, Name, map[string]any{"data": params("us-east-1")})
	if form.Status != http.StatusOK || form.Error != S3.NoBuckets || len(form.Fields) != 0 {
		t.Fatalf("form = %d %s", form.Status, form.Body)
	}
}

func TestFormBadCredentials(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{AccessKey: "AKIAOTHERKEY", Buckets: []string{"alpha"}})
	h := newHub(t, fake)
	form := h.Form(t, Name, map[string]any{"data": params("us-east-1")})
	if form.Status != http.StatusOK || !strings.Contains(form.Error, "Amazon S3 refused the credentials (InvalidAccessKeyId)") ||
		!strings.Contains(form.Error, "check the Access Key and Secret Key settings") {
		t.Fatalf("form = %d %s", form.Status, form.Body)
	}
	if strings.Contains(string(form.Body), testSecret) || strings.Contains(string(form.Body), testAccessKey) {
		t.Errorf("form error leaks a key: %s", form.Body)
	}
}

func TestFormBadRegion(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
	h := newHub(t, fake)
	form := h.Form(t, Name, map[string]any{"data": params("evil.example.com/x")})
	if !strings.Contains(form.Error, "is not a region name") || fake.Count("ListBuckets") != 0 {
		t.Fatalf("form = %d %s", form.Status, form.Body)
	}
}

func TestExecuteNeedsBucket(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
	h := newHub(t, fake)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("us-east-1"),
		"attachment": map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "1,2,3,4"}})
	if res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), "Need Amazon S3 bucket.") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
}

func TestExecuteNeedsData(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
	h := newHub(t, fake)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("us-east-1"),
		"form_params": map[string]any{"bucket": "alpha"}})
	if res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), "must have a download url or an attachment") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
}

func TestExecuteAttachmentSuggestedFilename(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
	h := newHub(t, fake)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("us-east-1"),
		"form_params":    map[string]any{"bucket": "alpha"},
		"scheduled_plan": map[string]any{"title": "Daily Report"},
		"attachment":     map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "1,2,3,4"}})
	if !res.Looker.Success {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	got, err := fake.Object("alpha", "Daily Report.csv")
	if err != nil || string(got) != "1,2,3,4" {
		t.Fatalf("object = %q, %v", got, err)
	}
	if ct := fake.ContentType("alpha", "Daily Report.csv"); ct != "text/csv" {
		t.Errorf("content type = %q", ct)
	}
	if want := `Delivered 1 of 1 files: wrote s3://alpha/Daily Report.csv (7 bytes).`; res.Looker.Message != want {
		t.Errorf("message = %q, want %q", res.Looker.Message, want)
	}
}

func TestExecutePathAndFilename(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
	h := newHub(t, fake)
	res := h.Execute(t, Name, map[string]any{"type": "dashboard", "data": params("us-east-1"),
		"form_params": map[string]any{"bucket": "alpha", "path": "/reports/daily/", "filename": "mywackyfilename"},
		"attachment":  map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "1,2,3,4"}})
	if !res.Looker.Success {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	keys, _ := fake.Keys("alpha")
	if len(keys) != 1 || keys[0] != "reports/daily/mywackyfilename" {
		t.Fatalf("keys = %q", keys)
	}
}

// TestExecuteStreamsMultipart streams a download of three parts: the object is complete
// and was sent as a multipart upload.
func TestExecuteStreamsMultipart(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
	h := newHub(t, fake)
	data := pattern(2*PartSize + 12345)
	dl := h.Download(t, data)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("us-east-1"),
		"form_params":    map[string]any{"bucket": "alpha", "filename": "big.csv", "format": "csv"},
		"scheduled_plan": map[string]any{"download_url": dl, "title": "x"}})
	if !res.Looker.Success {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	got, err := fake.Object("alpha", "big.csv")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object: %d bytes (want %d), %v", len(got), len(data), err)
	}
	if fake.Count("CreateMultipartUpload") != 1 || fake.Count("UploadPart") != 3 || fake.Count("CompleteMultipartUpload") != 1 {
		t.Errorf("ops: create %d, parts %d, complete %d", fake.Count("CreateMultipartUpload"), fake.Count("UploadPart"), fake.Count("CompleteMultipartUpload"))
	}
	if ct := fake.ContentType("alpha", "big.csv"); ct != "text/csv" {
		t.Errorf("content type = %q", ct)
	}
	if !strings.Contains(res.Looker.Message, "(16,789,561 bytes)") {
		t.Errorf("message = %q", res.Looker.Message)
	}
}

// TestExecuteDownloadCut cuts the download after more than one part: the multipart upload
// is aborted, no object or open upload is left, and the answer says how many bytes came.
func TestExecuteDownloadCut(t *testing.T) {
	for _, c := range []struct {
		name  string
		sent  int
		multi bool
	}{{"multipart", PartSize + PartSize/2, true}, {"single part", 1000, false}} {
		t.Run(c.name, func(t *testing.T) {
			fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
			h := newHub(t, fake)
			dl := h.DownloadFunc(t, func(w io.Writer) error {
				if _, err := w.Write(pattern(c.sent)); err != nil {
					return err
				}
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
				return errors.New("cut")
			})
			res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("us-east-1"),
				"form_params":    map[string]any{"bucket": "alpha", "filename": "cut.csv"},
				"scheduled_plan": map[string]any{"download_url": dl}})
			if res.Status != http.StatusOK || res.Looker.Success {
				t.Fatalf("execute = %d %s", res.Status, res.Body)
			}
			want := fmt.Sprintf("the download from Looker failed after %d bytes", c.sent)
			if !strings.Contains(res.Looker.Message, want) || !strings.Contains(res.Looker.Message, "the upload was aborted and nothing was written to s3://alpha/cut.csv") {
				t.Errorf("message = %q, want it to contain %q", res.Looker.Message, want)
			}
			if keys, _ := fake.Keys("alpha"); len(keys) != 0 {
				t.Errorf("objects left: %q", keys)
			}
			if open, err := fake.OpenUploads("alpha"); err != nil || len(open) != 0 {
				t.Errorf("open uploads: %q, %v", open, err)
			}
			if c.multi && fake.Count("AbortMultipartUpload") != 1 {
				t.Errorf("aborts = %d", fake.Count("AbortMultipartUpload"))
			}
			if !c.multi && (fake.Count("CreateMultipartUpload") != 0 || fake.Count("PutObject") != 0) {
				t.Errorf("a cut single-part download should send nothing")
			}
		})
	}
}

// TestExecuteRetriesFailedPart fails one part with a 500: the SDK sends it again and the
// report counts the retry.
func TestExecuteRetriesFailedPart(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
	fake.Fail("UploadPart", 1)
	h := newHub(t, fake)
	data := pattern(PartSize + 10)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("us-east-1"),
		"form_params":    map[string]any{"bucket": "alpha", "filename": "r.bin"},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, data)}})
	if !res.Looker.Success || !strings.Contains(res.Looker.Message, "1 retries") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if got, err := fake.Object("alpha", "r.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object: %d bytes, %v", len(got), err)
	}
	if fake.Count("UploadPart") != 3 {
		t.Errorf("parts sent = %d, want 3 (2 parts, one retried)", fake.Count("UploadPart"))
	}
}

func TestExecuteBadCredentials(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{AccessKey: "AKIAOTHERKEY", Buckets: []string{"alpha"}})
	h := newHub(t, fake)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("us-east-1"),
		"form_params": map[string]any{"bucket": "alpha", "filename": "x.csv"},
		"attachment":  map[string]any{"mimetype": "text/csv", "data": "1,2"}})
	if res.Looker.Success || !strings.Contains(res.Looker.Message, "Amazon S3 refused the credentials (InvalidAccessKeyId) when trying to write s3://alpha/x.csv") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if strings.Contains(string(res.Body), testSecret) || strings.Contains(string(res.Body), testAccessKey) {
		t.Errorf("reply leaks a key: %s", res.Body)
	}
}

// TestExecuteBucketInOtherRegion: the bucket lives in eu-west-1 while the setting says
// us-east-1; the upload is signed for the bucket's region.
func TestExecuteBucketInOtherRegion(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"eu-bucket"}})
	fake.PlaceBucket("eu-bucket", "eu-west-1")
	h := newHub(t, fake)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params("US-EAST-1"),
		"form_params": map[string]any{"bucket": "eu-bucket", "filename": "x.csv"},
		"attachment":  map[string]any{"mimetype": "text/csv", "data": "1,2"}})
	if !res.Looker.Success {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	regs := fake.Regions()
	if len(regs) < 2 || regs[0] != "us-east-1" || regs[len(regs)-1] != "eu-west-1" {
		t.Errorf("signing regions = %q", regs)
	}
}

// TestExecuteCancelledAborts: when Looker goes away mid-upload (the request's context is
// cancelled), the upload manager cannot abort with that context; the action aborts the
// multipart upload itself so that no parts are left behind.
func TestExecuteCancelledAborts(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"alpha"}})
	release := make(chan struct{})
	defer close(release)
	dl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(pattern(PartSize + PartSize/2))
		w.(http.Flusher).Flush()
		select { // hold the download open until the test ends
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer dl.Close()
	env := &sdk.Env{Getenv: func(k string) string {
		if k == "ACTION_HUB_VENDOR_URL_S3" {
			return fake.URL
		}
		return ""
	}}
	req, err := sdk.DecodeRequest([]byte(fmt.Sprintf(`{"type":"query",
		"data":{"access_key_id":%q,"secret_access_key":%q,"region":"us-east-1"},
		"form_params":{"bucket":"alpha","filename":"gone.csv"},
		"scheduled_plan":{"download_url":%q}}`, testAccessKey, testSecret, dl.URL)))
	if err != nil {
		t.Fatal(err)
	}
	req.Env = env
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for fake.Count("UploadPart") == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	resp, err := New(env, S3).Execute(ctx, req)
	if err != nil || resp.Success {
		t.Fatalf("execute = %+v, %v", resp, err)
	}
	if open, err := fake.OpenUploads("alpha"); err != nil || len(open) != 0 {
		t.Errorf("open uploads after cancel: %q, %v", open, err)
	}
	if fake.Count("AbortMultipartUpload") == 0 {
		t.Errorf("no abort was sent")
	}
	if keys, _ := fake.Keys("alpha"); len(keys) != 0 {
		t.Errorf("objects: %q", keys)
	}
}
