// Package tray is the "tray" action: it POSTs a query's results (json_detail) to a Tray.io
// webhook trigger to start a workflow. It is the Node hub's TrayAction on the shared
// webhook base (package webhook): https only, host under trayapp.io or tray.io, guarded
// against internal addresses, streamed.
package tray

import (
	_ "embed"

	"github.com/actionhub/actionhub/actions/webhook"
	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "tray"

// Domains are the registrable domains a Tray webhook URL may be under. Tray webhook
// triggers are served at https://<id>.trayapp.io (the Node hub's only domain); tray.io is
// Tray's own domain, accepted for its regional and newer trigger hosts.
var Domains = []string{"trayapp.io", "tray.io"}

//go:embed icon.svg
var iconSVG []byte

// Config is the action's webhook configuration.
var Config = webhook.Config{
	Name:        Name,
	Label:       "Tray",
	Description: "Send data and begin a Tray workflow.",
	Icon:        sdk.IconDataURI("image/svg+xml", iconSVG),
	Vendor:      "Tray",
	URLLabel:    "Tray Webhook URL",
	Domains:     Domains,
}

func init() { sdk.Register(sdk.Module{Name: Name, New: New}) }

// New returns the action. It needs no configuration.
func New(env *sdk.Env) (sdk.Action, error) { return webhook.New(env, Config), nil }
