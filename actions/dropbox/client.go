package dropbox

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
	"unicode/utf16"
)

// Dropbox API limits.
const (
	// MaxSingleUpload is the largest body files/upload takes; bigger files need an upload
	// session. https://www.dropbox.com/developers/documentation/http/documentation#files-upload
	MaxSingleUpload = 150 << 20
	// MaxSessionRequest is the largest body of one upload-session call (same 150 MB).
	// https://www.dropbox.com/developers/documentation/http/documentation#files-upload_session-append_v2
	MaxSessionRequest = 150 << 20
	// DefaultChunkSize is the size of each upload-session chunk: a multiple of 4 MiB, which
	// Dropbox requires of concurrent sessions and recommends in general.
	// https://www.dropbox.com/developers/documentation/http/documentation#files-upload_session-start
	DefaultChunkSize = 8 << 20
	// listFolderLimit is the page size asked of list_folder (the API's maximum is 2000).
	// https://www.dropbox.com/developers/documentation/http/documentation#files-list_folder
	listFolderLimit = 2000
)

// Retry policy for 429 and 5xx answers.
const (
	maxRetries    = 3
	maxRetryAfter = 60 * time.Second
)

// client is a small typed client for the parts of Dropbox's HTTP API the action uses.
type client struct {
	http    *http.Client
	api     string // https://api.dropboxapi.com
	content string // https://content.dropboxapi.com
	token   string
	// sleep waits between retries (replaced in tests).
	sleep func(ctx context.Context, d time.Duration) error
	// baseDelay is the first retry delay when Dropbox sends no Retry-After.
	baseDelay time.Duration
}

// apiError is a non-2xx answer of the Dropbox API.
type apiError struct {
	Status     int
	Summary    string          // error_summary, e.g. "path/conflict/file/.."
	Err        json.RawMessage // the "error" union
	RetryAfter time.Duration
}

func (e *apiError) Error() string {
	if e.Summary != "" {
		return fmt.Sprintf("Dropbox answered %d: %s", e.Status, e.Summary)
	}
	return fmt.Sprintf("Dropbox answered %d", e.Status)
}

// transportError is a failed round trip (connection refused or reset, timeout); the URL,
// which holds nothing secret here, is dropped all the same.
type transportError struct{ err error }

func (e *transportError) Error() string {
	var ue *url.Error
	if errors.As(e.err, &ue) {
		return "Dropbox could not be reached: " + ue.Err.Error()
	}
	return "Dropbox could not be reached: " + e.err.Error()
}

func (e *transportError) Unwrap() error { return e.err }

// auth reports an invalid or expired access token (HTTP 401).
func (e *apiError) auth() bool { return e.Status == http.StatusUnauthorized }

func (e *apiError) retryable() bool { return e.Status == http.StatusTooManyRequests || e.Status >= 500 }

// correctOffset extracts correct_offset from an incorrect_offset error of append_v2
// ({".tag":"incorrect_offset","correct_offset":N}) or finish ({"lookup_failed":{...}}).
func (e *apiError) correctOffset() (int64, bool) {
	var u struct {
		Tag           string `json:".tag"`
		CorrectOffset *int64 `json:"correct_offset"`
		LookupFailed  *struct {
			Tag           string `json:".tag"`
			CorrectOffset *int64 `json:"correct_offset"`
		} `json:"lookup_failed"`
	}
	if json.Unmarshal(e.Err, &u) != nil {
		return 0, false
	}
	if u.Tag == "incorrect_offset" && u.CorrectOffset != nil {
		return *u.CorrectOffset, true
	}
	if u.LookupFailed != nil && u.LookupFailed.Tag == "incorrect_offset" && u.LookupFailed.CorrectOffset != nil {
		return *u.LookupFailed.CorrectOffset, true
	}
	return 0, false
}

// apiArg encodes v for the Dropbox-API-Arg header: JSON with every non-ASCII character
// escaped as \uXXXX, since HTTP headers must be ASCII.
// https://www.dropbox.com/developers/reference/json-encoding
func apiArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for _, r := range string(b) {
		if r < 0x7f {
			sb.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&sb, `\u%04x`, u)
		}
	}
	return sb.String(), nil
}

// do sends one call with bounded retries on 429/5xx. body is replayed on retries, so it
// must be a byte slice. out, when non-nil, receives the JSON result.
func (c *client) do(ctx context.Context, host, path string, arg any, body []byte, rpc bool, out any) error {
	var last error
	for attempt := 0; attempt <= maxRetries; attempt++ {
		if attempt > 0 {
			var ae *apiError
			delay := c.baseDelay << (attempt - 1)
			if errors.As(last, &ae) && ae.RetryAfter > 0 {
				delay = min(ae.RetryAfter, maxRetryAfter)
			}
			if err := c.sleep(ctx, delay); err != nil {
				return err
			}
		}
		err := c.once(ctx, host, path, arg, body, rpc, out)
		if err == nil {
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return err
		}
		var ae *apiError
		var te *transportError
		if !(errors.As(err, &ae) && ae.retryable()) && !errors.As(err, &te) {
			return err
		}
	}
	return last
}

func (c *client) once(ctx context.Context, host, path string, arg any, body []byte, rpc bool, out any) error {
	if rpc {
		b, err := json.Marshal(arg)
		if err != nil {
			return err
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, host+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if rpc {
		req.Header.Set("Content-Type", "application/json")
	} else {
		a, err := apiArg(arg)
		if err != nil {
			return err
		}
		req.Header.Set("Dropbox-API-Arg", a)
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &transportError{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readAPIError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("Dropbox sent an unreadable answer to %s", path)
	}
	return nil
}

func readAPIError(resp *http.Response) error {
	e := &apiError{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Summary string          `json:"error_summary"`
		Err     json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.Summary, e.Err = body.Summary, body.Err
	} else if resp.StatusCode == http.StatusBadRequest {
		// 400 answers are plain text describing the bad call (no secrets)
		e.Summary = strings.TrimSpace(string(b[:min(len(b), 200)]))
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

// entry is a file or folder metadata of list_folder.
type entry struct {
	Tag         string `json:".tag"`
	Name        string `json:"name"`
	PathDisplay string `json:"path_display"`
	PathLower   string `json:"path_lower"`
}

type listResult struct {
	Entries []entry `json:"entries"`
	Cursor  string  `json:"cursor"`
	HasMore bool    `json:"has_more"`
}

func (c *client) listFolder(ctx context.Context, path string, recursive bool) (*listResult, error) {
	var out listResult
	arg := map[string]any{"path": path, "recursive": recursive, "limit": listFolderLimit}
	return &out, c.do(ctx, c.api, "/2/files/list_folder", arg, nil, true, &out)
}

func (c *client) listFolderContinue(ctx context.Context, cursor string) (*listResult, error) {
	var out listResult
	return &out, c.do(ctx, c.api, "/2/files/list_folder/continue", map[string]any{"cursor": cursor}, nil, true, &out)
}

// commitInfo says where and how an upload is saved.
type commitInfo struct {
	Path       string `json:"path"`
	Mode       string `json:"mode"`
	Autorename bool   `json:"autorename"`
	Mute       bool   `json:"mute"`
}

// fileMetadata is the part of an upload's answer the action reports.
type fileMetadata struct {
	PathDisplay string `json:"path_display"`
	Size        int64  `json:"size"`
}

func (c *client) upload(ctx context.Context, commit commitInfo, data []byte) (*fileMetadata, error) {
	var out fileMetadata
	return &out, c.do(ctx, c.content, "/2/files/upload", commit, data, false, &out)
}

func (c *client) sessionStart(ctx context.Context, data []byte) (string, error) {
	var out struct {
		SessionID string `json:"session_id"`
	}
	if err := c.do(ctx, c.content, "/2/files/upload_session/start", map[string]any{"close": false}, data, false, &out); err != nil {
		return "", err
	}
	if out.SessionID == "" {
		return "", errors.New("Dropbox returned no upload session id")
	}
	return out.SessionID, nil
}

type cursor struct {
	SessionID string `json:"session_id"`
	Offset    int64  `json:"offset"`
}

// sessionAppend appends data at offset. A retry of an append that Dropbox had in fact
// received fails with incorrect_offset at offset+len(data): that counts as done.
func (c *client) sessionAppend(ctx context.Context, id string, offset int64, data []byte) error {
	arg := map[string]any{"cursor": cursor{SessionID: id, Offset: offset}, "close": false}
	err := c.do(ctx, c.content, "/2/files/upload_session/append_v2", arg, data, false, nil)
	var ae *apiError
	if errors.As(err, &ae) {
		if off, ok := ae.correctOffset(); ok && off == offset+int64(len(data)) {
			return nil
		}
	}
	return err
}

func (c *client) sessionFinish(ctx context.Context, id string, offset int64, data []byte, commit commitInfo) (*fileMetadata, error) {
	var out fileMetadata
	arg := map[string]any{"cursor": cursor{SessionID: id, Offset: offset}, "commit": commit}
	return &out, c.do(ctx, c.content, "/2/files/upload_session/finish", arg, data, false, &out)
}

// tokenResponse is Dropbox's /oauth2/token answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	AccountID    string `json:"account_id"`
	UID          string `json:"uid"`
}

// oauthToken calls /oauth2/token with the app's credentials in HTTP Basic auth (never in
// the URL). https://www.dropbox.com/developers/documentation/http/documentation#oauth2-token
func oauthToken(ctx context.Context, hc *http.Client, api, key, secret string, form url.Values) (*tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(key, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("Dropbox could not be reached: %w", ue.Err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		tokenResponse
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	derr := dec.Decode(&out)
	if resp.StatusCode != http.StatusOK {
		if out.Error != "" {
			// OAuth error codes and descriptions carry no secrets
			return nil, &apiError{Status: resp.StatusCode, Summary: strings.TrimSpace(out.Error + " " + out.Description)}
		}
		return nil, &apiError{Status: resp.StatusCode}
	}
	if derr != nil || out.AccessToken == "" {
		return nil, errors.New("Dropbox sent no access token")
	}
	return &out.tokenResponse, nil
}
