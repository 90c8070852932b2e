package gcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/googleapis/gax-go/v2"

	"github.com/actionhub/actionhub/internal/fakes/gcsfake"
	"github.com/actionhub/actionhub/internal/hubtest"
	"github.com/actionhub/actionhub/sdk"
)

func init() {
	// Retries in tests need no real backoff.
	retryBackoff = &gax.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}
}

var (
	accountsOnce     sync.Once
	good, impostor   *gcsfake.ServiceAccount
	testProject      = "my-project"
	serviceAccountID = "looker@my-project.iam.gserviceaccount.com"
)

func accounts(t *testing.T) (*gcsfake.ServiceAccount, *gcsfake.ServiceAccount) {
	accountsOnce.Do(func() {
		good = gcsfake.NewServiceAccount(t, serviceAccountID)
		impostor = gcsfake.NewServiceAccount(t, serviceAccountID)
	})
	return good, impostor
}

// params are the admin settings for sa, with the key's newlines escaped as an admin
// pasting it from a JSON key file would leave them.
func params(sa *gcsfake.ServiceAccount) map[string]any {
	return map[string]any{"client_email": sa.Email, "private_key": strings.ReplaceAll(sa.PEM, "\n", `\n`), "project_id": testProject}
}

// newHub serves the action against fake; with auth the tokens come from the fake's token
// endpoint, without it the endpoint override alone makes the client unauthenticated.
func newHub(t *testing.T, fake *gcsfake.Server, auth bool, now time.Time) *hubtest.Hub {
	env := map[string]string{"ACTION_HUB_VENDOR_URL_GCS": fake.URL}
	if auth {
		env["ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH_TOKEN"] = fake.TokenURL
	}
	mod := sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
		a := New(env)
		if !now.IsZero() {
			a.now = func() time.Time { return now }
		}
		return a, nil
	}}
	return hubtest.New(t, hubtest.Options{Env: env, Actions: []sdk.Module{mod}})
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*13 + i/509)
	}
	return b
}

func TestDefinition(t *testing.T) {
	d := New(&sdk.Env{}).Definition()
	if d.Name != Name || d.Label != "Google Cloud Storage" || d.Description != "Write data files to a Google Cloud Storage bucket." ||
		!d.Streaming || !d.SupportsType(sdk.TypeDashboard) || !d.SupportsType(sdk.TypeQuery) || d.SupportsType(sdk.TypeCell) {
		t.Errorf("definition = %+v", d)
	}
	want := []struct {
		name, label string
		sensitive   bool
	}{{"client_email", "Client Email", false}, {"private_key", "Private Key", true}, {"project_id", "Project Id", false}}
	for i, w := range want {
		p := d.Params[i]
		if p.Name != w.name || p.Label != w.label || p.Sensitive != w.sensitive || !p.Required || p.Description == "" {
			t.Errorf("param %d = %+v", i, p)
		}
	}
}

func TestUniqueName(t *testing.T) {
	now := time.UnixMilli(1234)
	for in, want := range map[string]string{
		"mywackyfilename":          "mywackyfilename_1234",
		"mywackyfilename.csv":      "mywackyfilename_1234.csv",
		"mywackyfilename.carl.csv": "mywackyfilename.carl_1234.csv",
		"trailing.":                "trailing_1234.",
	} {
		if got := uniqueName(in, now); got != want {
			t.Errorf("uniqueName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormListsBuckets(t *testing.T) {
	sa, _ := accounts(t)
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha", "beta"}, Account: sa})
	form := newHub(t, fake, true, time.Time{}).Form(t, Name, map[string]any{"data": params(sa)})
	if form.Error != "" || len(form.Fields) != 3 {
		t.Fatalf("form = %d %s", form.Status, form.Body)
	}
	b := form.Fields[0]
	if b.Name != "bucket" || b.Type != sdk.FieldSelect || !b.Required || b.Default != "alpha" || len(b.Options) != 2 || b.Options[1] != (sdk.Option{Name: "beta", Label: "beta"}) {
		t.Errorf("bucket = %+v", b)
	}
	o := form.Fields[2]
	if form.Fields[1].Name != "filename" || o.Name != "overwrite" || o.Default != "yes" || len(o.Options) != 2 || o.Type != "" {
		t.Errorf("fields = %+v", form.Fields[1:])
	}
	var raw struct{ Fields []map[string]any }
	if err := json.Unmarshal(form.Body, &raw); err != nil || len(raw.Fields) != 3 {
		t.Fatalf("body = %s", form.Body)
	}
	if _, has := raw.Fields[2]["type"]; has || raw.Fields[2]["description"] == nil {
		t.Errorf("overwrite field = %v (the Node hub sets no type)", raw.Fields[2])
	}
	if fake.Count("token") != 1 {
		t.Errorf("token requests = %d", fake.Count("token"))
	}
}

func TestFormNoBuckets(t *testing.T) {
	fake := gcsfake.New(t, gcsfake.Options{})
	sa, _ := accounts(t)
	form := newHub(t, fake, false, time.Time{}).Form(t, Name, map[string]any{"data": params(sa)})
	if form.Error != "No buckets in account." {
		t.Fatalf("form = %s", form.Body)
	}
}

func TestFormBadKey(t *testing.T) {
	sa, other := accounts(t)
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}, Account: sa})
	h := newHub(t, fake, true, time.Time{})
	form := h.Form(t, Name, map[string]any{"data": params(other)})
	if !strings.HasPrefix(form.Error, "An error occurred while fetching the bucket list.\n\n      Your Google Cloud Storage credentials may be incorrect.\n\n      Google SDK Error: \"") ||
		!strings.Contains(form.Error, "Google refused the service account key (invalid_grant: Invalid JWT Signature.)") {
		t.Fatalf("form = %s", form.Body)
	}
	if bytes.Contains(form.Body, []byte("PRIVATE KEY")) || bytes.Contains(form.Body, []byte(other.PEM[40:80])) {
		t.Errorf("form leaks the key: %s", form.Body)
	}

	p := params(sa)
	p["private_key"] = "not a key"
	form = h.Form(t, Name, map[string]any{"data": p})
	if !strings.Contains(form.Error, "The Private Key setting is not a PEM private key") || fake.Count("token") != 1 {
		t.Fatalf("form = %s (token requests %d)", form.Body, fake.Count("token"))
	}
}

func TestExecuteNeedsBucket(t *testing.T) {
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}})
	sa, _ := accounts(t)
	res := newHub(t, fake, false, time.Time{}).Execute(t, Name, map[string]any{"type": "query", "data": params(sa),
		"attachment": map[string]any{"mimetype": "text/csv", "data": "1,2,3,4"}})
	want := "Server cannot process request due to client request error. [Google Cloud Storage] needs a GCS bucket specified."
	if res.Status != http.StatusOK || res.Looker.Success || res.Looker.Message != want || res.Looker.Error == nil ||
		res.Looker.Error.HTTPCode != 400 || res.Looker.Error.StatusCode != "BAD_REQUEST" || res.Looker.Error.Message != want ||
		res.Looker.WebhookID == "" {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
}

func TestExecuteAttachment(t *testing.T) {
	sa, _ := accounts(t)
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}, Account: sa})
	res := newHub(t, fake, true, time.Time{}).Execute(t, Name, map[string]any{"type": "query", "data": params(sa),
		"form_params":    map[string]any{"bucket": "alpha"},
		"scheduled_plan": map[string]any{"title": "Weekly"},
		"attachment":     map[string]any{"mimetype": "text/csv", "extension": "csv", "data": "1,2,3,4"}})
	if !res.Looker.Success || res.Looker.Message != "Delivered 1 of 1 files: wrote gs://alpha/Weekly.csv (7 bytes)." {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	got, ct, err := fake.Object("alpha", "Weekly.csv")
	if err != nil || string(got) != "1,2,3,4" || ct != "text/csv" {
		t.Fatalf("object = %q %q %v", got, ct, err)
	}
}

func TestExecuteOverwriteNo(t *testing.T) {
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}})
	sa, _ := accounts(t)
	h := newHub(t, fake, false, time.UnixMilli(1234))
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(sa),
		"form_params": map[string]any{"bucket": "alpha", "filename": "mywackyfilename.carl.csv", "overwrite": "no"},
		"attachment":  map[string]any{"mimetype": "text/csv", "data": "1"}})
	if !res.Looker.Success {
		t.Fatalf("execute = %s", res.Body)
	}
	if names, _ := fake.Names("alpha"); len(names) != 1 || names[0] != "mywackyfilename.carl_1234.csv" {
		t.Fatalf("names = %q", names)
	}
}

// TestExecuteStreamsResumable streams a download over two chunks of a resumable upload
// (the fake rereads the whole object for each chunk, so more would only slow the test);
// the content type comes from the format.
func TestExecuteStreamsResumable(t *testing.T) {
	sa, _ := accounts(t)
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}, Account: sa})
	h := newHub(t, fake, true, time.Time{})
	data := pattern(ChunkSize + 777)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(sa),
		"form_params":    map[string]any{"bucket": "alpha", "filename": "big.json", "format": "json_detail"},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, data)}})
	if !res.Looker.Success || !strings.Contains(res.Looker.Message, fmt.Sprintf("(%s bytes)", sdk.Thousands(int64(len(data))))) {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	got, ct, err := fake.Object("alpha", "big.json")
	if err != nil || !bytes.Equal(got, data) || ct != "application/json" {
		t.Fatalf("object: %d bytes (want %d), %q, %v", len(got), len(data), ct, err)
	}
	if fake.Count("InsertObject") != 1 || fake.Count("UploadChunk") != 2 {
		t.Errorf("insert %d, chunks %d", fake.Count("InsertObject"), fake.Count("UploadChunk"))
	}
}

// TestExecuteDownloadCut: the upload session is abandoned, no object is created, and the
// answer says how many bytes had arrived.
func TestExecuteDownloadCut(t *testing.T) {
	for _, sent := range []int{ChunkSize + ChunkSize/2, 500} {
		t.Run(fmt.Sprint(sent), func(t *testing.T) {
			fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}})
			sa, _ := accounts(t)
			h := newHub(t, fake, false, time.Time{})
			dl := h.DownloadFunc(t, func(w io.Writer) error {
				w.Write(pattern(sent))
				w.(http.Flusher).Flush()
				return errors.New("cut")
			})
			res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(sa),
				"form_params":    map[string]any{"bucket": "alpha", "filename": "cut.csv"},
				"scheduled_plan": map[string]any{"download_url": dl}})
			want := fmt.Sprintf("[Google Cloud Storage] the download from Looker failed after %d bytes", sent)
			if res.Looker.Success || !strings.Contains(res.Looker.Message, want) ||
				!strings.Contains(res.Looker.Message, "no object was created at gs://alpha/cut.csv") ||
				res.Looker.Error == nil || res.Looker.Error.HTTPCode != 500 || !strings.HasPrefix(res.Looker.Error.Message, "Internal server error. [Google Cloud Storage] ") {
				t.Fatalf("execute = %d %s", res.Status, res.Body)
			}
			// Give an abandoned request time to reach the fake, then check nothing was made.
			time.Sleep(50 * time.Millisecond)
			if names, _ := fake.Names("alpha"); len(names) != 0 {
				t.Errorf("objects left: %q", names)
			}
		})
	}
}

// TestExecuteRetriesChunk: a 503 on a chunk is retried by the client.
func TestExecuteRetriesChunk(t *testing.T) {
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}})
	fake.Fail("UploadChunk", 1)
	sa, _ := accounts(t)
	h := newHub(t, fake, false, time.Time{})
	data := pattern(ChunkSize + 10)
	res := h.Execute(t, Name, map[string]any{"type": "query", "data": params(sa),
		"form_params":    map[string]any{"bucket": "alpha", "filename": "r.bin"},
		"scheduled_plan": map[string]any{"download_url": h.Download(t, data)}})
	if !res.Looker.Success || !strings.Contains(res.Looker.Message, "1 retries") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if got, _, err := fake.Object("alpha", "r.bin"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object: %d bytes, %v", len(got), err)
	}
	if fake.Count("UploadChunk") != 3 {
		t.Errorf("chunks sent = %d, want 3 (2 chunks, one retried)", fake.Count("UploadChunk"))
	}
}

func TestExecuteBadCredentials(t *testing.T) {
	sa, other := accounts(t)
	fake := gcsfake.New(t, gcsfake.Options{Buckets: []string{"alpha"}, Account: sa})
	res := newHub(t, fake, true, time.Time{}).Execute(t, Name, map[string]any{"type": "query", "data": params(other),
		"form_params": map[string]any{"bucket": "alpha", "filename": "x.csv"},
		"attachment":  map[string]any{"mimetype": "text/csv", "data": "1,2"}})
	if res.Looker.Success || res.Looker.Error == nil || res.Looker.Error.HTTPCode != 401 ||
		!strings.Contains(res.Looker.Message, "Google refused the service account key (invalid_grant: Invalid JWT Signature.)") {
		t.Fatalf("execute = %d %s", res.Status, res.Body)
	}
	if bytes.Contains(res.Body, []byte("PRIVATE KEY")) || bytes.Contains(res.Body, []byte(other.PEM[40:80])) {
		t.Errorf("reply leaks the key: %s", res.Body)
	}
	if names, _ := fake.Names("alpha"); len(names) != 0 {
		t.Errorf("objects: %q", names)
	}
}

// realGoogle answers as Google's token and storage endpoints do, and records the calls.
type realGoogle struct {
	mu    sync.Mutex
	calls []string
	auth  []string
}

func (g *realGoogle) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	g.calls = append(g.calls, r.Method+" "+r.URL.Scheme+"://"+r.URL.Host+r.URL.Path)
	g.auth = append(g.auth, r.Header.Get("Authorization"))
	g.mu.Unlock()
	body := `{"kind":"storage#buckets","items":[{"kind":"storage#bucket","id":"prod-bucket","name":"prod-bucket"}]}`
	if r.URL.Host == "oauth2.googleapis.com" {
		body = `{"access_token":"ya29.real","token_type":"Bearer","expires_in":3599}`
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// TestRealEndpointsAuthenticate: without overrides the action signs a JWT for Google's
// token endpoint and sends its token to the real storage endpoint.
func TestRealEndpointsAuthenticate(t *testing.T) {
	sa, _ := accounts(t)
	g := &realGoogle{}
	h := hubtest.New(t, hubtest.Options{Actions: []sdk.Module{Module}, HTTPClient: &http.Client{Transport: g}})
	form := h.Form(t, Name, map[string]any{"data": params(sa)})
	if form.Error != "" || len(form.Fields) == 0 || form.Fields[0].Default != "prod-bucket" {
		t.Fatalf("form = %s", form.Body)
	}
	if len(g.calls) != 2 || g.calls[0] != "POST https://oauth2.googleapis.com/token" ||
		g.calls[1] != "GET https://storage.googleapis.com/storage/v1/b" || g.auth[1] != "Bearer ya29.real" {
		t.Errorf("calls = %q, auth = %q", g.calls, g.auth)
	}
}
