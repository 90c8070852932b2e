// Package dropbox is the "dropbox" action: it uploads the rendered file into a folder of the
// user's Dropbox, after the user logged in through the hub (OAuth v1 flow of the Action API).
//
// Compared with the Node action: the authorization code is exchanged at the redirect (not
// stored in Looker and redeemed once later), offline access is requested and the refresh
// token kept, so expired access tokens are refreshed and the new state returned to Looker;
// the app secret travels in HTTP Basic auth, never in a URL; large files go through upload
// sessions in fixed chunks; the folder list includes sub-folders; and only an authentication
// failure clears the user's state.
//
// State formats read (all written by the Node hub at some version, plain or {cid,payload}):
// {"access_token"}, {"tokens":{"access_token"}}, the raw token response, and the legacy
// {"code","redirect"} pair, which is exchanged once and replaced.
package dropbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "dropbox"

// Environment variables that gate the action.
const (
	EnvAppKey    = "DROPBOX_ACTION_APP_KEY"
	EnvAppSecret = "DROPBOX_ACTION_APP_SECRET"
)

// Form limits.
const (
	// maxListPages bounds the recursive folder listing of the form (2000 entries a page).
	maxListPages = 5
	// maxFolderOptions bounds the sub-folders in the folder select (top-level folders are
	// always all offered).
	maxFolderOptions = 1000
	// refreshMargin refreshes an access token this long before it expires.
	refreshMargin = time.Minute
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() {
	sdk.Register(sdk.Module{Name: Name, New: New})
}

// New returns the action, or an error wrapping sdk.ErrNotConfigured without the app's
// key and secret.
func New(env *sdk.Env) (sdk.Action, error) {
	vals, err := env.Require(EnvAppKey, EnvAppSecret)
	if err != nil {
		return nil, err
	}
	return &Action{
		env: env, key: vals[0], secret: vals[1],
		api:        env.VendorURL("dropbox_api", "https://api.dropboxapi.com"),
		content:    env.VendorURL("dropbox_content", "https://content.dropboxapi.com"),
		www:        env.VendorURL("dropbox_www", "https://www.dropbox.com"),
		ChunkSize:  DefaultChunkSize,
		RetryDelay: time.Second,
	}, nil
}

// Action is the dropbox action.
type Action struct {
	env               *sdk.Env
	key, secret       string
	api, content, www string
	// ChunkSize is the upload-session chunk; files up to one chunk go in a single upload.
	// It must not exceed MaxSessionRequest.
	ChunkSize int
	// RetryDelay is the first back-off delay of a 429/5xx retry without Retry-After.
	RetryDelay time.Duration
	// Now is the clock (nil means time.Now).
	Now func() time.Time
}

func (a *Action) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Definition describes the action as the Node hub lists it.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                 Name,
		Label:                "Dropbox",
		Description:          "Send data directly to a Dropbox folder.",
		Icon:                 icon,
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery, sdk.TypeDashboard},
		// Push delivery, as in Node, "to support legacy schedules".
		Streaming:            false,
		MinimumLookerVersion: "6.8.0",
		Params:               []sdk.Param{},
		RequiredFields:       []sdk.RequiredField{},
	}
}

// userTokens is the state stored in Looker. access_token stays at the top level, where
// every Node version looks for it.
type userTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type,omitempty"`
	// ExpiresAt is the access token's expiry in Unix seconds (0: unknown).
	ExpiresAt int64  `json:"expires_at,omitempty"`
	AccountID string `json:"account_id,omitempty"`
}

func (a *Action) tokensFrom(tr *tokenResponse, previous *userTokens) userTokens {
	t := userTokens{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, TokenType: tr.TokenType, AccountID: tr.AccountID}
	if tr.ExpiresIn > 0 {
		t.ExpiresAt = a.now().Unix() + tr.ExpiresIn
	}
	if previous != nil {
		if t.RefreshToken == "" {
			t.RefreshToken = previous.RefreshToken
		}
		if t.AccountID == "" {
			t.AccountID = previous.AccountID
		}
	}
	return t
}

// session is one request's Dropbox login: the tokens and whether they changed (code
// exchanged or token refreshed) so the new state must go back to Looker.
type session struct {
	a       *Action
	tok     userTokens
	changed bool
}

// errNoLogin means the user has no usable Dropbox login.
var errNoLogin = errors.New("no Dropbox login")

// session reads the user's tokens from state_json; it returns errNoLogin when there are
// none (or a legacy code that can no longer be exchanged).
func (a *Action) session(ctx context.Context, req *sdk.Request) (*session, error) {
	var raw map[string]any
	if !req.OAuthTokens(&raw) || raw == nil {
		return nil, errNoLogin
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	if code, redirect := str(raw, "code"), str(raw, "redirect"); code != "" && redirect != "" {
		tr, err := a.exchange(ctx, code, redirect)
		if err != nil {
			a.env.Log().Warn("dropbox: the stored authorization code could not be exchanged", "error", err.Error())
			return nil, errNoLogin
		}
		return &session{a: a, tok: a.tokensFrom(tr, nil), changed: true}, nil
	}
	t := userTokens{AccessToken: str(raw, "access_token"), RefreshToken: str(raw, "refresh_token"),
		TokenType: str(raw, "token_type"), AccountID: str(raw, "account_id")}
	if nested, ok := raw["tokens"].(map[string]any); ok {
		if t.AccessToken == "" {
			t.AccessToken = str(nested, "access_token")
		}
		if t.RefreshToken == "" {
			t.RefreshToken = str(nested, "refresh_token")
		}
	}
	if f, ok := raw["expires_at"].(float64); ok {
		t.ExpiresAt = int64(f)
	}
	if t.AccessToken == "" && t.RefreshToken == "" {
		return nil, errNoLogin
	}
	return &session{a: a, tok: t}, nil
}

func (a *Action) exchange(ctx context.Context, code, redirect string) (*tokenResponse, error) {
	return oauthToken(ctx, a.env.Client(), a.api, a.key, a.secret, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}})
}

func (s *session) refresh(ctx context.Context) error {
	if s.tok.RefreshToken == "" {
		return errNoLogin
	}
	tr, err := oauthToken(ctx, s.a.env.Client(), s.a.api, s.a.key, s.a.secret, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {s.tok.RefreshToken}})
	if err != nil {
		return err
	}
	s.tok = s.a.tokensFrom(tr, &s.tok)
	s.changed = true
	return nil
}

func (s *session) client() *client {
	return &client{http: s.a.env.Client(), api: s.a.api, content: s.a.content, token: s.tok.AccessToken,
		sleep: sleepCtx, baseDelay: s.a.RetryDelay}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call runs fn with a valid access token: refreshed first when it is known to be expired,
// and refreshed once more (then fn retried) when Dropbox answers 401.
func (s *session) call(ctx context.Context, fn func(c *client) error) error {
	refreshed := false
	if s.tok.AccessToken == "" || (s.tok.ExpiresAt != 0 && s.a.now().Add(refreshMargin).Unix() >= s.tok.ExpiresAt) {
		if s.tok.RefreshToken != "" {
			if err := s.refresh(ctx); err != nil {
				return loginError(err)
			}
			refreshed = true
		}
	}
	err := fn(s.client())
	var ae *apiError
	if errors.As(err, &ae) && ae.auth() {
		if refreshed || s.tok.RefreshToken == "" {
			return loginError(err)
		}
		if rerr := s.refresh(ctx); rerr != nil {
			return loginError(rerr)
		}
		err = fn(s.client())
		if errors.As(err, &ae) && ae.auth() {
			return loginError(err)
		}
	}
	return err
}

// needLogin wraps an error that only a new login can fix.
type needLogin struct{ err error }

func (e *needLogin) Error() string { return e.err.Error() }
func (e *needLogin) Unwrap() error { return e.err }

// loginError marks err as needing a new login when it is an authentication failure;
// transient failures (5xx, network) are returned as they are.
func loginError(err error) error {
	var ae *apiError
	// 400 is the token endpoint's invalid_grant (revoked or unknown refresh token).
	if errors.Is(err, errNoLogin) || (errors.As(err, &ae) && (ae.Status == 400 || ae.Status == 401)) {
		return &needLogin{err: err}
	}
	return err
}

func (s *session) state() (*sdk.State, error) {
	data, err := s.a.env.EncodeUserState(s.tok, s.a.env.EncryptPayload(Name))
	if err != nil {
		return nil, err
	}
	return sdk.NewState(data), nil
}

// withState adds the new user state to a response when the tokens changed.
func (s *session) withState(resp *sdk.Response) *sdk.Response {
	if s != nil && s.changed && resp.State == nil {
		st, err := s.state()
		if err != nil {
			s.a.env.Log().Error("dropbox: could not encode the refreshed tokens", "error", err.Error())
			return resp
		}
		resp.State = st
	}
	return resp
}

// Form lists the user's folders, or shows the login link.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	sess, err := a.session(ctx, req)
	if err != nil {
		return a.loginForm(req)
	}
	folders, err := a.folders(ctx, sess)
	if err != nil {
		var nl *needLogin
		if errors.As(err, &nl) {
			return a.loginForm(req)
		}
		return &sdk.Form{Error: "Could not list your Dropbox folders: " + err.Error()}, nil
	}
	options := []sdk.Option{{Name: "__root", Label: "Home"}}
	options = append(options, folders...)
	form := &sdk.Form{Fields: []sdk.Field{{
		Description: "Dropbox folder where your file will be saved",
		Label:       "Select folder to save file",
		Name:        "directory",
		Options:     options,
		Required:    true,
		Type:        sdk.FieldSelect,
		Default:     "__root",
	}, {
		Label:    "Enter a name",
		Name:     "filename",
		Type:     sdk.FieldString,
		Required: true,
	}, {
		Label:       "Append timestamp",
		Name:        "includeTimestamp",
		Description: "Append timestamp to end of file name. Should be set to 'Yes' if the file will be sent repeatedly",
		Required:    true,
		Default:     "no",
		Type:        sdk.FieldSelect,
		Options:     []sdk.Option{{Name: "yes", Label: "Yes"}, {Name: "no", Label: "No"}},
	}}}
	if sess.changed {
		if form.State, err = sess.state(); err != nil {
			return nil, err
		}
	}
	return form, nil
}

func (a *Action) loginForm(req *sdk.Request) (*sdk.Form, error) {
	return req.LoginForm(sdk.FieldOAuthLink, "Log in",
		"In order to send to a Dropbox file or folder now and in the future, you will need to log in once to your Dropbox account.", nil)
}

// folders lists the user's folders, sub-folders included, as select options named by their
// path without the leading slash (a top-level folder's option name is its name, as in Node).
// Every top-level folder is offered; sub-folders up to maxFolderOptions.
func (a *Action) folders(ctx context.Context, sess *session) ([]sdk.Option, error) {
	top, nested := map[string]sdk.Option{}, map[string]sdk.Option{}
	add := func(entries []entry) {
		for _, e := range entries {
			if e.Tag != "folder" {
				continue
			}
			p := strings.TrimPrefix(e.PathDisplay, "/")
			if p == "" {
				p = e.Name
			}
			switch {
			case !strings.Contains(p, "/"):
				top[strings.ToLower(p)] = sdk.Option{Name: p, Label: p}
			case len(nested) < maxFolderOptions:
				nested[strings.ToLower(p)] = sdk.Option{Name: p, Label: p}
			}
		}
	}
	list := func(recursive bool) (complete bool, err error) {
		var res *listResult
		if err := sess.call(ctx, func(c *client) (err error) { res, err = c.listFolder(ctx, "", recursive); return }); err != nil {
			return false, err
		}
		add(res.Entries)
		for page := 1; res.HasMore && page < maxListPages; page++ {
			cur := res.Cursor
			if err := sess.call(ctx, func(c *client) (err error) { res, err = c.listFolderContinue(ctx, cur); return }); err != nil {
				return false, err
			}
			add(res.Entries)
		}
		return !res.HasMore, nil
	}
	complete, err := list(true)
	if err != nil {
		return nil, err
	}
	if !complete {
		// The recursive listing was cut: make sure the top-level folders are all offered.
		if _, err := list(false); err != nil {
			return nil, err
		}
	}
	out := make([]sdk.Option, 0, len(top)+len(nested))
	for _, o := range top {
		out = append(out, o)
	}
	for _, o := range nested {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

// filePath is "/<filename>.<ext>" for the Home folder, else "/<directory>/<filename>.<ext>",
// with the current time in milliseconds appended to the name when includeTimestamp is "yes".
func (a *Action) filePath(req *sdk.Request) (string, error) {
	ext := req.Extension()
	name := req.Form("filename")
	if name == "" {
		name = strings.TrimSuffix(req.SuggestedFilename(), "."+ext)
	}
	if req.FormParams["includeTimestamp"] == "yes" {
		name += strconv.FormatInt(a.now().UnixMilli(), 10)
	}
	name = sdk.SanitizeFilename(name)
	if name == "" {
		return "", sdk.Errorf("Enter a file name.")
	}
	if ext != "" {
		name += "." + ext
	}
	dir := strings.Trim(req.FormParams["directory"], "/")
	if dir == "" || dir == "__root" {
		return "/" + name, nil
	}
	for _, seg := range strings.Split(dir, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", sdk.Errorf("%q is not a valid Dropbox folder.", req.FormParams["directory"])
		}
	}
	return "/" + dir + "/" + name, nil
}

// Execute uploads the data: in one call when it fits in a chunk, else in an upload session.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	sess, err := a.session(ctx, req)
	if err != nil {
		resp := sdk.Fail("No Dropbox login is stored for this user: log in again from the action's form.")
		resp.State = sdk.ResetState()
		return resp, nil
	}
	if !req.HasData() {
		return sess.withState(sdk.Fail("No data sent from Looker to be sent to Dropbox.")), nil
	}
	p, err := a.filePath(req)
	if err != nil {
		return nil, err
	}
	n, err := a.upload(ctx, sess, req, p)
	if err != nil {
		return sess.withState(a.failure(err, p)), nil
	}
	return sess.withState(sdk.OK(fmt.Sprintf("Uploaded %d bytes to %s.", n, p))), nil
}

// sourceError is a failure reading Looker's data.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func (a *Action) failure(err error, p string) *sdk.Response {
	var se *sourceError
	var nl *needLogin
	var ae *apiError
	switch {
	case errors.As(err, &se):
		return sdk.Fail(fmt.Sprintf("Upload aborted, nothing was saved to Dropbox at %s: %s", p, se.Error()))
	case errors.As(err, &nl):
		resp := sdk.Fail("Dropbox refused the stored login (" + nl.Error() + "): log in again from the action's form.")
		resp.State = sdk.ResetState()
		return resp
	case errors.As(err, &ae) && strings.HasPrefix(ae.Summary, "path/conflict"):
		return sdk.Fail(fmt.Sprintf("A file already exists at %s: choose another name or \"Append timestamp\".", p))
	case errors.As(err, &ae) && strings.Contains(ae.Summary, "insufficient_space"):
		return sdk.Fail("The Dropbox account has no space left for " + p + ".")
	}
	return sdk.Fail(fmt.Sprintf("The upload to Dropbox at %s failed: %s", p, err.Error()))
}

// upload streams the data in ChunkSize pieces; only one chunk is held in memory. A
// session whose data was cut is never finished, so nothing is committed.
func (a *Action) upload(ctx context.Context, sess *session, req *sdk.Request, p string) (int64, error) {
	chunk := a.ChunkSize
	if chunk <= 0 || chunk > MaxSessionRequest {
		chunk = DefaultChunkSize
	}
	rc, err := req.Open(ctx)
	if err != nil {
		return 0, &sourceError{err}
	}
	defer rc.Close()
	commit := commitInfo{Path: p, Mode: "add"}
	buf := make([]byte, chunk)
	n, rerr := io.ReadFull(rc, buf)
	if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
		err := sess.call(ctx, func(c *client) error { _, err := c.upload(ctx, commit, buf[:n]); return err })
		return int64(n), err
	}
	if rerr != nil {
		return 0, &sourceError{rerr}
	}
	var id string
	first := buf[:n]
	if err := sess.call(ctx, func(c *client) (err error) { id, err = c.sessionStart(ctx, first); return }); err != nil {
		return 0, err
	}
	offset := int64(n)
	for {
		n, rerr = io.ReadFull(rc, buf)
		data := buf[:n]
		switch {
		case rerr == nil:
			off := offset
			if err := sess.call(ctx, func(c *client) error { return c.sessionAppend(ctx, id, off, data) }); err != nil {
				return offset, err
			}
			offset += int64(n)
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			off := offset
			err := sess.call(ctx, func(c *client) error { _, err := c.sessionFinish(ctx, id, off, data, commit); return err })
			return offset + int64(n), err
		default:
			return offset, &sourceError{rerr}
		}
	}
}

// OAuthURL is Dropbox's authorization URL, with the parameters in Node's order and
// token_access_type=offline added so that Dropbox issues a refresh token.
func (a *Action) OAuthURL(ctx context.Context, redirectURI, encState string, state map[string]any) (string, error) {
	q := "response_type=code&client_id=" + sdk.EncodeURIComponent(a.key) +
		"&redirect_uri=" + sdk.EncodeURIComponent(redirectURI) +
		"&force_reapprove=true&state=" + sdk.EncodeURIComponent(encState) +
		"&token_access_type=offline"
	return a.www + "/oauth2/authorize?" + q, nil
}

// OAuthUserState exchanges the code at once and returns the tokens to store in Looker.
func (a *Action) OAuthUserState(ctx context.Context, cb *sdk.OAuthCallback) (any, error) {
	if cb.Code == "" {
		return nil, sdk.Errorf("Dropbox sent no authorization code.")
	}
	tr, err := a.exchange(ctx, cb.Code, cb.RedirectURI)
	if err != nil {
		return nil, fmt.Errorf("dropbox token exchange: %w", err)
	}
	return a.tokensFrom(tr, nil), nil
}

// OAuthCheck lists the root folder with the stored login.
func (a *Action) OAuthCheck(ctx context.Context, req *sdk.Request) (bool, error) {
	sess, err := a.session(ctx, req)
	if err != nil {
		return false, nil
	}
	err = sess.call(ctx, func(c *client) error { _, err := c.listFolder(ctx, "", false); return err })
	return err == nil, nil
}
