package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

// CloseTabHTML is the page the Node hub shows when an OAuth redirect completed.
const CloseTabHTML = "<html><script>window.close()</script><body>You may now close this tab.</body></html>"

const noOAuth = "Action does not support OAuth."

// oauthAction finds an OAuth action for the unauthenticated browser routes (no version gate:
// browsers send no Looker User-Agent).
func (s *Server) oauthAction(w http.ResponseWriter, r *http.Request) (sdk.OAuthAction, string, bool) {
	name := r.PathValue("id")
	infoOf(r).action = name
	a, err := s.find(name, "")
	if err != nil {
		writeRequestError(w, err)
		return nil, "", false
	}
	oa, ok := a.(sdk.OAuthAction)
	if !ok {
		writeError(w, http.StatusNotFound, noOAuth)
		return nil, "", false
	}
	return oa, a.Definition().Name, true
}

func (s *Server) redirectURI(name string) string { return s.env.ActionURL(name, "/oauth_redirect") }

// decryptState opens the encrypted OAuth state; an absent or unreadable state is an empty map.
func (s *Server) decryptState(enc string) (map[string]any, error) {
	m := map[string]any{}
	if enc == "" {
		return m, errors.New("missing state")
	}
	if err := s.env.Crypto.DecryptJSON(enc, &m); err != nil {
		return map[string]any{}, err
	}
	return m, nil
}

func (s *Server) oauth(w http.ResponseWriter, r *http.Request) {
	infoOf(r).route = "oauth"
	oa, name, ok := s.oauthAction(w, r)
	if !ok {
		return
	}
	enc := r.URL.Query().Get("state")
	state, _ := s.decryptState(enc)
	u, err, panicked := run(func() (string, error) {
		return oa.OAuthURL(r.Context(), s.redirectURI(name), enc, state)
	})
	if err != nil {
		s.oauthFail(w, r, err, panicked)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}

func (s *Server) oauthFail(w http.ResponseWriter, r *http.Request, err error, panicked bool) {
	infoOf(r).err = safeErrorText(err, panicked)
	if e, ok := sdk.AsError(err); ok {
		writeError(w, http.StatusNotFound, e.Text)
		return
	}
	writeError(w, http.StatusInternalServerError, "Internal server error.")
}

func (s *Server) oauthCheck(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("id")
	infoOf(r).action = name
	req := &sdk.Request{Params: map[string]string{}, FormParams: map[string]string{}, Env: s.env,
		LookerVersion: sdk.LookerVersion(r.Header.Get("User-Agent")), ActionName: name}
	a, err := s.find(name, req.LookerVersion)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	oa, ok := a.(sdk.OAuthAction)
	if !ok {
		writeError(w, http.StatusNotFound, noOAuth)
		return
	}
	okay, err, panicked := run(func() (bool, error) { return oa.OAuthCheck(r.Context(), req) })
	if err != nil {
		s.oauthFail(w, r, err, panicked)
		return
	}
	writeJSON(w, http.StatusOK, okay)
}

// encryptState reports whether an action's stored tokens are wrapped as {cid,payload}.
func (s *Server) encryptState(a sdk.OAuthAction, name string) bool {
	if e, ok := a.(interface{ EncryptState() bool }); ok {
		return e.EncryptState()
	}
	return s.env.EncryptPayload(name)
}

func (s *Server) oauthRedirect(w http.ResponseWriter, r *http.Request) {
	infoOf(r).route = "oauth_redirect"
	oa, name, ok := s.oauthAction(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	state, err := s.decryptState(q.Get("state"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "The OAuth state is missing or invalid; start the login again from Looker.")
		return
	}
	redirect := s.redirectURI(name)
	if q.Get("error") != "" && q.Get("code") == "" {
		writeError(w, http.StatusBadRequest, "The provider refused the login: "+sanitizeProviderError(q.Get("error")))
		return
	}
	if tokenURL, _ := state["tokenurl"].(string); tokenURL != "" {
		if _, v2 := oa.(sdk.OAuthV2Action); v2 {
			s2, err := s.env.Crypto.EncryptJSON(map[string]string{"code": q.Get("code"), "redirecturi": redirect})
			if err != nil {
				s.oauthFail(w, r, err, false)
				return
			}
			http.Redirect(w, r, tokenURL+"?state="+s2, http.StatusFound)
			return
		}
	}
	cb := &sdk.OAuthCallback{Code: q.Get("code"), RedirectURI: redirect, State: state, Query: q}
	userState, err, panicked := run(func() (any, error) { return oa.OAuthUserState(r.Context(), cb) })
	if err != nil {
		s.oauthFail(w, r, err, panicked)
		return
	}
	stateURL, _ := state["stateurl"].(string)
	if stateURL == "" {
		stateURL, _ = state["stateUrl"].(string)
	}
	if stateURL == "" {
		writeError(w, http.StatusBadRequest, "The OAuth state has no Looker state URL; start the login again from Looker.")
		return
	}
	body, err := s.env.EncodeUserState(userState, s.encryptState(oa, name))
	if err != nil {
		s.oauthFail(w, r, err, false)
		return
	}
	if err := s.postState(r.Context(), stateURL, body); err != nil {
		infoOf(r).err = "posting state to Looker failed"
		writeError(w, http.StatusBadGateway, "Could not save the login in Looker: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, CloseTabHTML)
}

// postState sends the user's new state to Looker's one-time state URL.
func (s *Server) postState(ctx context.Context, stateURL, body string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, stateURL, bytes.NewReader([]byte(body)))
	if err != nil {
		return errors.New("invalid state URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.env.Client().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode >= 300 {
		return errors.New("Looker answered " + resp.Status)
	}
	return nil
}

func sanitizeProviderError(s string) string {
	if len(s) > 100 {
		s = s[:100]
	}
	out := make([]rune, 0, len(s))
	for _, c := range s {
		if c == '_' || c == '-' || c == ' ' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			out = append(out, c)
		}
	}
	return string(out)
}

type tokenReply struct {
	Tokens   any    `json:"tokens"`
	Redirect string `json:"redirect"`
}

func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	a, req, ok := s.prepare(w, r)
	if !ok {
		return
	}
	v2, ok := a.(sdk.OAuthV2Action)
	if !ok {
		writeError(w, http.StatusNotFound, "Action does not support the OAuth token route.")
		return
	}
	var st struct {
		Code        string `json:"code"`
		RedirectURI string `json:"redirecturi"`
	}
	if req.TokenState == "" || s.env.Crypto.DecryptJSON(req.TokenState, &st) != nil || st.Code == "" {
		// Node answers 500 here; a bad request is not a server fault, so we answer 400.
		infoOf(r).err = "missing or invalid token state"
		writeError(w, http.StatusBadRequest, "The OAuth token state is missing or invalid.")
		return
	}
	tokens, err, panicked := run(func() (any, error) { return v2.OAuthExchange(r.Context(), st.Code, st.RedirectURI) })
	if err != nil {
		s.oauthFail(w, r, err, panicked)
		return
	}
	var out any = tokenReply{Tokens: tokens, Redirect: st.RedirectURI}
	if s.encryptState(v2, req.ActionName) {
		p, err := s.env.Crypto.Wrap(out)
		if err != nil {
			s.oauthFail(w, r, err, false)
			return
		}
		out = p
	}
	writeJSON(w, http.StatusOK, out)
}
