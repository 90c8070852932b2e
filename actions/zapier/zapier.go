// Package zapier is the "zapier" action: it POSTs a query's results (json_detail) to a
// Zapier "Catch Hook" URL to start a Zap. It is the Node hub's ZapierAction on the shared
// webhook base (package webhook): https only, host in zapier.com (Zapier's hooks live at
// hooks.zapier.com), guarded against internal addresses, streamed.
package zapier

import (
	_ "embed"

	"github.com/actionhub/actionhub/actions/webhook"
	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "zapier"

// Domains are the registrable domains a Zapier webhook URL may be under. Zapier serves
// catch hooks at https://hooks.zapier.com/hooks/catch/<account>/<hook>/; the Node hub
// accepted any host under zapier.com, which existing schedules may use, so the check is
// on the registrable domain, label by label.
var Domains = []string{"zapier.com"}

//go:embed icon.svg
var iconSVG []byte

// Config is the action's webhook configuration.
var Config = webhook.Config{
	Name:        Name,
	Label:       "Zapier",
	Description: "Send data and begin a Zapier zap.",
	Icon:        sdk.IconDataURI("image/svg+xml", iconSVG),
	Vendor:      "Zapier",
	URLLabel:    "Zapier Webhook URL",
	Domains:     Domains,
}

func init() { sdk.Register(sdk.Module{Name: Name, New: New}) }

// New returns the action. It needs no configuration.
func New(env *sdk.Env) (sdk.Action, error) { return webhook.New(env, Config), nil }
