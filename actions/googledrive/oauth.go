package googledrive

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/actionhub/actionhub/sdk"
)

// OAuth scopes.
const (
	ScopeDrive        = "https://www.googleapis.com/auth/drive"
	ScopeSpreadsheets = "https://www.googleapis.com/auth/spreadsheets"
	ScopeEmail        = "https://www.googleapis.com/auth/userinfo.email"
)

// EnvEncryptPayload is the global switch of the Google actions' {cid,payload} state.
const EnvEncryptPayload = "ENCRYPT_PAYLOAD"

// Base is the OAuth v2 login, token state and Drive plumbing shared by google_drive and
// google_sheets. An action embeds it and gets OAuthURL, OAuthUserState, OAuthExchange,
// OAuthCheck and EncryptState.
type Base struct {
	Env *sdk.Env
	// Name is the action's name; LogPrefix tags error texts ("[GOOGLE_DRIVE]").
	Name, LogPrefix string
	// OAuth is the client; its endpoint honours ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH.
	OAuth *oauth2.Config
	// DriveURL is the Google APIs base (ACTION_HUB_VENDOR_URL_GOOGLE_DRIVE).
	DriveURL string
	// UserinfoURL is the userinfo base (ACTION_HUB_VENDOR_URL_GOOGLE_USERINFO).
	UserinfoURL string
	// ChunkSize is the resumable-upload chunk (0: DefaultChunkSize).
	ChunkSize int
	// Retry is the policy of Drive calls.
	Retry Retry
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewBase builds the plumbing for an action with the given client credentials and scopes.
func NewBase(env *sdk.Env, name, logPrefix, clientID, clientSecret string, scopes []string) *Base {
	ep := google.Endpoint
	ep.AuthStyle = oauth2.AuthStyleInParams
	if v := env.Get(sdk.VendorURLVar + "GOOGLE_OAUTH"); v != "" {
		base := env.VendorURL("google_oauth", "")
		ep = oauth2.Endpoint{AuthURL: base + "/o/oauth2/auth", TokenURL: base + "/token", AuthStyle: oauth2.AuthStyleInParams}
	}
	return &Base{
		Env: env, Name: name, LogPrefix: logPrefix,
		OAuth:       &oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: ep, Scopes: scopes},
		DriveURL:    env.VendorURL("google_drive", "https://www.googleapis.com"),
		UserinfoURL: env.VendorURL("google_userinfo", "https://www.googleapis.com"),
		Retry:       DefaultRetry(),
	}
}

func (b *Base) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Base) oauthCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, b.Env.Client())
}

// EncryptState reports whether token state is stored as {cid,payload}: the global
// ENCRYPT_PAYLOAD=="true", as in the Node Google actions.
func (b *Base) EncryptState() bool { return b.Env.Get(EnvEncryptPayload) == "true" }

// OAuthURL is Google's consent page, asking for offline access (a refresh token) with
// prompt=consent, as the Node action did.
func (b *Base) OAuthURL(ctx context.Context, redirectURI, encState string, state map[string]any) (string, error) {
	cfg := *b.OAuth
	cfg.RedirectURL = redirectURI
	return cfg.AuthCodeURL(encState, oauth2.AccessTypeOffline, oauth2.ApprovalForce), nil
}

// errInvalidTokens is Node's text for a token answer without a refresh token.
var errInvalidTokens = errors.New("OAuth tokens are invalid.")

// exchange trades a code for tokens and requires a refresh token.
func (b *Base) exchange(ctx context.Context, code, redirectURI string) (map[string]any, error) {
	if code == "" {
		return nil, sdk.Errorf("Google sent no authorization code.")
	}
	cfg := *b.OAuth
	cfg.RedirectURL = redirectURI
	tok, err := cfg.Exchange(b.oauthCtx(ctx), code)
	if err != nil {
		return nil, loginErr(err)
	}
	if tok.RefreshToken == "" {
		return nil, errInvalidTokens
	}
	return tokenMap(tok, nil), nil
}

// OAuthExchange serves the token route (v2): the server replies {tokens, redirect}.
func (b *Base) OAuthExchange(ctx context.Context, code, redirectURI string) (any, error) {
	return b.exchange(ctx, code, redirectURI)
}

// OAuthUserState serves the v1 path of the redirect (a login form without state_redir_url):
// the state POSTed to Looker is {tokens, redirect}.
func (b *Base) OAuthUserState(ctx context.Context, cb *sdk.OAuthCallback) (any, error) {
	tokens, err := b.exchange(ctx, cb.Code, cb.RedirectURI)
	if err != nil {
		return nil, err
	}
	return TokenPayload{Tokens: tokens, Redirect: cb.RedirectURI}, nil
}

// OAuthCheck reports whether the stored login can list files.
func (b *Base) OAuthCheck(ctx context.Context, req *sdk.Request) (bool, error) {
	s, err := b.Session(req)
	if err != nil {
		return false, nil
	}
	return s.Drive().Ping(ctx) == nil, nil
}

// LoginForm is the Node action's login form: an oauth_link_google field; its state is
// {"tokenurl"} when Looker sent state_redir_url (v2), else {"stateurl"}.
func (b *Base) LoginForm(req *sdk.Request, product string) (*sdk.Form, error) {
	return req.LoginForm(sdk.FieldOAuthLinkGoogle, "Log in",
		"In order to send to "+product+", you will need to log in once to your Google account. WebhookID if oauth fails: "+req.WebhookID, nil)
}

// TokenPayload is the user state of the Google actions: googleapis credentials
// (access_token, refresh_token, scope, token_type, expiry_date in ms, ...) and the redirect
// URI the code was issued for.
type TokenPayload struct {
	Tokens   map[string]any `json:"tokens"`
	Redirect string         `json:"redirect"`
}

// LoginError is a failure only a new login fixes (revoked or invalid refresh token,
// insufficient scopes, domain not allowed). Actions answer it with a "reset" state.
type LoginError struct{ Reason string }

// Error returns the reason, which holds no secret.
func (e *LoginError) Error() string { return e.Reason }

func loginErr(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := "Google refused the login"
		if re.ErrorCode != "" {
			msg += ": " + re.ErrorCode
			if re.ErrorDescription != "" {
				msg += " (" + re.ErrorDescription + ")"
			}
		}
		if re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client" ||
			(re.Response != nil && (re.Response.StatusCode == 400 || re.Response.StatusCode == 401)) {
			return &LoginError{Reason: msg}
		}
		return errors.New(msg)
	}
	return &TransportError{Err: err}
}

// tokenMap turns an oauth2 token into googleapis credentials, keeping the keys of prev
// that the token does not replace.
func tokenMap(tok *oauth2.Token, prev map[string]any) map[string]any {
	m := map[string]any{}
	for k, v := range prev {
		m[k] = v
	}
	m["access_token"] = tok.AccessToken
	if tok.RefreshToken != "" {
		m["refresh_token"] = tok.RefreshToken
	}
	if tok.TokenType != "" {
		m["token_type"] = tok.TokenType
	}
	if !tok.Expiry.IsZero() {
		m["expiry_date"] = tok.Expiry.UnixMilli()
	}
	for _, k := range []string{"scope", "id_token"} {
		if v, ok := tok.Extra(k).(string); ok && v != "" {
			m[k] = v
		}
	}
	return m
}

// Session is one request's Google login. Its HTTP client adds the access token, refreshes
// it when it has expired (or when Google answers 401 once), and remembers the refresh so
// that the new state goes back to Looker.
type Session struct {
	b       *Base
	payload TokenPayload
	mu      sync.Mutex
	tok     *oauth2.Token
	changed bool
	hc      *http.Client
}

// ErrNoTokens means state_json holds no usable Google login.
var ErrNoTokens = errors.New("no oauth tokens")

// Session reads the login from state_json: plain {tokens, redirect} or the encrypted
// {cid,payload} form of it.
func (b *Base) Session(req *sdk.Request) (*Session, error) {
	var p TokenPayload
	if !req.OAuthTokens(&p) || len(p.Tokens) == 0 || p.Redirect == "" {
		return nil, ErrNoTokens
	}
	str := func(k string) string { s, _ := p.Tokens[k].(string); return s }
	tok := &oauth2.Token{AccessToken: str("access_token"), RefreshToken: str("refresh_token"), TokenType: str("token_type")}
	if tok.AccessToken == "" && tok.RefreshToken == "" {
		return nil, ErrNoTokens
	}
	switch ms := p.Tokens["expiry_date"].(type) {
	case float64:
		tok.Expiry = time.UnixMilli(int64(ms))
	default:
		if tok.RefreshToken != "" {
			// Unknown expiry: refresh before use rather than fail on a stale token.
			tok.Expiry = time.Unix(1, 0)
		}
	}
	s := &Session{b: b, payload: p, tok: tok}
	s.hc = &http.Client{Transport: &authTransport{s: s, base: b.Env.Client().Transport}, Timeout: b.Env.Client().Timeout}
	return s, nil
}

// HTTP is the authorized client.
func (s *Session) HTTP() *http.Client { return s.hc }

// Drive is a Drive client on the session.
func (s *Session) Drive() *Drive { return &Drive{HTTP: s.hc, Base: s.b.DriveURL, Retry: s.b.Retry} }

// token returns a valid access token, refreshing it when expired or when force is set.
func (s *Session) token(ctx context.Context, force bool, stale string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if force && s.tok.AccessToken != stale {
		return s.tok.AccessToken, nil // refreshed meanwhile by another request
	}
	expired := !s.tok.Expiry.IsZero() && s.b.now().Add(10*time.Second).After(s.tok.Expiry)
	if s.tok.AccessToken != "" && !expired && !force {
		return s.tok.AccessToken, nil
	}
	if s.tok.RefreshToken == "" {
		return "", &LoginError{Reason: "the Google access token expired and there is no refresh token"}
	}
	src := s.b.OAuth.TokenSource(s.b.oauthCtx(ctx), &oauth2.Token{RefreshToken: s.tok.RefreshToken})
	nt, err := src.Token()
	if err != nil {
		return "", loginErr(err)
	}
	s.payload.Tokens = tokenMap(nt, s.payload.Tokens)
	s.tok = nt
	s.changed = true
	return nt.AccessToken, nil
}

func (s *Session) canRefresh() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok.RefreshToken != ""
}

// Changed reports whether the token was refreshed during the request.
func (s *Session) Changed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// State is the user state to send back to Looker: {tokens, redirect}, wrapped as
// {cid,payload} when ENCRYPT_PAYLOAD is "true".
func (s *Session) State() (*sdk.State, error) {
	s.mu.Lock()
	p := TokenPayload{Tokens: s.payload.Tokens, Redirect: s.payload.Redirect}
	s.mu.Unlock()
	data, err := s.b.Env.EncodeUserState(p, s.b.EncryptState())
	if err != nil {
		return nil, err
	}
	return sdk.NewState(data), nil
}

// WithState adds the refreshed state to resp, if the token changed.
func (s *Session) WithState(resp *sdk.Response) *sdk.Response {
	if s == nil || resp == nil || resp.State != nil || !s.Changed() {
		return resp
	}
	st, err := s.State()
	if err != nil {
		s.b.Env.Log().Error(s.b.LogPrefix+" could not encode the refreshed tokens", "error", err.Error())
		return resp
	}
	resp.State = st
	return resp
}

type authTransport struct {
	s    *Session
	base http.RoundTripper
}

// RoundTrip adds the access token and retries once with a refreshed one on 401.
func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	tok, err := t.s.token(req.Context(), false, "")
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !t.s.canRefresh() {
		return resp, err
	}
	// 401: the token was revoked or expired early. Refresh once and replay if we can.
	if req.Body != nil && req.GetBody == nil {
		return resp, nil
	}
	nt, err := t.s.token(req.Context(), true, tok)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	r = req.Clone(req.Context())
	if req.GetBody != nil {
		if r.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	resp.Body.Close()
	r.Header.Set("Authorization", "Bearer "+nt)
	return base.RoundTrip(r)
}

// CheckDomain enforces the domain_allowlist param: when it names domains, the login's
// verified e-mail must be in one of them (exactly, not as a suffix: "evilfacts.com" is not
// "facts.com"). A failure is a LoginError.
func (s *Session) CheckDomain(ctx context.Context, allowlist string) error {
	domains := ParseAllowlist(allowlist)
	if len(domains) == 0 {
		return nil
	}
	email, err := Userinfo(ctx, s.hc, s.b.UserinfoURL, s.b.Retry)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && (ae.Code == http.StatusUnauthorized || ae.Code == http.StatusForbidden) {
			return &LoginError{Reason: "User Domain validation failed: the login cannot read its e-mail address; log in again"}
		}
		return err
	}
	if !EmailInDomains(email, domains) {
		return &LoginError{Reason: "User Domain validation failed"}
	}
	return nil
}

// ParseAllowlist splits "facts.com, @car.com" into lowercase domains.
func ParseAllowlist(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ",") {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// EmailInDomains reports whether email's domain is one of domains.
func EmailInDomains(email string, domains []string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	dom := strings.ToLower(email[at+1:])
	for _, d := range domains {
		if dom == d {
			return true
		}
	}
	return false
}
