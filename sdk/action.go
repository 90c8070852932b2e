package sdk

import (
	"context"
	"net/url"
)

// Action is the one thing every action implements.
type Action interface {
	// Definition describes the action for the action list. It is called often and must be cheap.
	Definition() *Definition
	// Execute runs the action. A *Error (see Errorf) becomes the Action API's 404 answer with
	// its text, as the Node hub does for thrown strings; any other error becomes a
	// success:false envelope carrying err.Error(), which must therefore hold no secret.
	Execute(ctx context.Context, req *Request) (*Response, error)
}

// FormAction is implemented by actions that show a form before they run.
type FormAction interface {
	Form(ctx context.Context, req *Request) (*Form, error)
}

// OAuthAction is implemented by actions whose users log in to the vendor through the hub
// (the Node hub's OAuthAction, "v1"). The server owns the routes, the state encryption and
// the delivery of the new user state to Looker; the action supplies only the vendor steps.
type OAuthAction interface {
	// OAuthURL returns the vendor's authorization URL. encState is the encrypted state
	// to pass through as the OAuth "state" parameter; state is its decrypted content
	// (for example a PKCE verifier put there by the action's login form).
	OAuthURL(ctx context.Context, redirectURI, encState string, state map[string]any) (string, error)
	// OAuthUserState turns the vendor's redirect into the user state to store in Looker
	// (usually the tokens), JSON-encoded by the server. It is POSTed to the state URL the
	// login form put in the encrypted state.
	OAuthUserState(ctx context.Context, cb *OAuthCallback) (any, error)
	// OAuthCheck reports whether the request carries usable credentials.
	OAuthCheck(ctx context.Context, req *Request) (bool, error)
}

// OAuthV2Action is implemented by actions that use Looker's token route (the Node hub's
// OAuthActionV2): Looker itself calls the hub to exchange the code.
type OAuthV2Action interface {
	OAuthAction
	// OAuthExchange trades an authorization code for tokens.
	OAuthExchange(ctx context.Context, code, redirectURI string) (any, error)
}

// DelegateOAuthAction is implemented by actions whose OAuth is run by Looker itself
// (slack_app). OAuthCheckForm answers Looker's connection test.
type DelegateOAuthAction interface {
	OAuthCheckForm(ctx context.Context, req *Request) (*Form, error)
}

// OAuthCallback is what the vendor's redirect brought back to the hub.
type OAuthCallback struct {
	Code        string
	RedirectURI string
	// State is the decrypted state the login form made (stateurl, verifier, ...).
	State map[string]any
	// Query is the whole redirect query string.
	Query url.Values
}

// UsesOAuth reports whether a lists as uses_oauth.
func UsesOAuth(a Action) bool {
	switch a.(type) {
	case OAuthAction, DelegateOAuthAction:
		return true
	}
	return false
}
