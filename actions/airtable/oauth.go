package airtable

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// OAuth settings.
// https://airtable.com/developers/web/api/oauth-reference
const (
	authorizePath = "/oauth2/v1/authorize"
	tokenPath     = "/oauth2/v1/token"
	// Scope is what the action asks for: create records, and read bases to check the login.
	Scope = "data.records:write schema.bases:read schema.bases:write"
	// verifierBytes make a 128-character PKCE verifier (RFC 7636 allows 43 to 128).
	verifierBytes = 96
)

// Tokens are a user's Airtable tokens as kept in Looker's user state. They are written
// in the Node hub's nested shape, {"tokens":{"refresh_token","access_token"},"redirect"},
// and read from it or from the legacy flat shape {"access_token","refresh_token",
// "redirectUri"}.
type Tokens struct {
	RefreshToken string
	AccessToken  string
	Redirect     string
}

type tokenPair struct {
	RefreshToken string `json:"refresh_token"`
	AccessToken  string `json:"access_token"`
}

// MarshalJSON writes the nested shape (redirect omitted when empty).
func (t Tokens) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Tokens   tokenPair `json:"tokens"`
		Redirect string    `json:"redirect,omitempty"`
	}{tokenPair{t.RefreshToken, t.AccessToken}, t.Redirect})
}

// UnmarshalJSON reads the nested or the legacy flat shape.
func (t *Tokens) UnmarshalJSON(b []byte) error {
	var raw struct {
		Tokens       *tokenPair `json:"tokens"`
		Redirect     string     `json:"redirect"`
		RefreshToken string     `json:"refresh_token"`
		AccessToken  string     `json:"access_token"`
		RedirectURI  string     `json:"redirectUri"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Tokens != nil {
		*t = Tokens{RefreshToken: raw.Tokens.RefreshToken, AccessToken: raw.Tokens.AccessToken, Redirect: raw.Redirect}
		return nil
	}
	*t = Tokens{RefreshToken: raw.RefreshToken, AccessToken: raw.AccessToken, Redirect: raw.RedirectURI}
	return nil
}

// readTokens returns the request's tokens, if it has usable ones.
func readTokens(req *sdk.Request) (Tokens, bool) {
	var t Tokens
	if !req.OAuthTokens(&t) || (t.AccessToken == "" && t.RefreshToken == "") {
		return Tokens{}, false
	}
	return t, true
}

func newVerifier() string {
	b := make([]byte, verifierBytes)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// OAuthURL is Airtable's authorization URL with the PKCE challenge of the verifier the
// login form put in the encrypted state.
func (a *Action) OAuthURL(ctx context.Context, redirectURI, encState string, state map[string]any) (string, error) {
	verifier, _ := state["verifier"].(string)
	if len(verifier) < 43 {
		return "", sdk.Errorf("The login link is incomplete or expired: open the action's form in Looker again.")
	}
	q := url.Values{
		"client_id":             {a.ClientID},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {Scope},
		"state":                 {encState},
		"code_challenge":        {challenge(verifier)},
		"code_challenge_method": {"S256"},
	}
	return a.AuthURL + authorizePath + "?" + q.Encode(), nil
}

// OAuthUserState exchanges the code for tokens, which the server stores in Looker.
func (a *Action) OAuthUserState(ctx context.Context, cb *sdk.OAuthCallback) (any, error) {
	verifier, _ := cb.State["verifier"].(string)
	if cb.Code == "" || verifier == "" {
		return nil, sdk.Errorf("Airtable sent no authorization code: start the login again from Looker.")
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Code}, "code_verifier": {verifier},
		"redirect_uri": {cb.RedirectURI}, "client_id": {a.ClientID}}
	t, err := a.tokenCall(ctx, form, cb.Code, verifier)
	if err != nil {
		return nil, errors.New("OAuth did not work")
	}
	t.Redirect = cb.RedirectURI
	return t, nil
}

// OAuthCheck reports whether the request carries tokens.
func (a *Action) OAuthCheck(ctx context.Context, req *sdk.Request) (bool, error) {
	_, ok := readTokens(req)
	return ok, nil
}

// errLoginGone is a refresh Airtable refused: the user must log in again.
var errLoginGone = errors.New("the Airtable login has expired or was revoked: log in again from the action's form")

// tokenCall posts to the token endpoint with the client's credentials (HTTP Basic, as
// Airtable requires for confidential clients) and returns the tokens granted.
func (a *Action) tokenCall(ctx context.Context, form url.Values, secrets ...string) (Tokens, error) {
	resp, err := a.authClient().Do(ctx, &vendorhttp.Request{
		Method: http.MethodPost, URL: a.AuthURL + tokenPath, Body: []byte(form.Encode()),
		Header: http.Header{
			"Content-Type":  {"application/x-www-form-urlencoded"},
			"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(a.ClientID+":"+a.ClientSecret))},
		},
		Secrets: append(secrets, a.ClientSecret),
	})
	var se *vendorhttp.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusBadRequest || se.Status == http.StatusUnauthorized) {
		return Tokens{}, errLoginGone
	}
	if err != nil {
		return Tokens{}, err
	}
	var t tokenPair
	if json.Unmarshal(resp.Body, &t) != nil || t.AccessToken == "" {
		return Tokens{}, errors.New("airtable: the token endpoint answered without an access token")
	}
	return Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken}, nil
}

func (a *Action) authClient() *vendorhttp.Client {
	return vendorhttp.New(vendorhttp.Config{Vendor: "airtable", Client: a.Env.Client(), Timeout: a.Limits.Timeout,
		MaxRetries: 2, Clock: a.Limits.Clock})
}

// session holds one request's tokens and refreshes them, once per generation however
// many calls find the access token expired. Airtable's refresh tokens are single use, so
// the tokens it ends with must be given back to Looker (see State).
type session struct {
	a       *Action
	mu      sync.Mutex
	tok     Tokens
	changed bool
	gone    bool
}

func (s *session) access() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok.AccessToken
}

// refresh gets new tokens unless another call already replaced the stale access token.
func (s *session) refresh(ctx context.Context, stale string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return "", errLoginGone
	}
	if s.tok.AccessToken != stale {
		return s.tok.AccessToken, nil
	}
	if s.tok.RefreshToken == "" {
		s.gone = true
		return "", errLoginGone
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.tok.RefreshToken}, "client_id": {s.a.ClientID}}
	t, err := s.a.tokenCall(ctx, form, s.tok.RefreshToken, s.tok.AccessToken)
	if errors.Is(err, errLoginGone) {
		s.gone = true
	}
	if err != nil {
		return "", err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = s.tok.RefreshToken
	}
	t.Redirect = s.tok.Redirect
	s.tok, s.changed = t, true
	return t.AccessToken, nil
}

// State is the user state to give back to Looker: the current tokens (as the Node action
// always did), or "reset" when Airtable refused the refresh token so that the next form
// asks to log in again.
func (s *session) State() (*sdk.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return sdk.ResetState(), nil
	}
	data, err := s.a.Env.EncodeUserState(s.tok, s.a.Env.EncryptPayload(Name))
	if err != nil {
		return nil, fmt.Errorf("airtable: encoding the tokens: %w", err)
	}
	return sdk.NewState(data), nil
}

// checkLogin lists the user's bases (GET /v0/meta/bases), refreshing the tokens once
// when the access token is refused.
func (s *session) checkLogin(ctx context.Context) error {
	for renewed := false; ; renewed = true {
		tok := s.access()
		_, err := s.a.apiClient().Do(ctx, &vendorhttp.Request{Method: http.MethodGet, URL: s.a.APIURL + "/v0/meta/bases",
			Header: http.Header{"Authorization": {"Bearer " + tok}}, Secrets: []string{tok}})
		var se *vendorhttp.StatusError
		if errors.As(err, &se) && se.Status == http.StatusUnauthorized && !renewed {
			if _, err := s.refresh(ctx, tok); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// oauthLinkName is the login field's name in the Node action.
const oauthLinkName = "oauth"

// loginForm is the Node action's login form: one oauth_link field "Login" whose URL
// carries, encrypted, Looker's state URL and a fresh PKCE verifier.
func (a *Action) loginForm(req *sdk.Request) (*sdk.Form, error) {
	f, err := req.LoginForm(sdk.FieldOAuthLink, "Login", "", map[string]any{"verifier": newVerifier()})
	if err != nil {
		return &sdk.Form{Error: strings.TrimSpace(err.Error())}, nil
	}
	f.Fields[0].Name = oauthLinkName
	return f, nil
}
