package sdk

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/actionhub/actionhub/sdk/actioncrypto"
)

// OAuthTokens reads the user's tokens from data.state_json into v, following the Node
// hub's rules: "reset", empty, null or unparsable state means no tokens; a {cid,payload}
// object is decrypted with the hub's cipher; any other object is taken as is.
// It returns false when there are no usable tokens.
func (r *Request) OAuthTokens(v any) bool {
	raw := strings.TrimSpace(r.Params["state_json"])
	if raw == "" || raw == "reset" {
		return false
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &probe); err != nil || probe == nil {
		return false
	}
	var p actioncrypto.Payload
	if json.Unmarshal(probe["cid"], &p.CID) == nil && json.Unmarshal(probe["payload"], &p.Payload) == nil &&
		p.CID != "" && p.Payload != "" {
		var obj map[string]any
		if err := r.Env.crypto().DecryptJSON(p.Payload, &obj); err != nil || obj == nil {
			return false
		}
		b, _ := json.Marshal(obj)
		return json.Unmarshal(b, v) == nil
	}
	return json.Unmarshal([]byte(raw), v) == nil
}

func (e *Env) crypto() *actioncrypto.Crypto {
	if e == nil {
		return nil
	}
	return e.Crypto
}

// EncodeUserState returns the state string to store for tokens: plain JSON, or the
// {cid,payload} form when encrypt is true (ENCRYPT_PAYLOAD_<NAME> or ENCRYPT_PAYLOAD).
func (e *Env) EncodeUserState(tokens any, encrypt bool) (string, error) {
	var v any = tokens
	if encrypt {
		p, err := e.crypto().Wrap(tokens)
		if err != nil {
			return "", err
		}
		v = p
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// LoginForm builds the Node hub's login form for a hub-driven OAuth action: one field of
// type fieldType (oauth_link or oauth_link_google) whose URL is the hub's /oauth route with
// the encrypted state. The state names where the result goes: {"tokenurl": state_redir_url}
// when Looker sent one and the action is OAuth v2, else {"stateurl": state_url}; extra keys
// (a PKCE verifier, ...) are added. The form's state is {} as in Node.
func (r *Request) LoginForm(fieldType FieldType, label, description string, extra map[string]any) (*Form, error) {
	state := map[string]any{}
	for k, v := range extra {
		state[k] = v
	}
	if redir, ok := r.Params["state_redir_url"]; ok && r.isV2() {
		state["tokenurl"] = redir
	} else {
		state["stateurl"] = r.Params["state_url"]
	}
	enc, err := r.Env.crypto().EncryptJSON(state)
	if err != nil {
		return nil, errors.New("OAuth is not available: the hub has no valid CIPHER_MASTER")
	}
	if label == "" {
		label = "Log in"
	}
	return &Form{
		Fields: []Field{{Name: "login", Type: fieldType, Label: label, Description: description,
			OAuthURL: r.Env.ActionURL(r.ActionName, "/oauth?state="+enc)}},
		State: &State{},
	}, nil
}

// v2 marks requests routed to an OAuthV2Action (set by the server).
func (r *Request) isV2() bool { return r.oauthV2 }

// SetOAuthV2 is used by the server to tell LoginForm the action uses the token route.
func (r *Request) SetOAuthV2(v bool) { r.oauthV2 = v }
