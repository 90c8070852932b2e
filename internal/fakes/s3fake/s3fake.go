// Package s3fake runs an in-process S3 server for tests: github.com/johannesboyne/gofakes3
// (path-style addressing) behind a middleware that checks the access key of each signed
// request, counts the operations, injects faults (5xx on upload parts), and answers
// HeadBucket for buckets placed in another region the way Amazon S3 does (301 with
// x-amz-bucket-region). Clients talk to it through the real AWS SDK.
package s3fake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Options configure a fake.
type Options struct {
	// AccessKey, when set, is the only access key id accepted: requests signed with
	// another get 403 InvalidAccessKeyId, as Amazon S3 answers. The signature itself is
	// not verified.
	AccessKey string
	// Buckets are created at start.
	Buckets []string
	// Discard stores only object sizes (see Discard), for benchmarks.
	Discard bool
}

// Server is a running fake.
type Server struct {
	// URL is the endpoint (ACTION_HUB_VENDOR_URL_S3).
	URL string
	// Mem is the in-memory backend (nil with Options.Discard).
	Mem *s3mem.Backend
	// Discarder is the discarding backend (nil without Options.Discard).
	Discarder *Discard

	opt   Options
	fake  http.Handler
	mu    sync.Mutex
	ops   map[string]int
	fails map[string]int
	place map[string]string
	regs  []string
	types map[string]string
}

// New starts a fake that stops when the test ends.
func New(tb testing.TB, opt Options) *Server {
	tb.Helper()
	s := &Server{opt: opt, ops: map[string]int{}, fails: map[string]int{}, place: map[string]string{}, types: map[string]string{}}
	var backend gofakes3.Backend
	if opt.Discard {
		s.Discarder = NewDiscard()
		backend = s.Discarder
	} else {
		s.Mem = s3mem.New()
		backend = s.Mem
	}
	for _, b := range opt.Buckets {
		if err := backend.CreateBucket(b); err != nil {
			tb.Fatalf("s3fake: creating bucket %q: %v", b, err)
		}
	}
	s.fake = gofakes3.New(backend, gofakes3.WithoutVersioning()).Server()
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

var credRe = regexp.MustCompile(`Credential=([^/]+)/[0-9]{8}/([^/]+)/`)

// Op names the S3 operation of a path-style request.
func Op(r *http.Request) string {
	q := r.URL.Query()
	path := strings.Trim(r.URL.Path, "/")
	hasKey := strings.Contains(path, "/")
	_, uploads := q["uploads"]
	switch {
	case path == "" && r.Method == http.MethodGet:
		return "ListBuckets"
	case !hasKey && r.Method == http.MethodHead:
		return "HeadBucket"
	case !hasKey && r.Method == http.MethodGet && uploads:
		return "ListMultipartUploads"
	case !hasKey && r.Method == http.MethodGet:
		return "ListObjects"
	case hasKey && r.Method == http.MethodPost && uploads:
		return "CreateMultipartUpload"
	case hasKey && r.Method == http.MethodPut && q.Get("partNumber") != "":
		return "UploadPart"
	case hasKey && r.Method == http.MethodPost && q.Get("uploadId") != "":
		return "CompleteMultipartUpload"
	case hasKey && r.Method == http.MethodDelete && q.Get("uploadId") != "":
		return "AbortMultipartUpload"
	case hasKey && r.Method == http.MethodPut:
		return "PutObject"
	case hasKey && r.Method == http.MethodGet:
		return "GetObject"
	case hasKey && r.Method == http.MethodHead:
		return "HeadObject"
	}
	return r.Method
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op := Op(r)
	m := credRe.FindStringSubmatch(r.Header.Get("Authorization"))
	s.mu.Lock()
	s.ops[op]++
	if m != nil {
		s.regs = append(s.regs, m[2])
	}
	fail := s.fails[op] > 0
	if fail {
		s.fails[op]--
	}
	bucket, _, _ := strings.Cut(strings.Trim(r.URL.Path, "/"), "/")
	placed, isPlaced := s.place[bucket]
	if op == "PutObject" || op == "CreateMultipartUpload" {
		s.types[strings.Trim(r.URL.Path, "/")] = r.Header.Get("Content-Type")
	}
	s.mu.Unlock()

	if s.opt.AccessKey != "" && (m == nil || m[1] != s.opt.AccessKey) {
		writeError(w, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		return
	}
	if isPlaced && m != nil && m[2] != placed {
		// Amazon S3 answers a request sent to another region with a redirect that names
		// the bucket's region (HEAD answers carry no body).
		w.Header().Set("X-Amz-Bucket-Region", placed)
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		writeError(w, http.StatusMovedPermanently, "PermanentRedirect",
			"The bucket you are attempting to access must be addressed using the specified endpoint.")
		return
	}
	if isPlaced && op == "HeadBucket" {
		w.Header().Set("X-Amz-Bucket-Region", placed)
	}
	if fail {
		// Drain the body as a real server would before answering.
		io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	s.fake.ServeHTTP(w, r)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>fake</RequestId></Error>`, code, msg)
}

// Count returns how many requests of an operation ("UploadPart", "AbortMultipartUpload",
// see Op) the fake received.
func (s *Server) Count(op string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.ops[op] }

// Fail makes the next n requests of an operation answer 500 InternalError.
func (s *Server) Fail(op string, n int) { s.mu.Lock(); s.fails[op] += n; s.mu.Unlock() }

// PlaceBucket puts a bucket in a region: requests signed for another region get Amazon
// S3's 301 redirect naming it.
func (s *Server) PlaceBucket(bucket, region string) {
	s.mu.Lock()
	s.place[bucket] = region
	s.mu.Unlock()
}

// Regions returns the signing region of every signed request, in order.
func (s *Server) Regions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.regs...)
}

// ContentType returns the Content-Type the client sent when it created bucket/key.
func (s *Server) ContentType(bucket, key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.types[bucket+"/"+key]
}

// Object returns an object's content (the in-memory backend only).
func (s *Server) Object(bucket, key string) ([]byte, error) {
	if s.Mem == nil {
		return nil, fmt.Errorf("s3fake: Object needs the in-memory backend")
	}
	obj, err := s.Mem.GetObject(bucket, key, nil)
	if err != nil {
		return nil, err
	}
	defer obj.Contents.Close()
	return io.ReadAll(obj.Contents)
}

// Keys lists a bucket's object keys.
func (s *Server) Keys(bucket string) ([]string, error) {
	var list *gofakes3.ObjectList
	var err error
	if s.Mem != nil {
		list, err = s.Mem.ListBucket(bucket, nil, gofakes3.ListBucketPage{})
	} else {
		list, err = s.Discarder.ListBucket(bucket, nil, gofakes3.ListBucketPage{})
	}
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(list.Contents))
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys, nil
}

// OpenUploads returns the keys of a bucket's multipart uploads that were neither
// completed nor aborted, as ListMultipartUploads reports them.
func (s *Server) OpenUploads(bucket string) ([]string, error) {
	rec := httptest.NewRecorder()
	s.fake.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+bucket+"?uploads", nil))
	if rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), "NoSuchUpload") {
		// gofakes3 answers so for a bucket that never had an upload.
		return nil, nil
	}
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("s3fake: ListMultipartUploads: %d %s", rec.Code, rec.Body)
	}
	var res struct {
		Uploads []struct {
			Key string `xml:"Key"`
		} `xml:"Upload"`
	}
	if err := xml.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&res); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(res.Uploads))
	for _, u := range res.Uploads {
		keys = append(keys, u.Key)
	}
	return keys, nil
}
