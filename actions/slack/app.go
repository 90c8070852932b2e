package slack

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/actionhub/actionhub/sdk"
)

// AppName is the name of the Slack app action.
const AppName = "slack_app"

// Versions of Looker.
const (
	// AppMinimumLookerVersion is the first Looker with the Slack app.
	AppMinimumLookerVersion = "6.23.0"
	// MultiWorkspaceVersion is the first Looker that sends one token per workspace.
	MultiWorkspaceVersion = "7.3.0"
)

// PlaceholderWorkspace keys the one client of a pre-7.3 (single token) state.
const PlaceholderWorkspace = "any"

// installURL is where Looker's admin connects Slack (a path inside Looker).
const installURL = "/admin/integrations/slack/install"

//go:embed icon_app.svg
var appIcon []byte

// App is the "slack_app" action: Looker runs the OAuth (delegate OAuth) and sends the
// tokens as the user's state.
type App struct{ core }

// NewApp returns the "slack_app" action. It needs no environment.
func NewApp(env *sdk.Env) (sdk.Action, error) { return &App{core{env: env}}, nil }

func init() {
	sdk.Register(sdk.Module{Name: LegacyName, New: NewLegacy})
	sdk.Register(sdk.Module{Name: AppName, New: NewApp})
}

// Definition is the Node action's.
func (a *App) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:        AppName,
		Label:       "Slack",
		Description: "Explore and share Looker content in Slack.",
		Icon:        iconURI(appIcon),
		Params: []sdk.Param{{
			Name: "install", Label: "Connect to Slack", Required: false, Sensitive: false,
			DelegateOAuthURL: installURL,
			// Node's template literal, newline and indentation included.
			Description: "View dashboards and looks,\n     browse your favorites or folders, and interact with Looker content without leaving Slack.",
		}},
		RequiredFields:       []sdk.RequiredField{},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery, sdk.TypeDashboard},
		Streaming:            true,
		MinimumLookerVersion: AppMinimumLookerVersion,
	}
}

// MultiWorkspace reports whether a Looker version sends per-workspace tokens.
func MultiWorkspace(lookerVersion string) bool {
	return lookerVersion != "" && sdk.VersionAtLeast(lookerVersion, MultiWorkspaceVersion)
}

// workspace is one connected Slack workspace.
type workspace struct {
	installID string
	token     string
}

// clients is the Node SlackClientManager: the workspaces of the user's state and the one
// the form selected.
type clients struct {
	list     []workspace
	selected string
}

// parseState reads the state Looker sends: a JSON array of {install_id, token} from
// Looker 7.3 on, else (or when it is not such an array) the raw string is the token.
func parseState(req *sdk.Request) *clients {
	raw := req.Params["state_json"]
	c := &clients{}
	if raw == "" {
		return c
	}
	if MultiWorkspace(req.LookerVersion) {
		var items []struct {
			InstallID string `json:"install_id"`
			Token     string `json:"token"`
		}
		if strings.HasPrefix(strings.TrimSpace(raw), "[") && json.Unmarshal([]byte(raw), &items) == nil {
			index := map[string]int{}
			for _, it := range items {
				if it.Token == "" {
					continue
				}
				if i, dup := index[it.InstallID]; dup {
					c.list[i].token = it.Token // a later entry wins, in the first one's place
					continue
				}
				index[it.InstallID] = len(c.list)
				c.list = append(c.list, workspace{installID: it.InstallID, token: it.Token})
			}
			if w := req.FormParams["workspace"]; w != "" {
				c.selected = w
			} else if len(c.list) > 0 {
				// Schedules made before the workspace field keep working with the first one.
				c.selected = c.list[0].installID
			}
			return c
		}
	}
	c.list = []workspace{{installID: PlaceholderWorkspace, token: raw}}
	c.selected = PlaceholderWorkspace
	return c
}

func (c *clients) get(id string) (workspace, bool) {
	for _, w := range c.list {
		if w.installID == id {
			return w, true
		}
	}
	return workspace{}, false
}

type authResult struct {
	teamID, team string
}

// authTest runs auth.test for every workspace at once. Failures are dropped unless every
// workspace failed; then the first failure is returned.
func (a *App) authTest(ctx context.Context, list []workspace) ([]authResult, error) {
	results := make([]authResult, len(list))
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i, w := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := a.client(w.token)
			errs[i] = a.call(ctx, "auth.test", true, 0, func(ctx context.Context) error {
				r, err := api.AuthTestContext(ctx)
				if err == nil {
					results[i] = authResult{teamID: r.TeamID, team: r.Team}
				}
				return err
			})
		}()
	}
	wg.Wait()
	var ok []authResult
	for i := range list {
		if errs[i] == nil {
			ok = append(ok, results[i])
		}
	}
	if len(list) > 0 && len(ok) == 0 {
		return nil, errs[0]
	}
	return ok, nil
}

// OAuthCheckForm answers Looker's connection test: one "Connected" message per workspace.
func (a *App) OAuthCheckForm(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	c := parseState(req)
	if len(c.list) == 0 {
		return &sdk.Form{Error: authMessage}, nil
	}
	results, err := a.authTest(ctx, c.list)
	if err != nil {
		return &sdk.Form{Error: displayError(err)}, nil
	}
	form := &sdk.Form{Fields: []sdk.Field{}}
	for _, r := range results {
		value := fmt.Sprintf("Connected with %s (%s)", r.team, r.teamID)
		if MultiWorkspace(req.LookerVersion) {
			b, _ := json.Marshal(struct {
				InstallationID   string `json:"installation_id"`
				InstallationName string `json:"installation_name"`
			}{r.teamID, r.team})
			value = string(b)
		}
		form.Fields = append(form.Fields, sdk.Field{Name: "Connected", Type: sdk.FieldMessage, Value: value})
	}
	return form, nil
}

// Form picks the workspace (Looker 7.3+), then shows the channel form; without a usable
// token it shows Looker's login link.
func (a *App) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	c := parseState(req)
	if len(c.list) == 0 {
		return loginForm(req, &sdk.Form{}), nil
	}
	form := &sdk.Form{}
	w, found := c.get(c.selected)
	if MultiWorkspace(req.LookerVersion) {
		results, err := a.authTest(ctx, c.list)
		if err != nil {
			a.env.Log().Warn("slack: failed to fetch workspaces", "error", displayError(err))
		} else if len(results) > 0 {
			def := req.FormParams["workspace"]
			if def == "" {
				def = results[0].teamID
			}
			if !found {
				w, found = c.get(def)
			}
			opts := make([]sdk.Option, len(results))
			for i, r := range results {
				opts[i] = sdk.Option{Name: r.teamID, Label: r.team}
			}
			form.Fields = append(form.Fields, sdk.Field{
				Description: "Name of the Slack workspace you would like to share in.",
				Label:       "Workspace", Name: "workspace", Options: opts, Required: true,
				Default: def, Interactive: true, Type: sdk.FieldSelect})
		}
	}
	if !found {
		return loginForm(req, form), nil
	}
	channelType := req.FormParams["channelType"]
	if channelType == "" {
		channelType = TypeManual
	}
	fields, err := a.fieldsFor(ctx, a.client(w.token), channelType)
	if err != nil {
		a.env.Log().Warn("slack: form listing failed", "error", displayError(err))
		return loginForm(req, form), nil
	}
	form.Fields = append(form.Fields, fields...)
	return form, nil
}

// loginForm adds Looker's login link (its own state_url) to form.
func loginForm(req *sdk.Request, form *sdk.Form) *sdk.Form {
	u := req.Params["state_url"]
	if u == "" {
		form.Error = illegalState
		return form
	}
	form.State = &sdk.State{}
	form.Fields = append(form.Fields, sdk.Field{Name: "login", Type: sdk.FieldOAuthLink, Label: loginLabel,
		Description: loginText, OAuthURL: u})
	return form
}

// Execute delivers with the selected workspace's token.
func (a *App) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	c := parseState(req)
	w, ok := c.get(c.selected)
	if !ok {
		return failure("BAD_REQUEST", logPrefix+" Missing client"), nil
	}
	return a.deliver(ctx, req, a.client(w.token), w.token)
}

// compile-time checks of the optional interfaces.
var (
	_ sdk.FormAction          = (*App)(nil)
	_ sdk.DelegateOAuthAction = (*App)(nil)
	_ sdk.FormAction          = (*Legacy)(nil)
)
