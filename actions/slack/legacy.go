package slack

import (
	"context"
	_ "embed"

	"github.com/actionhub/actionhub/sdk"
)

// LegacyName is the name of the API-token action.
const LegacyName = "slack"

//go:embed icon_legacy.svg
var legacyIcon []byte

// Legacy is the "slack" action: the token is an admin param; Looker pushes the data.
type Legacy struct{ core }

// NewLegacy returns the "slack" action. It needs no environment.
func NewLegacy(env *sdk.Env) (sdk.Action, error) { return &Legacy{core{env: env}}, nil }

// Definition is the Node action's. It stays on push delivery "to support legacy
// formats", as in Node.
func (a *Legacy) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:        LegacyName,
		Label:       "Slack Attachment (API Token)",
		Description: "Write a data file to Slack using a bot user token or legacy API token.",
		Icon:        iconURI(legacyIcon),
		Params: []sdk.Param{{
			Name: "slack_api_token", Label: "Slack API Token", Required: true, Sensitive: true,
			Description: `A Slack API token that includes the permissions "channels:read", ` +
				`"users:read", "groups:read", and "files:write:user". Follow the instructions to get a token at ` +
				`https://github.com/looker/actions/blob/master/src/actions/slack/legacy_slack/README.md`,
		}},
		RequiredFields:       []sdk.RequiredField{},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery, sdk.TypeDashboard},
	}
}

// Form lists channels or users with the token, or asks for an ID.
func (a *Legacy) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	channelType := req.FormParams["channelType"]
	if channelType == "" {
		channelType = TypeManual
	}
	fields, err := a.fieldsFor(ctx, a.client(req.Params["slack_api_token"]), channelType)
	if err != nil {
		return &sdk.Form{Fields: []sdk.Field{}, Error: displayError(err)}, nil
	}
	return &sdk.Form{Fields: fields}, nil
}

// Execute uploads the file or posts the comment.
func (a *Legacy) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	token := req.Params["slack_api_token"]
	return a.deliver(ctx, req, a.client(token), token)
}
