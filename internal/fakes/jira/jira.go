// Package jirafake is an in-process fake of the parts of the Jira REST API v2 the
// jira_create_issue action uses (https://developer.atlassian.com/cloud/jira/platform/rest/v2/):
// GET /rest/api/2/project, GET /rest/api/2/issuetype, POST /rest/api/2/issue and
// POST /rest/api/2/issue/{key}/attachments.
//
// It checks authentication as Jira Cloud (HTTP Basic, account email : API token) and Jira
// Data Center (Authorization: Bearer <personal access token>) do, answering 401 otherwise;
// the create payload (a known project id and issue type id, a summary); and on attachment
// uploads the X-Atlassian-Token: no-check header (403 "XSRF check failed" without it) and
// a multipart/form-data body with a "file" part. It records issues and attachments, and
// whether each upload came with a Content-Length or streamed (chunked). Faults from the
// embedded injector apply to the create and upload requests.
package jirafake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// Project is a Jira project.
type Project struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
}

// IssueType is a Jira issue type.
type IssueType struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Options configure a Server.
type Options struct {
	// Email and APIToken are the accepted Basic credentials (Jira Cloud); PAT the accepted
	// Bearer token (Data Center). At least one pair is required.
	Email, APIToken, PAT string
	Projects             []Project
	IssueTypes           []IssueType
	// FailLists makes the project and issue type lists answer 500 with this message.
	FailLists string
}

// Issue is a created issue.
type Issue struct {
	Key, ProjectID, IssueTypeID, Summary, Description string
}

// Attachment is an uploaded attachment.
type Attachment struct {
	IssueKey, Filename, ContentType string
	Data                            []byte
	// Chunked is true when the upload came without a Content-Length (streamed).
	Chunked bool
}

// Server is a running fake.
type Server struct {
	// URL is the Jira address to put in the action's "address" param.
	URL string
	// Faults are injected into create and upload requests.
	Faults faults.Injector

	opts Options
	srv  *httptest.Server

	mu          sync.Mutex
	issues      []Issue
	attachments []Attachment
	auths       []string
}

// New starts a fake, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.PAT == "" && (opts.Email == "" || opts.APIToken == "") {
		t.Fatal("jirafake: credentials required")
	}
	s := &Server{opts: opts}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Issues returns the created issues.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Issue(nil), s.issues...)
}

// Attachments returns the uploaded attachments.
func (s *Server) Attachments() []Attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attachment(nil), s.attachments...)
}

// AuthSchemes returns the auth scheme ("Basic" or "Bearer") of every authenticated request.
func (s *Server) AuthSchemes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func jiraErr(w http.ResponseWriter, status int, msgs []string, fields map[string]string) {
	if msgs == nil {
		msgs = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	writeJSON(w, status, map[string]any{"errorMessages": msgs, "errors": fields})
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if s.opts.PAT != "" && h == "Bearer "+s.opts.PAT {
		s.mu.Lock()
		s.auths = append(s.auths, "Bearer")
		s.mu.Unlock()
		return true
	}
	if u, p, ok := r.BasicAuth(); ok && s.opts.Email != "" && u == s.opts.Email && p == s.opts.APIToken {
		s.mu.Lock()
		s.auths = append(s.auths, "Basic")
		s.mu.Unlock()
		return true
	}
	return false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		jiraErr(w, http.StatusUnauthorized, []string{"You are not authenticated. Authentication required to perform this operation."}, nil)
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/rest/api/2/project":
		if s.opts.FailLists != "" {
			jiraErr(w, 500, []string{s.opts.FailLists}, nil)
			return
		}
		writeJSON(w, 200, s.opts.Projects)
	case r.Method == http.MethodGet && p == "/rest/api/2/issuetype":
		if s.opts.FailLists != "" {
			jiraErr(w, 500, []string{s.opts.FailLists}, nil)
			return
		}
		writeJSON(w, 200, s.opts.IssueTypes)
	case r.Method == http.MethodPost && p == "/rest/api/2/issue":
		s.createIssue(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/rest/api/2/issue/") && strings.HasSuffix(p, "/attachments"):
		s.attach(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/rest/api/2/issue/"), "/attachments"))
	default:
		jiraErr(w, 404, []string{"Not found: " + r.Method + " " + p}, nil)
	}
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request) (faults.Kind, bool) {
	k := s.Faults.Next()
	return k, s.Faults.Before(w, r, k, func(status int) {
		jiraErr(w, status, []string{http.StatusText(status)}, nil)
	})
}

func (s *Server) createIssue(w http.ResponseWriter, r *http.Request) {
	k, done := s.fault(w, r)
	if done {
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		jiraErr(w, 415, []string{"Unsupported Media Type"}, nil)
		return
	}
	var body struct {
		Fields struct {
			Project     struct{ ID string } `json:"project"`
			Summary     string              `json:"summary"`
			Description string              `json:"description"`
			IssueType   struct{ ID string } `json:"issuetype"`
		} `json:"fields"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		jiraErr(w, 400, []string{"Unexpected character in JSON"}, nil)
		return
	}
	f := body.Fields
	errs := map[string]string{}
	var proj *Project
	for i := range s.opts.Projects {
		if s.opts.Projects[i].ID == f.Project.ID {
			proj = &s.opts.Projects[i]
		}
	}
	if proj == nil {
		errs["project"] = "valid project is required"
	}
	found := false
	for _, it := range s.opts.IssueTypes {
		found = found || it.ID == f.IssueType.ID
	}
	if !found {
		errs["issuetype"] = "valid issue type is required"
	}
	if strings.TrimSpace(f.Summary) == "" {
		errs["summary"] = "You must specify a summary of the issue."
	}
	if len(errs) > 0 {
		jiraErr(w, 400, nil, errs)
		return
	}
	s.mu.Lock()
	key := fmt.Sprintf("%s-%d", proj.Key, len(s.issues)+1)
	s.issues = append(s.issues, Issue{Key: key, ProjectID: f.Project.ID, IssueTypeID: f.IssueType.ID,
		Summary: f.Summary, Description: f.Description})
	n := len(s.issues)
	s.mu.Unlock()
	if s.Faults.After(w, r, k) {
		return
	}
	writeJSON(w, 201, map[string]string{"id": fmt.Sprint(10000 + n), "key": key,
		"self": "http://" + r.Host + "/rest/api/2/issue/" + fmt.Sprint(10000+n)})
}

func (s *Server) attach(w http.ResponseWriter, r *http.Request, key string) {
	k, done := s.fault(w, r)
	if done {
		return
	}
	if r.Header.Get("X-Atlassian-Token") != "no-check" {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "XSRF check failed")
		return
	}
	s.mu.Lock()
	exists := false
	for _, is := range s.issues {
		exists = exists || is.Key == key
	}
	s.mu.Unlock()
	if !exists {
		jiraErr(w, 404, []string{"Issue does not exist or you do not have permission to see it."}, nil)
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		jiraErr(w, 415, []string{"Unsupported Media Type"}, nil)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var got []Attachment
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			jiraErr(w, 400, []string{"bad multipart body: " + err.Error()}, nil)
			return
		}
		if part.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			jiraErr(w, 400, []string{"bad multipart body: " + err.Error()}, nil)
			return
		}
		got = append(got, Attachment{IssueKey: key, Filename: part.FileName(),
			ContentType: part.Header.Get("Content-Type"), Data: data, Chunked: r.ContentLength < 0})
	}
	if len(got) == 0 {
		jiraErr(w, 400, []string{"no file part"}, nil)
		return
	}
	s.mu.Lock()
	s.attachments = append(s.attachments, got...)
	s.mu.Unlock()
	if s.Faults.After(w, r, k) {
		return
	}
	var out []map[string]any
	for i, a := range got {
		out = append(out, map[string]any{"id": fmt.Sprint(20000 + i), "filename": a.Filename, "size": len(a.Data)})
	}
	writeJSON(w, 200, out)
}
