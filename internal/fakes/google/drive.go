package googlefake

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// SpreadsheetMimeType is the type that makes Drive convert an upload into a Sheet.
const SpreadsheetMimeType = "application/vnd.google-apps.spreadsheet"

func (s *Server) listDrives(w http.ResponseWriter, r *http.Request) {
	call := Call{Kind: "drives.list", Method: r.Method, URL: r.URL.String(), Auth: r.Header.Get("Authorization")}
	if st := s.fault(call.Kind); st != 0 {
		call.Status = st
		s.record(call)
		(&gErr{st, "Backend Error", "backendError"}).write(w)
		return
	}
	if _, err := s.authorize(r); err != nil {
		call.Status = err.code
		s.record(call)
		err.write(w)
		return
	}
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("pageSize"))
	if size <= 0 || size > 100 {
		size = 10
	}
	off, _ := strconv.Atoi(q.Get("pageToken"))
	s.mu.Lock()
	end := min(off+size, len(s.drives))
	page := []map[string]string{}
	for _, d := range s.drives[min(off, end):end] {
		page = append(page, map[string]string{"id": d.ID, "name": d.Name, "kind": "drive#drive"})
	}
	more := end < len(s.drives)
	s.mu.Unlock()
	out := map[string]any{"drives": page}
	if more {
		out["nextPageToken"] = strconv.Itoa(end)
	}
	call.Status = 200
	s.record(call)
	writeJSON(w, 200, out)
}

// term is one condition of a Drive query.
type term struct {
	field, op, value string
}

// parseQuery reads the subset of the Drive query language the actions use: conditions
// `field = 'v'`, `field != 'v'`, `field = true|false` and `'v' in parents`, joined by
// "and". String literals escape ' and \ with a backslash; anything else is an error, as
// Google answers "Invalid Value" to a malformed q.
func parseQuery(q string) ([]term, error) {
	var terms []term
	rest := strings.TrimSpace(q)
	for rest != "" {
		var t term
		if strings.HasPrefix(rest, "'") {
			v, after, err := literal(rest)
			if err != nil {
				return nil, err
			}
			after = strings.TrimSpace(after)
			if !strings.HasPrefix(after, "in parents") {
				return nil, errors.New("expected 'in parents'")
			}
			t = term{field: "parents", op: "in", value: v}
			rest = strings.TrimSpace(after[len("in parents"):])
		} else {
			i := strings.IndexAny(rest, " !=")
			if i <= 0 {
				return nil, errors.New("expected a field")
			}
			t.field = rest[:i]
			rest = strings.TrimSpace(rest[i:])
			switch {
			case strings.HasPrefix(rest, "!="):
				t.op, rest = "!=", strings.TrimSpace(rest[2:])
			case strings.HasPrefix(rest, "="):
				t.op, rest = "=", strings.TrimSpace(rest[1:])
			default:
				return nil, errors.New("expected an operator")
			}
			if strings.HasPrefix(rest, "'") {
				v, after, err := literal(rest)
				if err != nil {
					return nil, err
				}
				t.value, rest = v, strings.TrimSpace(after)
			} else {
				j := strings.IndexByte(rest, ' ')
				if j < 0 {
					j = len(rest)
				}
				t.value, rest = rest[:j], strings.TrimSpace(rest[j:])
				if t.value != "true" && t.value != "false" {
					return nil, errors.New("expected a literal")
				}
			}
		}
		terms = append(terms, t)
		if rest == "" {
			break
		}
		if !strings.HasPrefix(rest, "and ") {
			return nil, fmt.Errorf("unexpected %q", rest)
		}
		rest = strings.TrimSpace(rest[4:])
	}
	return terms, nil
}

func literal(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '\'' && s[i+1] != '\\') {
				return "", "", errors.New("bad escape")
			}
			b.WriteByte(s[i+1])
			i++
		case '\'':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", errors.New("unterminated string")
}

func (f *File) matches(terms []term) bool {
	for _, t := range terms {
		var ok bool
		switch t.field {
		case "parents":
			for _, p := range f.Parents {
				ok = ok || p == t.value
			}
		case "name":
			ok = f.Name == t.value
		case "mimeType":
			ok = f.MimeType == t.value
		case "trashed":
			ok = strconv.FormatBool(f.Trashed) == t.value
		}
		if t.op == "!=" {
			ok = !ok
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) {
	call := Call{Kind: "files.list", Method: r.Method, URL: r.URL.String(), Auth: r.Header.Get("Authorization")}
	fail := func(e *gErr) {
		call.Status = e.code
		s.record(call)
		e.write(w)
	}
	if st := s.fault(call.Kind); st != 0 {
		fail(&gErr{st, "Backend Error", "backendError"})
		return
	}
	if _, err := s.authorize(r); err != nil {
		fail(err)
		return
	}
	q := r.URL.Query()
	terms, err := parseQuery(q.Get("q"))
	if err != nil {
		fail(&gErr{400, "Invalid Value", "invalid"})
		return
	}
	driveID := ""
	switch q.Get("corpora") {
	case "", "user":
	case "drive":
		driveID = q.Get("driveId")
		if driveID == "" || q.Get("includeItemsFromAllDrives") != "true" || q.Get("supportsAllDrives") != "true" {
			fail(&gErr{400, "The driveId parameter must be specified if and only if corpora is set to drive.", "invalid"})
			return
		}
	default:
		fail(&gErr{400, "Invalid Value", "invalid"})
		return
	}
	size, _ := strconv.Atoi(q.Get("pageSize"))
	if size <= 0 || size > 1000 {
		size = 100
	}
	off, _ := strconv.Atoi(q.Get("pageToken"))
	s.mu.Lock()
	var hits []*File
	for i := len(s.order) - 1; i >= 0; i-- { // most recent first
		f := s.files[s.order[i]]
		if f != nil && f.DriveID == driveID && f.matches(terms) {
			hits = append(hits, f)
		}
	}
	s.mu.Unlock()
	end := min(off+size, len(hits))
	page := []map[string]any{}
	for _, f := range hits[min(off, end):end] {
		page = append(page, map[string]any{"id": f.ID, "name": f.Name, "parents": f.Parents, "mimeType": f.MimeType})
	}
	out := map[string]any{"files": page}
	if end < len(hits) {
		out["nextPageToken"] = strconv.Itoa(end)
	}
	call.Status = 200
	s.record(call)
	writeJSON(w, 200, out)
}

// session is a resumable upload in progress.
type session struct {
	meta      File
	mediaType string
	data      []byte
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind := "upload.chunk"
	switch {
	case r.Method == http.MethodPost:
		kind = "upload.start"
	case r.Method == http.MethodDelete:
		kind = "upload.cancel"
	}
	call := Call{Kind: kind, Method: r.Method, URL: r.URL.String(), Auth: r.Header.Get("Authorization"), Header: http.Header{}}
	for _, h := range []string{"Content-Range", "X-Upload-Content-Type", "Content-Type"} {
		if v := r.Header.Get(h); v != "" {
			call.Header.Set(h, v)
		}
	}
	body, _ := io.ReadAll(r.Body)
	call.Size = len(body)
	fail := func(e *gErr) {
		call.Status = e.code
		s.record(call)
		e.write(w)
	}
	if st := s.fault(kind); st != 0 {
		fail(&gErr{st, "Backend Error", "backendError"})
		return
	}
	if _, err := s.authorize(r); err != nil {
		fail(err)
		return
	}
	if r.Method == http.MethodPost {
		if q.Get("uploadType") != "resumable" {
			fail(&gErr{400, "uploadType must be resumable", "invalid"})
			return
		}
		var meta struct {
			Name     string   `json:"name"`
			MimeType string   `json:"mimeType"`
			Parents  []string `json:"parents"`
		}
		if err := json.Unmarshal(body, &meta); err != nil {
			fail(&gErr{400, "Invalid JSON payload", "parseError"})
			return
		}
		_ = json.Unmarshal(body, &call.Body)
		s.mu.Lock()
		driveID := ""
		for _, p := range meta.Parents {
			if p == "root" {
				continue
			}
			d := s.driveOf(p)
			if _, isFile := s.files[p]; !isFile && d == "" {
				s.mu.Unlock()
				fail(&gErr{404, "File not found: " + p + ".", "notFound"})
				return
			}
			if d != "" && q.Get("supportsAllDrives") != "true" {
				s.mu.Unlock()
				fail(&gErr{404, "File not found: " + p + ".", "notFound"})
				return
			}
			driveID = d
		}
		id := randID("up")
		s.sessions[id] = &session{meta: File{Name: meta.Name, MimeType: meta.MimeType, Parents: meta.Parents, DriveID: driveID},
			mediaType: r.Header.Get("X-Upload-Content-Type")}
		s.mu.Unlock()
		call.Status = 200
		s.record(call)
		w.Header().Set("Location", s.URL+"/upload/drive/v3/files?uploadType=resumable&upload_id="+id)
		w.WriteHeader(200)
		return
	}
	id := q.Get("upload_id")
	s.mu.Lock()
	sess, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok {
		fail(&gErr{404, "Upload session not found", "notFound"})
		return
	}
	if r.Method == http.MethodDelete {
		s.mu.Lock()
		delete(s.sessions, id)
		s.mu.Unlock()
		call.Status = 499
		s.record(call)
		w.WriteHeader(499)
		return
	}
	if r.Method != http.MethodPut {
		fail(&gErr{405, "method", "invalid"})
		return
	}
	start, end, total, err := parseContentRange(r.Header.Get("Content-Range"))
	if err != nil {
		fail(&gErr{400, "Failed to parse Content-Range header.", "invalid"})
		return
	}
	s.mu.Lock()
	have := int64(len(sess.data))
	s.mu.Unlock()
	if start >= 0 {
		if start != have {
			fail(&gErr{400, fmt.Sprintf("Invalid request. According to the Content-Range header, the upload offset is %d byte(s), which does not match the uploaded size of %d byte(s).", start, have), "invalid"})
			return
		}
		if int64(len(body)) != end-start+1 {
			fail(&gErr{400, "Content-Range does not match the body length", "invalid"})
			return
		}
		if total < 0 && len(body)%ChunkMultiple != 0 {
			fail(&gErr{400, "Invalid request. The number of bytes uploaded is required to be equal or greater than 262144, except for the final request (it's recommended to be the exact multiple of 262144).", "invalid"})
			return
		}
		s.mu.Lock()
		sess.data = append(sess.data, body...)
		have = int64(len(sess.data))
		s.mu.Unlock()
	} else if len(body) != 0 {
		fail(&gErr{400, "a status query has no body", "invalid"})
		return
	}
	if total >= 0 && have > total {
		fail(&gErr{400, "more bytes than the declared total", "invalid"})
		return
	}
	appended := start >= 0
	if total >= 0 && have == total {
		f := s.finish(id, sess)
		if st := s.lateFault(kind); appended && st != 0 {
			fail(&gErr{st, "Backend Error", "backendError"})
			return
		}
		call.Status = 200
		s.record(call)
		writeJSON(w, 200, map[string]any{"id": f.ID, "name": f.Name, "mimeType": f.MimeType,
			"webViewLink": "https://docs.google.com/fake/" + f.ID})
		return
	}
	if appended {
		if st := s.lateFault(kind); st != 0 {
			fail(&gErr{st, "Backend Error", "backendError"})
			return
		}
	}
	call.Status = 308
	s.record(call)
	if have > 0 {
		w.Header().Set("Range", "bytes=0-"+strconv.FormatInt(have-1, 10))
	}
	w.WriteHeader(308)
}

// parseContentRange reads "bytes a-b/N", "bytes a-b/*", "bytes */N" and "bytes */*";
// start is -1 for the status-query forms and total -1 when unknown.
func parseContentRange(h string) (start, end, total int64, err error) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, 0, 0, errors.New("no bytes unit")
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, errors.New("no total")
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return
		}
	}
	if rng == "*" {
		return -1, -1, total, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, errors.New("bad range")
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil {
		return
	}
	if end < start {
		err = errors.New("bad range")
	}
	return
}

// finish stores the uploaded file, converting CSV into a spreadsheet when asked.
func (s *Server) finish(id string, sess *session) *File {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, id)
	f := sess.meta
	f.ID = randID("file")
	if len(f.Parents) == 0 {
		f.Parents = []string{"root"}
	}
	f.Content = sess.data
	if f.MimeType == "" {
		f.MimeType = sess.mediaType
	}
	if f.MimeType == SpreadsheetMimeType && strings.HasPrefix(sess.mediaType, "text/csv") {
		cr := csv.NewReader(bytes.NewReader(sess.data))
		cr.FieldsPerRecord = -1
		rows, _ := cr.ReadAll()
		width := 1
		for _, row := range rows {
			width = max(width, len(row))
		}
		sh := &Sheet{ID: 0, Title: "Sheet1", Rows: max(len(rows), 1), Cols: width}
		for i, row := range rows {
			for j, v := range row {
				sh.set(i, j, v)
			}
		}
		s.sheets[f.ID] = &Spreadsheet{ID: f.ID, Sheets: []*Sheet{sh}}
	}
	s.addFile(&f)
	return &f
}
