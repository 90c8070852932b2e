// Package googledrive is the "google_drive" action: it creates a new file (any rendered
// format) in the user's My Drive or a shared drive, after an OAuth v2 login through Looker's
// token route. Its Base (login, token state, refresh, Drive client, destination form) is
// shared with package googlesheets.
//
// Compared with the Node action: the data is streamed with Drive's resumable protocol in
// fixed chunks (each retried on 429/5xx after asking Drive what it kept), a cut download
// cancels the session so nothing is created, refreshed access tokens go back to Looker as
// the new state, the domain allow-list is enforced at execute (not only at form) and
// matches whole domains, and the folder list is bounded.
//
// State read and written: {"tokens":{googleapis credentials},"redirect":...}, plain or as
// {cid,payload} when ENCRYPT_PAYLOAD is "true" (the Node action's format).
package googledrive

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "google_drive"

// LogPrefix tags the action's error texts, as in Node.
const LogPrefix = "[GOOGLE_DRIVE]"

// Environment variables that gate the action.
const (
	EnvClientID     = "GOOGLE_DRIVE_CLIENT_ID"
	EnvClientSecret = "GOOGLE_DRIVE_CLIENT_SECRET"
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() {
	sdk.Register(sdk.Module{Name: Name, New: New})
}

// New returns the action, or an error wrapping sdk.ErrNotConfigured without the client
// credentials.
func New(env *sdk.Env) (sdk.Action, error) {
	vals, err := env.Require(EnvClientID, EnvClientSecret)
	if err != nil {
		return nil, err
	}
	return &Action{Base: NewBase(env, Name, LogPrefix, vals[0], vals[1], []string{ScopeDrive, ScopeEmail})}, nil
}

// Action is the google_drive action.
type Action struct{ *Base }

// DomainAllowlistParam is the admin param both Google actions take.
var DomainAllowlistParam = sdk.Param{
	Name:     "domain_allowlist",
	Label:    "Domain Allowlist",
	Required: false, Sensitive: false,
	Description: "Comma separated domain allowlist ex: facts.com,car.com. Be advised that if this is enabled after, " +
		"all existing accounts will have to reauth due to an additional scope needed to check the email address.",
}

// Definition describes the action as the Node hub lists it.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                 Name,
		Label:                "Google Drive",
		Description:          "Create a new file in Google Drive.",
		Icon:                 icon,
		SupportedActionTypes: []sdk.ActionType{sdk.TypeDashboard, sdk.TypeQuery},
		Streaming:            true,
		MinimumLookerVersion: "7.3.0",
		Params:               []sdk.Param{DomainAllowlistParam},
		RequiredFields:       []sdk.RequiredField{},
	}
}

// Form is the destination form (drive, folder, filename) or the login form.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	form, _, err := a.DestinationForm(ctx, req, "Google Drive")
	return form, err
}

// DestinationForm builds the Node action's form: the drive select (My Drive and shared
// drives), then either the folder select (after the user picked "Fetch") or the folder URL
// field with the "Fetch" select, then the filename; its state is the token payload (so a
// refreshed token or ENCRYPT_PAYLOAD reach Looker). Without a usable login it returns the
// login form and a nil session.
func (b *Base) DestinationForm(ctx context.Context, req *sdk.Request, product string) (*sdk.Form, *Session, error) {
	sess, err := b.Session(req)
	if err != nil {
		form, err := b.LoginForm(req, product)
		return form, nil, err
	}
	if err := sess.CheckDomain(ctx, req.Param(DomainAllowlistParam.Name)); err != nil {
		return b.formFailure(req, product, err)
	}
	d := sess.Drive()
	drives, err := d.ListDrives(ctx)
	if err != nil {
		return b.formFailure(req, product, err)
	}
	options := []sdk.Option{{Name: "mydrive", Label: "My Drive"}}
	for _, sd := range drives {
		if sd.ID != "" && sd.Name != "" {
			options = append(options, sdk.Option{Name: sd.ID, Label: sd.Name})
		}
	}
	fields := []sdk.Field{{
		Description: "Google Drive where your file will be saved",
		Label:       "Select Drive to save file",
		Name:        "drive",
		Options:     options,
		Default:     options[0].Name,
		Interactive: true,
		Required:    true,
		Type:        sdk.FieldSelect,
	}}
	if req.FormParams["fetchpls"] != "" {
		folders, err := d.ListFolders(ctx, sharedDrive(req))
		if err != nil {
			return b.formFailure(req, product, err)
		}
		fopts := []sdk.Option{{Name: "root", Label: "Drive Root"}}
		for _, f := range folders {
			if f.ID != "" && f.Name != "" {
				fopts = append(fopts, sdk.Option{Name: f.ID, Label: f.Name})
			}
		}
		fields = append(fields, sdk.Field{
			Description: "Google Drive folder where your file will be saved",
			Label:       "Select folder to save file",
			Name:        "folder",
			Options:     fopts,
			Default:     fopts[0].Name,
			Required:    true,
			Type:        sdk.FieldSelect,
		})
	} else {
		fields = append(fields, sdk.Field{
			Description: "Enter the full Google Drive URL of the folder where you want to save your data. It should look something " +
				"like https://drive.google.com/corp/drive/folders/xyz. If this is inaccessible, your data will be saved to the root " +
				"folder of your Google Drive. You do not need to enter a URL if you have already chosen a folder in the dropdown menu.\n",
			Label:    "Google Drive Destination URL",
			Name:     "folderid",
			Type:     sdk.FieldString,
			Required: false,
		}, sdk.Field{
			Description: "Fetch folders",
			Name:        "fetchpls",
			Type:        sdk.FieldSelect,
			Interactive: true,
			Label:       "Select Fetch to fetch a list of folders in this drive",
			Options:     []sdk.Option{{Label: "Fetch", Name: "fetch"}},
		})
	}
	fields = append(fields, sdk.Field{Label: "Enter a filename", Name: "filename", Type: sdk.FieldString, Required: true})
	st, err := sess.State()
	if err != nil {
		return nil, nil, err
	}
	return &sdk.Form{Fields: fields, State: st}, sess, nil
}

// formFailure answers a form whose login failed with the login form ("reset" state when
// the stored login is unusable), and a transient failure with a form error.
func (b *Base) formFailure(req *sdk.Request, product string, err error) (*sdk.Form, *Session, error) {
	var le *LoginError
	var ae *APIError
	if errors.As(err, &le) || (errors.As(err, &ae) && (ae.Code == http.StatusUnauthorized || ae.Code == http.StatusForbidden)) {
		b.Env.Log().Info(b.LogPrefix+" login needed", "reason", err.Error(), "webhookId", req.WebhookID)
		form, ferr := b.LoginForm(req, product)
		if ferr == nil && le != nil {
			form.State = sdk.ResetState()
		}
		return form, nil, ferr
	}
	return &sdk.Form{Error: fmt.Sprintf("%s could not be reached: %s", product, err.Error())}, nil, nil
}

// sharedDrive is the shared drive chosen in the form ("" for My Drive).
func sharedDrive(req *sdk.Request) string {
	if d := req.FormParams["drive"]; d != "" && d != "mydrive" {
		return d
	}
	return ""
}

var folderIDRe = regexp.MustCompile(`/folders/([^/?]+)`)

// Destination resolves the parent folder as the Node action: a folder URL containing
// "my-drive" is the root, a /folders/<id> URL is that folder, any other URL the root;
// without a URL the picked folder. A shared drive with no folder gets its own root (Node
// put such files in My Drive). It also returns the shared drive id ("" for My Drive).
func Destination(req *sdk.Request) (parent, shared string) {
	shared = sharedDrive(req)
	if fid := req.FormParams["folderid"]; fid != "" {
		parent = "root"
		if !strings.Contains(fid, "my-drive") {
			if m := folderIDRe.FindStringSubmatch(fid); m != nil {
				parent = m[1]
			}
		}
	} else {
		parent = req.FormParams["folder"]
	}
	if parent == "" && shared != "" {
		parent = shared
	}
	return parent, shared
}

// MimeType is the Drive file type for the request's data: the attachment's type without
// ";base64", else the type of form_params.format, else "" (Drive detects it).
func MimeType(req *sdk.Request) string {
	if req.Attachment != nil && req.Attachment.MimeType != "" {
		return strings.TrimSuffix(req.Attachment.MimeType, ";base64")
	}
	switch req.FormParams["format"] {
	case "csv":
		return "text/csv"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case "inline_json", "json", "json_label", "json_detail":
		return "application/json"
	case "html":
		return "text/html"
	case "txt":
		return "text/plain"
	}
	return ""
}

// NoStateResponse is the answer to an execute without a usable login: "reset" state.
func NoStateResponse(req *sdk.Request) *sdk.Response {
	msg := "Request did not have necessary oauth tokens saved. Fast failing"
	if strings.TrimSpace(req.Params["state_json"]) == "" {
		msg = "No state found with oauth credentials."
	}
	resp := sdk.Fail(msg)
	resp.State = sdk.ResetState()
	return resp
}

// Failure turns an execute error into the response: a lost login resets the state, a cut
// download says nothing was saved, a Google error carries its message and code in the
// structured error as the Node action did.
func (b *Base) Failure(err error, product string) *sdk.Response {
	var le *LoginError
	var se *SourceError
	var ae *APIError
	switch {
	case errors.As(err, &le):
		resp := sdk.Fail(le.Reason)
		resp.State = sdk.ResetState()
		return resp
	case errors.As(err, &se):
		return sdk.Fail(fmt.Sprintf("Upload aborted, nothing was saved to %s: %s", product, se.Error()))
	case errors.As(err, &ae):
		info := sdk.NewErrorInfo(sdk.StatusName(ae.Code), b.LogPrefix+" "+ae.Error())
		info.HTTPCode = ae.Code
		return &sdk.Response{Success: false, Message: ae.Error(), Error: info}
	}
	return &sdk.Response{Success: false, Message: err.Error(), Error: sdk.NewErrorInfo("INTERNAL", b.LogPrefix+" "+err.Error())}
}

// FilenameError is the 400 answer when no file name can be made.
func (b *Base) FilenameError(text string) *sdk.Response {
	info := sdk.NewErrorInfo("BAD_REQUEST", b.LogPrefix+" "+text)
	return &sdk.Response{Success: false, Message: info.Message, Error: info}
}

// Execute streams the data into a new Drive file.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	sess, err := a.Session(req)
	if err != nil {
		return NoStateResponse(req), nil
	}
	if err := sess.CheckDomain(ctx, req.Param(DomainAllowlistParam.Name)); err != nil {
		return sess.WithState(a.Failure(err, "Google Drive")), nil
	}
	name := req.Form("filename")
	if name == "" {
		name = req.SuggestedFilename()
	}
	if name == "" {
		return a.FilenameError("Error creating filename from request"), nil
	}
	parent, shared := Destination(req)
	mime := MimeType(req)
	// Node also put driveId in the metadata; Drive v3 treats it as output-only (the parent
	// decides where the file goes), so it is not sent.
	up := &Upload{Meta: File{Name: name, MimeType: mime}, MediaType: mime, SharedDrive: shared != "", ChunkSize: a.ChunkSize}
	if parent != "" {
		up.Meta.Parents = []string{parent}
	}
	f, n, err := a.Upload(ctx, sess, req, up)
	if e, ok := sdk.AsError(err); ok {
		return nil, e
	}
	if err != nil {
		return sess.WithState(a.Failure(err, "Google Drive")), nil
	}
	if f.Name != "" {
		name = f.Name
	}
	return sess.WithState(sdk.OK(fmt.Sprintf("Created %q (%d bytes) in Google Drive.", name, n))), nil
}

// Upload opens the request's data and streams it with up.
func (b *Base) Upload(ctx context.Context, sess *Session, req *sdk.Request, up *Upload) (*File, int64, error) {
	rc, err := req.Open(ctx)
	if err != nil {
		if _, ok := sdk.AsError(err); ok {
			return nil, 0, err
		}
		return nil, 0, &SourceError{Err: err}
	}
	defer rc.Close()
	return sess.Drive().Create(ctx, up, rc)
}
