package googledrive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Drive API limits.
const (
	// ResumableChunkMultiple is the granularity of resumable-upload chunks: every chunk but
	// the last must be a multiple of 256 KiB.
	// https://developers.google.com/drive/api/guides/manage-uploads#resumable
	ResumableChunkMultiple = 256 << 10
	// DefaultChunkSize is the resumable-upload chunk (32 × 256 KiB); one chunk is held in memory.
	DefaultChunkSize = 32 * ResumableChunkMultiple
	// maxDrivesPageSize is drives.list's largest page.
	// https://developers.google.com/drive/api/reference/rest/v3/drives/list
	maxDrivesPageSize = 100
	// maxFilesPageSize is files.list's largest page.
	// https://developers.google.com/drive/api/reference/rest/v3/files/list
	maxFilesPageSize = 1000
	// MaxSharedDrives bounds the shared drives offered in the form.
	MaxSharedDrives = 1000
	// MaxFolderOptions bounds the folders offered in the form (the Node action had no bound).
	MaxFolderOptions = 5000
)

// FolderMimeType is the MIME type of Drive folders.
const FolderMimeType = "application/vnd.google-apps.folder"

// APIError is a non-2xx answer of a Google API, with the fields Google's error JSON carries.
// https://cloud.google.com/apis/design/errors#http_mapping
type APIError struct {
	Code int
	// Message is errors[0].message when present, else error.message.
	Message    string
	Reason     string
	Status     string
	RetryAfter time.Duration
}

// Error returns Google's message, or the status when there is none.
func (e *APIError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("Google answered %d %s", e.Code, http.StatusText(e.Code))
}

// ReadAPIError reads a Google error answer.
func ReadAPIError(resp *http.Response) *APIError {
	e := &APIError{Code: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
			Errors  []struct {
				Message string `json:"message"`
				Reason  string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.Message, e.Status = body.Error.Message, body.Error.Status
		if len(body.Error.Errors) > 0 {
			if body.Error.Errors[0].Message != "" {
				e.Message = body.Error.Errors[0].Message
			}
			e.Reason = body.Error.Errors[0].Reason
		}
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

// TransportError is a failed round trip to Google (refused, reset, timed out).
type TransportError struct{ Err error }

// Error says Google could not be reached, without the URL.
func (e *TransportError) Error() string {
	var ue *url.Error
	if errors.As(e.Err, &ue) {
		return "Google could not be reached: " + ue.Err.Error()
	}
	return "Google could not be reached: " + e.Err.Error()
}

// Unwrap returns the round trip's error.
func (e *TransportError) Unwrap() error { return e.Err }

// Retry is a bounded retry policy for idempotent or replayable calls.
type Retry struct {
	// Max is the number of retries after the first attempt.
	Max int
	// Delay is the wait before retry n (1-based); a Retry-After from Google wins, capped at MaxDelay.
	Delay    func(n int) time.Duration
	MaxDelay time.Duration
	// On reports whether a status is retried; nil means 429 and 5xx.
	On func(status int) bool
	// Sleep waits (nil: a timer honouring ctx).
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetry retries 429 and 5xx three times after 1, 2 and 4 seconds.
func DefaultRetry() Retry {
	return Retry{Max: 3, Delay: func(n int) time.Duration { return time.Second << (n - 1) }, MaxDelay: time.Minute}
}

func (r Retry) retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		if r.On != nil {
			return r.On(ae.Code)
		}
		return ae.Code == http.StatusTooManyRequests || ae.Code >= 500
	}
	var te *TransportError
	return errors.As(err, &te)
}

func (r Retry) wait(ctx context.Context, n int, last error) error {
	d := time.Duration(0)
	if r.Delay != nil {
		d = r.Delay(n)
	}
	var ae *APIError
	if errors.As(last, &ae) && ae.RetryAfter > 0 {
		d = ae.RetryAfter
	}
	if r.MaxDelay > 0 && d > r.MaxDelay {
		d = r.MaxDelay
	}
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return SleepCtx(ctx, d)
}

// SleepCtx waits d or until ctx ends.
func SleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DoJSON sends a JSON request (in may be nil) and decodes the JSON answer into out (may be
// nil), retrying per r. It returns the number of retries made.
func DoJSON(ctx context.Context, hc *http.Client, method, u string, in, out any, r Retry) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, err
		}
	}
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := r.wait(ctx, attempt, last); err != nil {
				return attempt - 1, err
			}
		}
		last = doJSONOnce(ctx, hc, method, u, body, in != nil, out)
		if last == nil || ctx.Err() != nil || !r.retryable(last) || attempt >= r.Max {
			return attempt, last
		}
	}
}

func doJSONOnce(ctx context.Context, hc *http.Client, method, u string, body []byte, hasBody bool, out any) error {
	var rdr io.Reader
	if hasBody {
		rdr = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rdr)
	if err != nil {
		return err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return wrapTransport(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return ReadAPIError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("Google sent an unreadable answer")
	}
	return nil
}

// wrapTransport keeps errors of the token refresh (which carry their own meaning) and
// wraps the rest as TransportError.
func wrapTransport(err error) error {
	var le *LoginError
	if errors.As(err, &le) {
		return le
	}
	return &TransportError{Err: err}
}

// Drive is a typed client for the Drive v3 calls the Google actions make. Its HTTP client
// adds the user's access token.
type Drive struct {
	HTTP  *http.Client
	Base  string // https://www.googleapis.com
	Retry Retry
}

// File is a Drive file's metadata.
type File struct {
	ID          string   `json:"id,omitempty"`
	Name        string   `json:"name,omitempty"`
	MimeType    string   `json:"mimeType,omitempty"`
	Parents     []string `json:"parents,omitempty"`
	DriveID     string   `json:"driveId,omitempty"`
	WebViewLink string   `json:"webViewLink,omitempty"`
	Size        string   `json:"size,omitempty"`
}

// SharedDrive is a shared drive's id and name.
type SharedDrive struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ListDrives returns the user's shared drives, up to MaxSharedDrives.
func (d *Drive) ListDrives(ctx context.Context) ([]SharedDrive, error) {
	var out []SharedDrive
	token := ""
	for {
		q := url.Values{"pageSize": {strconv.Itoa(maxDrivesPageSize)}, "fields": {"drives(id,name),nextPageToken"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		var page struct {
			Drives        []SharedDrive `json:"drives"`
			NextPageToken string        `json:"nextPageToken"`
		}
		if _, err := DoJSON(ctx, d.HTTP, http.MethodGet, d.Base+"/drive/v3/drives?"+q.Encode(), nil, &page, d.Retry); err != nil {
			return nil, err
		}
		out = append(out, page.Drives...)
		if page.NextPageToken == "" || len(out) >= MaxSharedDrives {
			return out[:min(len(out), MaxSharedDrives)], nil
		}
		token = page.NextPageToken
	}
}

// ListQuery is a files.list query.
type ListQuery struct {
	Q       string
	Fields  string
	OrderBy string
	// DriveID limits the search to a shared drive; "" searches the user's files.
	DriveID  string
	PageSize int
	// Max bounds the files returned (0: one page).
	Max int
}

// ListFiles runs files.list, across pages up to q.Max files.
func (d *Drive) ListFiles(ctx context.Context, lq ListQuery) ([]File, error) {
	var out []File
	token := ""
	for {
		q := url.Values{"q": {lq.Q}, "spaces": {"drive"}}
		if lq.Fields != "" {
			q.Set("fields", lq.Fields)
		}
		if lq.OrderBy != "" {
			q.Set("orderBy", lq.OrderBy)
		}
		if lq.PageSize > 0 {
			q.Set("pageSize", strconv.Itoa(lq.PageSize))
		}
		if lq.DriveID != "" {
			q.Set("corpora", "drive")
			q.Set("driveId", lq.DriveID)
			q.Set("includeItemsFromAllDrives", "true")
			q.Set("supportsAllDrives", "true")
		} else {
			q.Set("corpora", "user")
		}
		if token != "" {
			q.Set("pageToken", token)
		}
		var page struct {
			Files         []File `json:"files"`
			NextPageToken string `json:"nextPageToken"`
		}
		if _, err := DoJSON(ctx, d.HTTP, http.MethodGet, d.Base+"/drive/v3/files?"+q.Encode(), nil, &page, d.Retry); err != nil {
			return nil, err
		}
		out = append(out, page.Files...)
		if page.NextPageToken == "" || len(out) >= lq.Max {
			if lq.Max > 0 && len(out) > lq.Max {
				out = out[:lq.Max]
			}
			return out, nil
		}
		token = page.NextPageToken
	}
}

// ListFolders returns the folders of My Drive (driveID "") or of a shared drive, most
// recently used first, up to MaxFolderOptions.
func (d *Drive) ListFolders(ctx context.Context, driveID string) ([]File, error) {
	return d.ListFiles(ctx, ListQuery{
		Q:      "mimeType='" + FolderMimeType + "' and trashed=false",
		Fields: "files(id,name,parents),nextPageToken", OrderBy: "recency desc",
		PageSize: maxFilesPageSize, DriveID: driveID, Max: MaxFolderOptions,
	})
}

// QuoteQuery quotes s as a string literal of the Drive query language: backslashes and
// single quotes are escaped. https://developers.google.com/drive/api/guides/ref-search-terms
func QuoteQuery(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Ping lists a few files: it succeeds when the login works.
func (d *Drive) Ping(ctx context.Context) error {
	_, err := DoJSON(ctx, d.HTTP, http.MethodGet, d.Base+"/drive/v3/files?pageSize=10&fields=files(id)", nil, nil, d.Retry)
	return err
}

// SourceError is a failure reading the data to upload (a cut download from Looker).
type SourceError struct{ Err error }

// Error returns the read error's text (a DownloadError names the bytes received).
func (e *SourceError) Error() string { return e.Err.Error() }

// Unwrap returns the read error.
func (e *SourceError) Unwrap() error { return e.Err }

// Upload is one resumable upload.
type Upload struct {
	// Meta is the new file's metadata (name, mimeType, parents).
	Meta File
	// MediaType is the content's type (X-Upload-Content-Type); "" lets Drive detect it.
	MediaType string
	// SharedDrive adds supportsAllDrives=true.
	SharedDrive bool
	// ChunkSize is rounded down to a multiple of 256 KiB; 0 means DefaultChunkSize.
	ChunkSize int
	// Retries counts the chunk retries made (for reports and tests).
	Retries int
}

// Create streams src to a new file with Drive's resumable protocol: one chunk in memory,
// each chunk retried (after asking Drive how much it kept) on 429, 5xx and network errors.
// When src fails, the session is cancelled and nothing is created.
// https://developers.google.com/drive/api/guides/manage-uploads#resumable
func (d *Drive) Create(ctx context.Context, up *Upload, src io.Reader) (*File, int64, error) {
	chunk := up.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	chunk = max(chunk/ResumableChunkMultiple, 1) * ResumableChunkMultiple
	session, err := d.startSession(ctx, up)
	if err != nil {
		return nil, 0, err
	}
	buf := make([]byte, chunk)
	var offset int64
	for {
		n, rerr := io.ReadFull(src, buf)
		final := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !final {
			d.cancel(session)
			return nil, offset, &SourceError{Err: rerr}
		}
		f, err := d.putChunk(ctx, up, session, buf[:n], offset, final)
		if err != nil {
			d.cancel(session)
			return nil, offset, err
		}
		offset += int64(n)
		if final {
			return f, offset, nil
		}
	}
}

func (d *Drive) startSession(ctx context.Context, up *Upload) (string, error) {
	q := url.Values{"uploadType": {"resumable"}, "fields": {"id,name,mimeType,webViewLink"}}
	if up.SharedDrive {
		q.Set("supportsAllDrives", "true")
	}
	meta, err := json.Marshal(up.Meta)
	if err != nil {
		return "", err
	}
	var session string
	var last error
	for attempt := 0; attempt <= d.Retry.Max; attempt++ {
		if attempt > 0 {
			if err := d.Retry.wait(ctx, attempt, last); err != nil {
				return "", err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Base+"/upload/drive/v3/files?"+q.Encode(), bytes.NewReader(meta))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
		if up.MediaType != "" {
			req.Header.Set("X-Upload-Content-Type", up.MediaType)
		}
		resp, err := d.HTTP.Do(req)
		if err != nil {
			last = wrapTransport(err)
		} else {
			if resp.StatusCode == http.StatusOK {
				session = resp.Header.Get("Location")
				resp.Body.Close()
				if session == "" {
					return "", errors.New("Google Drive started no upload session")
				}
				return session, nil
			}
			last = ReadAPIError(resp)
			resp.Body.Close()
		}
		if ctx.Err() != nil || !d.Retry.retryable(last) {
			return "", last
		}
		up.Retries++
	}
	return "", last
}

// putChunk sends data, which starts at offset, and resends whatever Drive did not keep.
func (d *Drive) putChunk(ctx context.Context, up *Upload, session string, data []byte, offset int64, final bool) (*File, error) {
	sent := int64(0) // bytes of data Drive confirmed
	failures := 0
	var last error
	for {
		if failures > 0 {
			if failures > d.Retry.Max {
				return nil, last
			}
			if err := d.Retry.wait(ctx, failures, last); err != nil {
				return nil, err
			}
			up.Retries++
			// Ask Drive how much of the upload it has.
			committed, f, err := d.status(ctx, session, offset+int64(len(data)), final)
			if err != nil {
				if d.Retry.retryable(err) {
					last = err
					failures++
					continue
				}
				return nil, err
			}
			if f != nil {
				return f, nil
			}
			if committed < offset || committed > offset+int64(len(data)) {
				return nil, fmt.Errorf("Google Drive reports %d bytes received where %d were expected", committed, offset)
			}
			sent = committed - offset
			if sent == int64(len(data)) && !final {
				return nil, nil
			}
		}
		f, committed, err := d.put(ctx, session, data[sent:], offset+sent, offset+int64(len(data)), final)
		switch {
		case err == nil && f != nil:
			return f, nil
		case err == nil:
			if committed == offset+int64(len(data)) && !final {
				return nil, nil
			}
			// Drive kept only part of the chunk: send the rest.
			if committed < offset || committed > offset+int64(len(data)) {
				return nil, fmt.Errorf("Google Drive reports %d bytes received after sending up to %d", committed, offset+int64(len(data)))
			}
			if committed-offset <= sent && len(data[sent:]) > 0 {
				// no progress: count it as a failure so that the loop is bounded
				last = fmt.Errorf("Google Drive kept none of %d bytes sent", len(data[sent:]))
				failures++
			}
			sent = committed - offset
		default:
			var ae *APIError
			if errors.As(err, &ae) && (ae.Code == http.StatusNotFound || ae.Code == http.StatusGone) {
				return nil, fmt.Errorf("the Google Drive upload session expired: %w", err)
			}
			if !d.Retry.retryable(err) || ctx.Err() != nil {
				return nil, err
			}
			last = err
			failures++
		}
	}
}

// put sends bytes [start, end) of the upload. It returns the file when Drive completed the
// upload, else the number of bytes Drive has (from the 308 answer's Range header).
func (d *Drive) put(ctx context.Context, session string, data []byte, start, end int64, final bool) (*File, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, session, bytes.NewReader(data))
	if err != nil {
		return nil, 0, err
	}
	total := "*"
	if final {
		total = strconv.FormatInt(end, 10)
	}
	if len(data) == 0 {
		req.Header.Set("Content-Range", "bytes */"+total)
	} else {
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%s", start, end-1, total))
	}
	return d.finishResponse(req)
}

// status asks for the upload's state with an empty PUT.
func (d *Drive) status(ctx context.Context, session string, end int64, final bool) (int64, *File, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, session, http.NoBody)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Range", "bytes */*")
	if final {
		req.Header.Set("Content-Range", "bytes */"+strconv.FormatInt(end, 10))
	}
	f, committed, err := d.finishResponse(req)
	return committed, f, err
}

func (d *Drive) finishResponse(req *http.Request) (*File, int64, error) {
	resp, err := d.HTTP.Do(req)
	if err != nil {
		return nil, 0, wrapTransport(err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated:
		var f File
		if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
			return nil, 0, errors.New("Google Drive sent an unreadable answer")
		}
		return &f, 0, nil
	case resp.StatusCode == http.StatusPermanentRedirect: // "308 Resume Incomplete"
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, parseRange(resp.Header.Get("Range")), nil
	}
	return nil, 0, ReadAPIError(resp)
}

// parseRange reads "bytes=0-N" as N+1 bytes received; no header means none.
func parseRange(h string) int64 {
	_, r, ok := strings.Cut(h, "-")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(r, 10, 64)
	if err != nil {
		return 0
	}
	return n + 1
}

// cancel ends an unfinished session so that nothing is created.
func (d *Drive) cancel(session string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, session, nil)
	if err != nil {
		return
	}
	if resp, err := d.HTTP.Do(req); err == nil {
		resp.Body.Close()
	}
}

// Userinfo returns the login's e-mail address when Google has verified it.
// https://developers.google.com/identity/openid-connect/openid-connect#obtaininguserprofileinformation
func Userinfo(ctx context.Context, hc *http.Client, base string, r Retry) (string, error) {
	var out struct {
		Email    string `json:"email"`
		Verified *bool  `json:"verified_email"`
	}
	if _, err := DoJSON(ctx, hc, http.MethodGet, base+"/oauth2/v2/userinfo", nil, &out, r); err != nil {
		return "", err
	}
	if out.Verified != nil && !*out.Verified {
		return "", nil
	}
	return out.Email, nil
}
