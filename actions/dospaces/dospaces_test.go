package dospaces_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/actionhub/actionhub/actions/amazons3"
	"github.com/actionhub/actionhub/actions/dospaces"
	"github.com/actionhub/actionhub/internal/fakes/s3fake"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
)

const (
	accessKey = "DO00FAKEACCESSKEY"
	secret    = "fakeSpacesSecret/0123456789abcdefghij"
)

func params(region string) map[string]any {
	return map[string]any{"access_key_id": accessKey, "secret_access_key": secret, "region": region}
}

func newHub(t *testing.T, fake *s3fake.Server) *hubtest.Hub {
	return hubtest.New(t, hubtest.Options{
		Env:     map[string]string{"ACTION_HUB_VENDOR_URL_DIGITALOCEAN_SPACES": fake.URL},
		Actions: []sdk.Module{dospaces.Module},
	})
}

func TestDefinition(t *testing.T) {
	a, err := dospaces.Module.New(&sdk.Env{})
	if err != nil {
		t.Fatal(err)
	}
	d := a.Definition()
	if d.Name != "digitalocean_object_storage" || d.Label != "DigitalOcean Spaces" ||
		d.Description != "Write data files to DigitalOcean's Spaces storage." || !d.Streaming {
		t.Errorf("definition = %+v", d)
	}
	want := map[string][2]bool{"access_key_id": {true, false}, "secret_access_key": {true, true}, "region": {true, false}}
	if len(d.Params) != 3 {
		t.Fatalf("params = %+v", d.Params)
	}
	for _, p := range d.Params {
		if w, ok := want[p.Name]; !ok || p.Required != w[0] || p.Sensitive != w[1] {
			t.Errorf("param %+v", p)
		}
	}
	if d.Params[0].Label != "Spaces Access Key" || d.Params[1].Label != "Spaces Secret Key" {
		t.Errorf("labels = %q %q", d.Params[0].Label, d.Params[1].Label)
	}
	if d.Icon == amazons3.Icon || !strings.HasPrefix(d.Icon, "data:image/svg+xml;base64,") {
		t.Errorf("icon should be the Spaces one")
	}
}

func TestFormSpaceName(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"A", "B"}})
	form := newHub(t, fake).Form(t, dospaces.Name, map[string]any{"data": params("nyc3")})
	if form.Error != "" || len(form.Fields) != 3 {
		t.Fatalf("form = %s", form.Body)
	}
	f := form.Fields[0]
	if f.Name != "bucket" || f.Label != "Space Name" || f.Default != "A" || len(f.Options) != 2 || f.Options[1].Label != "B" {
		t.Errorf("bucket field = %+v", f)
	}
}

func TestFormNoSpaces(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{})
	form := newHub(t, fake).Form(t, dospaces.Name, map[string]any{"data": params("nyc3")})
	if form.Error != dospaces.Spaces.NoBuckets {
		t.Fatalf("form = %s", form.Body)
	}
}

// recorder answers every vendor call with an empty ListBuckets and records the URLs.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	body := `<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Buckets><Bucket><Name>space-one</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/xml"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// TestRegionEndpoint: without an override the region's Spaces endpoint is called.
func TestRegionEndpoint(t *testing.T) {
	rec := &recorder{}
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{dospaces.Module}, HTTPClient: &http.Client{Transport: rec}})
	form := h.Form(t, dospaces.Name, map[string]any{"data": params("SFO3")})
	if form.Error != "" || len(form.Fields) == 0 || form.Fields[0].Default != "space-one" {
		t.Fatalf("form = %s", form.Body)
	}
	if len(rec.urls) != 1 || !strings.HasPrefix(rec.urls[0], "https://sfo3.digitaloceanspaces.com/") {
		t.Errorf("urls = %q", rec.urls)
	}
	form = h.Form(t, dospaces.Name, map[string]any{"data": params("evil.example.com/#")})
	if !strings.Contains(form.Error, "is not a region name") || len(rec.urls) != 1 {
		t.Errorf("a region that is not a host label must be refused: %s (urls %q)", form.Body, rec.urls)
	}
}

func TestExecuteNeedsSpace(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"A"}})
	res := newHub(t, fake).Execute(t, dospaces.Name, map[string]any{"type": "query", "data": params("nyc3"),
		"attachment": map[string]any{"mimetype": "text/csv", "data": "1,2,3,4"}})
	if res.Status != http.StatusNotFound || !strings.Contains(string(res.Body), "Need a DigitalOcean Space.") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
}

func TestExecuteUploads(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"mybucket"}})
	h := newHub(t, fake)
	res := h.Execute(t, dospaces.Name, map[string]any{"type": "query", "data": params("nyc3"),
		"form_params": map[string]any{"bucket": "mybucket", "filename": "mywackyfilename", "path": "looker"},
		"attachment":  map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "1,2,3,4"}})
	if !res.Looker.Success || !strings.Contains(res.Looker.Message, "s3://mybucket/looker/mywackyfilename (7 bytes)") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if got, err := fake.Object("mybucket", "looker/mywackyfilename"); err != nil || string(got) != "1,2,3,4" {
		t.Fatalf("object = %q, %v", got, err)
	}
	regs := fake.Regions()
	if len(regs) == 0 || regs[len(regs)-1] != "nyc3" {
		t.Errorf("signing regions = %q", regs)
	}
	if fake.Count("HeadBucket") != 0 {
		t.Errorf("Spaces needs no region lookup")
	}
}

func TestExecuteDownloadCut(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{Buckets: []string{"mybucket"}})
	h := newHub(t, fake)
	dl := h.DownloadFunc(t, func(w io.Writer) error {
		w.Write(make([]byte, amazons3.PartSize+1000))
		return errors.New("cut")
	})
	res := h.Execute(t, dospaces.Name, map[string]any{"type": "query", "data": params("nyc3"),
		"form_params":    map[string]any{"bucket": "mybucket", "filename": "cut"},
		"scheduled_plan": map[string]any{"download_url": dl}})
	if res.Looker.Success || !strings.Contains(res.Looker.Message, "the upload was aborted and nothing was written") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if keys, _ := fake.Keys("mybucket"); len(keys) != 0 {
		t.Errorf("objects left: %q", keys)
	}
	if open, _ := fake.OpenUploads("mybucket"); len(open) != 0 || fake.Count("AbortMultipartUpload") != 1 {
		t.Errorf("open uploads %q, aborts %d", open, fake.Count("AbortMultipartUpload"))
	}
}

func TestBadCredentials(t *testing.T) {
	fake := s3fake.New(t, s3fake.Options{AccessKey: "DO00OTHER", Buckets: []string{"mybucket"}})
	h := newHub(t, fake)
	form := h.Form(t, dospaces.Name, map[string]any{"data": params("nyc3")})
	if !strings.Contains(form.Error, "DigitalOcean Spaces refused the credentials (InvalidAccessKeyId) when trying to list the Spaces") ||
		strings.Contains(string(form.Body), secret) {
		t.Fatalf("form = %s", form.Body)
	}
}
