// Package oauthfake is the OAuth 2 provider plumbing that the fake vendor servers of
// tests (Dropbox, Google) share: the store of authorization codes, access tokens with
// their expiry and refresh tokens, each tied to a Login, and the auto-approving authorize
// (consent) page. Each fake keeps its own token endpoint, whose client authentication,
// answers and error texts are the vendor's, and writes it on top of [Tokens].
package oauthfake

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// NewID returns prefix followed by n random bytes in hex: a code, a token, an id.
func NewID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Login is who granted a code or token, and which scopes.
type Login struct {
	Email, Scope string
}

// Error is the body of an OAuth 2 error answer (RFC 6749 section 5.2).
func Error(code, description string) map[string]string {
	return map[string]string{"error": code, "error_description": description}
}

type code struct {
	redirect string
	login    Login
}

type access struct {
	expires time.Time
	login   Login
}

// Tokens holds a fake provider's codes and tokens and the authorize page's requests. The
// zero value is ready; it is safe for concurrent use.
type Tokens struct {
	mu      sync.Mutex
	codes   map[string]code
	access  map[string]access
	refresh map[string]Login
	authQs  []url.Values
}

// init makes the maps; t.mu is held.
func (t *Tokens) init() {
	if t.codes == nil {
		t.codes, t.access, t.refresh = map[string]code{}, map[string]access{}, map[string]Login{}
	}
}

// AddCode makes c an authorization code for redirectURI, granted by l.
func (t *Tokens) AddCode(c, redirectURI string, l Login) {
	t.mu.Lock()
	t.init()
	t.codes[c] = code{redirect: redirectURI, login: l}
	t.mu.Unlock()
}

// RedeemCode uses up code c: ok is false when it was never issued or already used; else
// redirectURI and l are what it was issued for.
func (t *Tokens) RedeemCode(c string) (redirectURI string, l Login, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ci, ok := t.codes[c]
	delete(t.codes, c)
	return ci.redirect, ci.login, ok
}

// AddAccess makes token an access token of l until expires.
func (t *Tokens) AddAccess(token string, expires time.Time, l Login) {
	t.mu.Lock()
	t.init()
	t.access[token] = access{expires: expires, login: l}
	t.mu.Unlock()
}

// Access returns the login of an issued access token and its expiry; ok is false for a
// token never issued.
func (t *Tokens) Access(token string) (l Login, expires time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.access[token]
	return a.login, a.expires, ok
}

// AddRefresh makes token a refresh token of l.
func (t *Tokens) AddRefresh(token string, l Login) {
	t.mu.Lock()
	t.init()
	t.refresh[token] = l
	t.mu.Unlock()
}

// Refresh returns the login of a valid refresh token; ok is false for a token never
// issued or revoked.
func (t *Tokens) Refresh(token string) (l Login, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok = t.refresh[token]
	return l, ok
}

// ExpireAccess makes every issued access token expired.
func (t *Tokens) ExpireAccess() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, a := range t.access {
		a.expires = time.Now().Add(-time.Second)
		t.access[k] = a
	}
}

// RevokeRefresh makes every refresh token invalid (invalid_grant).
func (t *Tokens) RevokeRefresh() {
	t.mu.Lock()
	t.refresh = map[string]Login{}
	t.mu.Unlock()
}

// AuthorizeRequests returns the query strings the authorize page received.
func (t *Tokens) AuthorizeRequests() []url.Values {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]url.Values(nil), t.authQs...)
}

// Page is an auto-approving authorize page.
type Page struct {
	// ClientID is the app's client id the request must carry.
	ClientID string
	// Refusal is the text of the 400 answer to a request without that client_id,
	// response_type=code or a redirect_uri.
	Refusal string
	// Issue returns a new authorization code for the request's query q.
	Issue func(q url.Values) string
	// Echo names query parameters copied to the redirect besides code and state (Google
	// echoes "scope").
	Echo []string
}

// Authorize records the request's query, then approves it as the user would: it
// redirects to redirect_uri with a new code and the request's state.
func (t *Tokens) Authorize(w http.ResponseWriter, r *http.Request, p Page) {
	q := r.URL.Query()
	t.mu.Lock()
	t.authQs = append(t.authQs, q)
	t.mu.Unlock()
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" || q.Get("redirect_uri") == "" {
		http.Error(w, p.Refusal, http.StatusBadRequest)
		return
	}
	c := p.Issue(q)
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := u.Query()
	v.Set("code", c)
	v.Set("state", q.Get("state"))
	for _, k := range p.Echo {
		v.Set(k, q.Get(k))
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}
