// Package kloudiofake is an in-process fake of the Kloudio services the kloudio action
// calls: the signed-URL service (GET <prefix><name>.json&apiKey=<key> → {"signedURL"}), the
// S3-style upload of the data to that signed URL (PUT, which like S3 needs a
// Content-Length: 411 without one), and the destination API (POST JSON
// {destination, apiKey, spreadsheetId, sheetId, s3Upload, data, reportName} →
// {"success","message"}). It checks the API key on both Kloudio calls and that the file
// named by the destination call was uploaded, and records uploads and calls. Faults from
// the embedded injector apply to the destination API.
package kloudiofake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// Options configure a Server.
type Options struct {
	// APIKey is the accepted Kloudio API key.
	APIKey string
}

// Call is one destination API call.
type Call struct {
	Destination, APIKey, SpreadsheetID, SheetID, Data, ReportName string
	S3Upload                                                      bool
}

// Server is a running fake.
type Server struct {
	// SignedURLPrefix is the KLOUDIO_SIGNED_URL value; APIURL the KLOUDIO_API_URL value.
	SignedURLPrefix, APIURL string
	// Faults are injected into destination API calls.
	Faults faults.Injector

	opts    Options
	srv     *httptest.Server
	mu      sync.Mutex
	uploads map[string][]byte
	calls   []Call
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, uploads: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.SignedURLPrefix = s.srv.URL + "/v1/tools/signed-url-put-object?key="
	s.APIURL = s.srv.URL + "/dest/send"
	t.Cleanup(s.srv.Close)
	return s
}

// Upload returns the uploaded file of that name.
func (s *Server) Upload(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.uploads[name]
	return b, ok
}

// Calls returns the destination API calls.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/tools/signed-url-put-object":
		if r.URL.Query().Get("apiKey") != s.opts.APIKey {
			writeJSON(w, 401, map[string]string{"error": "Invalid API key"})
			return
		}
		key := r.URL.Query().Get("key")
		if !strings.HasSuffix(key, ".json") || strings.Contains(key, "/") {
			writeJSON(w, 400, map[string]string{"error": "bad key"})
			return
		}
		writeJSON(w, 200, map[string]string{"signedURL": "http://" + r.Host + "/s3/" + key + "?X-Amz-Signature=fake"})
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/s3/"):
		if r.URL.Query().Get("X-Amz-Signature") != "fake" {
			w.WriteHeader(403)
			io.WriteString(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>")
			return
		}
		if r.ContentLength < 0 {
			w.WriteHeader(http.StatusLengthRequired)
			io.WriteString(w, "<Error><Code>MissingContentLength</Code></Error>")
			return
		}
		b, err := io.ReadAll(r.Body)
		var v [][]any
		if err != nil || json.Unmarshal(b, &v) != nil {
			w.WriteHeader(400)
			io.WriteString(w, "<Error><Code>BadBody</Code></Error>")
			return
		}
		s.mu.Lock()
		s.uploads[strings.TrimPrefix(r.URL.Path, "/s3/")] = b
		s.mu.Unlock()
		w.WriteHeader(200)
	case r.Method == http.MethodPost && r.URL.Path == "/dest/send":
		k := s.Faults.Next()
		if s.Faults.Before(w, r, k, func(status int) { writeJSON(w, status, map[string]any{"success": false, "message": "fault"}) }) {
			return
		}
		var c Call
		var raw struct {
			Destination   string `json:"destination"`
			APIKey        string `json:"apiKey"`
			SpreadsheetID string `json:"spreadsheetId"`
			SheetID       string `json:"sheetId"`
			S3Upload      bool   `json:"s3Upload"`
			Data          string `json:"data"`
			ReportName    string `json:"reportName"`
		}
		if json.NewDecoder(r.Body).Decode(&raw) != nil {
			writeJSON(w, 400, map[string]any{"success": false, "message": "bad JSON"})
			return
		}
		c = Call{Destination: raw.Destination, APIKey: raw.APIKey, SpreadsheetID: raw.SpreadsheetID,
			SheetID: raw.SheetID, S3Upload: raw.S3Upload, Data: raw.Data, ReportName: raw.ReportName}
		if c.APIKey != s.opts.APIKey {
			writeJSON(w, 401, map[string]any{"success": false, "message": "Invalid API key"})
			return
		}
		if _, ok := s.Upload(c.Data); !ok || !c.S3Upload {
			writeJSON(w, 200, map[string]any{"success": false, "message": "data file not found"})
			return
		}
		s.mu.Lock()
		s.calls = append(s.calls, c)
		s.mu.Unlock()
		if s.Faults.After(w, r, k) {
			return
		}
		writeJSON(w, 200, map[string]any{"success": true, "message": "Data uploaded to Google Sheets"})
	default:
		w.WriteHeader(404)
	}
}
