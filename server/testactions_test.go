package server_test

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

// Test actions shaped like the four entries of vectors/requests/01_action_list.json.

type fileAction struct{}

func (fileAction) Definition() *sdk.Definition {
	return &sdk.Definition{Name: "azure_storage", Label: "Azure Storage", Description: "Write data files to an Azure container.",
		Icon: "data:image/png;base64,iVBORw0KGgo...(truncated)",
		Params: []sdk.Param{
			{Name: "account", Label: "Storage Account", Required: true, Sensitive: false, Description: "Your account for Azure."},
			{Name: "accessKey", Label: "Access Key", Required: true, Sensitive: true, Description: "Your access key for Azure."},
		},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery, sdk.TypeDashboard}, Streaming: true}
}
func (fileAction) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	return sdk.OK(""), nil
}
func (fileAction) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{{Name: "container", Label: "Container", Type: sdk.FieldSelect, Required: true,
		Options: []sdk.Option{{Name: "a", Label: "a"}}}}}, nil
}

// oauthV1 is shaped like airtable: push, OAuth v1.
type oauthV1 struct{}

func (oauthV1) Definition() *sdk.Definition {
	return &sdk.Definition{Name: "airtable", Label: "Airtable", Description: "Add records to an Airtable table.",
		Icon: "data:image/png;base64,iVBORw0KGgo...(truncated)", Params: []sdk.Param{},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery}, SupportedFormats: []sdk.Format{sdk.FormatJSONDetail},
		SupportedFormattings: []sdk.Formatting{sdk.Unformatted}, SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply}}
}
func (oauthV1) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	var tok map[string]any
	if !req.OAuthTokens(&tok) {
		return &sdk.Response{Success: false, Message: "not logged in", State: sdk.ResetState()}, nil
	}
	return sdk.OK("token " + tok["code"].(string)), nil
}
func (oauthV1) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	var tok map[string]any
	if req.OAuthTokens(&tok) {
		return &sdk.Form{Fields: []sdk.Field{{Name: "table", Label: "Table"}}}, nil
	}
	return req.LoginForm(sdk.FieldOAuthLink, "Log in", "Log in to Airtable.", map[string]any{"verifier": "v123"})
}
func (oauthV1) OAuthURL(ctx context.Context, redirectURI, encState string, state map[string]any) (string, error) {
	v, _ := state["verifier"].(string)
	return "https://provider.example/authorize?" + url.Values{"redirect_uri": {redirectURI}, "state": {encState}, "challenge": {v}}.Encode(), nil
}
func (oauthV1) OAuthUserState(ctx context.Context, cb *sdk.OAuthCallback) (any, error) {
	if cb.Code == "bad" {
		return nil, sdk.Errorf("The provider refused the code.")
	}
	return map[string]string{"code": cb.Code, "redirect": cb.RedirectURI}, nil
}
func (oauthV1) OAuthCheck(ctx context.Context, req *sdk.Request) (bool, error) { return true, nil }

// oauthV2 is shaped like google_drive (and has no form).
type oauthV2 struct{}

func (oauthV2) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	return oauthV1{}.Execute(ctx, req)
}
func (oauthV2) OAuthURL(ctx context.Context, r, e string, s map[string]any) (string, error) {
	return oauthV1{}.OAuthURL(ctx, r, e, s)
}
func (oauthV2) OAuthUserState(ctx context.Context, cb *sdk.OAuthCallback) (any, error) {
	return oauthV1{}.OAuthUserState(ctx, cb)
}
func (oauthV2) OAuthCheck(ctx context.Context, req *sdk.Request) (bool, error) { return true, nil }
func (oauthV2) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return oauthV1{}.Form(ctx, req)
}

// formless has no form.
type formless struct{}

func (formless) Definition() *sdk.Definition {
	return &sdk.Definition{Name: "formless", Label: "Formless", SupportedActionTypes: []sdk.ActionType{sdk.TypeCell}}
}
func (formless) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	return sdk.OK(req.Params["value"]), nil
}

func (oauthV2) Definition() *sdk.Definition {
	return &sdk.Definition{Name: "google_drive", Label: "Google Drive", Description: "Create a new file in Google Drive.",
		Icon: "data:image/svg+xml;base64,PHN2Zy...(truncated)",
		Params: []sdk.Param{{Name: "domain_allowlist", Label: "Domain Allowlist", Required: false, Sensitive: false,
			Description: "(shortened) Comma separated domain allowlist"}},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeDashboard, sdk.TypeQuery}, Streaming: true}
}
func (oauthV2) OAuthExchange(ctx context.Context, code, redirectURI string) (any, error) {
	if code == "norefresh" {
		return nil, errors.New("OAuth tokens are invalid.")
	}
	return map[string]any{"access_token": "at-" + code, "refresh_token": "rt"}, nil
}

type debugLike struct{}

func (debugLike) Definition() *sdk.Definition {
	return &sdk.Definition{Name: "debug", Label: "Debug", Description: "Sends data to a sample website and optionally sleeps.",
		Params: []sdk.Param{}, SupportedActionTypes: []sdk.ActionType{sdk.TypeCell, sdk.TypeDashboard, sdk.TypeQuery},
		SupportedFormats: []sdk.Format{}}
}
func (debugLike) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	return sdk.OK(""), nil
}
func (debugLike) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{}, nil
}

// behave is a test action whose behaviour comes from form_params.
type behave struct{}

func (behave) Definition() *sdk.Definition {
	return &sdk.Definition{Name: "behave", Label: "Behave", Description: "test",
		Params:               []sdk.Param{{Name: "api_key", Label: "API Key", Required: true, Sensitive: true}},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery}, MinimumLookerVersion: "7.0.0"}
}
func (behave) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if d := req.FormParams["sleep_ms"]; d != "" {
		t, _ := time.ParseDuration(d + "ms")
		time.Sleep(t)
	}
	switch req.FormParams["do"] {
	case "panic":
		panic("boom " + req.Params["api_key"])
	case "usererror":
		return nil, sdk.Errorf("Something the user must fix.")
	case "error":
		return nil, errors.New("vendor said no")
	case "report":
		r := sdk.NewReport()
		r.AddRead(3)
		r.AddDelivered(2)
		r.Reject(3, "invalid email")
		return sdk.FromReport(r), nil
	}
	return sdk.OK("done"), nil
}
func (behave) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	if req.FormParams["do"] == "usererror" {
		return nil, sdk.Errorf("bad form")
	}
	return &sdk.Form{Fields: []sdk.Field{{Name: "do", Label: "Do", Type: sdk.FieldSelect, Interactive: true,
		Options: []sdk.Option{{Name: "ok", Label: "OK"}}}}}, nil
}

func testModules() []sdk.Module {
	return []sdk.Module{sdk.Static(fileAction{}), sdk.Static(oauthV1{}), sdk.Static(oauthV2{}), sdk.Static(debugLike{}), sdk.Static(behave{}), sdk.Static(formless{})}
}
