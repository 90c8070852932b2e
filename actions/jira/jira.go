// Package jira is the jira_create_issue action ("JIRA") of the Action Hub: it creates a
// Jira issue whose description links back to the Looker content, and attaches the data
// Looker sent to it.
//
// It speaks Jira's REST API v2 (https://developer.atlassian.com/cloud/jira/platform/rest/v2/
// and the Data Center equivalent): GET /rest/api/2/project and /rest/api/2/issuetype for
// the form, POST /rest/api/2/issue to create the issue, and POST
// /rest/api/2/issue/{key}/attachments (multipart/form-data, X-Atlassian-Token: no-check)
// for the data, streamed from Looker through an io.Pipe and a multipart.Writer rather than
// held in memory.
//
// Authentication is chosen by the optional admin param "auth_method":
//
//   - "api_token" (the default, and what the Node hub did): HTTP Basic with "username"
//     and "password". On Jira Cloud these are the account's email address and an API
//     token (https://id.atlassian.com/manage-profile/security/api-tokens); Atlassian no
//     longer accepts account passwords there. On Data Center they may be a user name and
//     password.
//   - "personal_access_token" (also "pat" or "bearer"): Authorization: Bearer <password>,
//     for Jira Data Center / Server 8.14+ personal access tokens. "username" is then
//     ignored (it stays a required setting, as in the Node hub, so existing settings load).
//
// Improvements on the Node hub: the data is attached to the issue (the Node hub required
// it and dropped it); the address keeps its scheme, port and context path (the Node hub
// forced port 443 even for http); the default issue type is one of the offered ones; a
// missing description or URL is left out instead of printed as "undefined".
//
// The address is an admin setting, but one hub may serve several Looker instances, so calls
// go through the hub's network guard (package netguard): a Jira server on a private network
// needs ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS=true.
package jira

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"

	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name.
const Name = "jira_create_issue"

// Admin params.
const (
	ParamAddress  = "address"
	ParamUsername = "username"
	ParamPassword = "password"
	// ParamAuthMethod selects the authentication, see the package doc.
	ParamAuthMethod = "auth_method"
)

// Authentication methods of ParamAuthMethod.
const (
	AuthAPIToken = "api_token"
	AuthPAT      = "personal_access_token"
)

// REST paths, relative to the address.
const (
	pathProjects   = "/rest/api/2/project"
	pathIssueTypes = "/rest/api/2/issuetype"
	pathIssue      = "/rest/api/2/issue"
)

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() { sdk.Register(Module(Options{})) }

// Options tune the action; the zero value is the production setting.
type Options struct {
	// HTTP overrides fields of the vendor client's configuration (retries, backoff,
	// timeout, clock, client).
	HTTP vendorhttp.Config
}

// Module returns the registrable action.
func Module(opts Options) sdk.Module {
	return sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) { return New(env, opts), nil }}
}

// New returns the action. It needs no environment variable.
func New(env *sdk.Env, opts Options) *Action {
	hc := opts.HTTP.Client
	if hc == nil {
		hc = netguard.FromEnv(env.Get).Client()
	}
	cfg := vendorhttp.Config{Vendor: "jira", Client: hc,
		// Creating an issue is not idempotent: only 429 (not processed, Retry-After given)
		// is retried by status. Jira has no idempotency key, so a connection lost after Jira
		// created the issue can, on retry, create it twice.
		Retryable: func(status int) bool { return status == http.StatusTooManyRequests }}
	o := opts.HTTP
	if o.MaxRetries != 0 {
		cfg.MaxRetries = o.MaxRetries
	}
	if o.MinBackoff != 0 {
		cfg.MinBackoff = o.MinBackoff
	}
	if o.MaxBackoff != 0 {
		cfg.MaxBackoff = o.MaxBackoff
	}
	if o.Timeout != 0 {
		cfg.Timeout = o.Timeout
	}
	if o.Clock != nil {
		cfg.Clock = o.Clock
	}
	read := cfg
	read.Retryable = vendorhttp.DefaultRetryable
	return &Action{http: hc, create: vendorhttp.New(cfg), read: vendorhttp.New(read)}
}

// Action is jira_create_issue.
type Action struct {
	http   *http.Client
	create *vendorhttp.Client // POST issue: retried on 429 only
	read   *vendorhttp.Client // GETs: default retry policy
}

// Definition describes the action as the Node hub lists it, plus the optional auth method.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:        Name,
		Label:       "JIRA",
		Description: "Create a JIRA issue referencing data.",
		Icon:        icon,
		Params: []sdk.Param{
			{Name: ParamAddress, Label: "Address", Required: true, Sensitive: false,
				Description: "The address of your JIRA server ex. https://myjira.atlassian.net."},
			{Name: ParamUsername, Label: "Username", Required: true, Sensitive: false,
				Description: "The JIRA username assigned to create issues for Looker. On Jira Cloud, the account's email address."},
			{Name: ParamPassword, Label: "Password", Required: true, Sensitive: true,
				Description: "The password for the JIRA user assigned to Looker. On Jira Cloud, an API token; " +
					"on Data Center, a password or a personal access token (see Authentication Method)."},
			{Name: ParamAuthMethod, Label: "Authentication Method", Required: false, Sensitive: false,
				Description: `"api_token" (default): Basic auth with Username and Password (Jira Cloud email and API token). ` +
					`"personal_access_token": Bearer auth with the Password field holding a Jira Data Center personal access token.`},
		},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery},
	}
}

// conn is one request's Jira server and credentials.
type conn struct {
	base   string
	auth   string
	secret []string
}

func connOf(req *sdk.Request) (*conn, error) {
	u, err := url.Parse(req.Param(ParamAddress))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, sdk.Errorf("Invalid JIRA server address.")
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	c := &conn{base: strings.TrimRight(u.String(), "/")}
	pass := req.Params[ParamPassword]
	switch strings.ToLower(req.Param(ParamAuthMethod)) {
	case "", AuthAPIToken, "basic", "api token":
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(req.Params[ParamUsername]+":"+pass))
	case AuthPAT, "pat", "bearer":
		c.auth = "Bearer " + pass
	default:
		return nil, sdk.Errorf("Unknown JIRA authentication method %q: use %s or %s.", req.Param(ParamAuthMethod), AuthAPIToken, AuthPAT)
	}
	c.secret = []string{pass, c.auth, strings.TrimPrefix(strings.TrimPrefix(c.auth, "Basic "), "Bearer ")}
	return c, nil
}

func (c *conn) header() http.Header {
	return http.Header{"Authorization": {c.auth}, "Accept": {"application/json"}}
}

// jiraMessage turns Jira's error body {"errorMessages":[...],"errors":{field:msg}} into text.
func jiraMessage(body []byte) string {
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	parts := append([]string(nil), e.ErrorMessages...)
	for k, v := range e.Errors {
		parts = append(parts, k+": "+v)
	}
	return strings.Join(parts, "; ")
}

func (c *conn) errText(resp *vendorhttp.Response, err error) string {
	var se *vendorhttp.StatusError
	if errors.As(err, &se) && resp != nil {
		if m := jiraMessage(resp.Body); m != "" {
			return vendorhttp.Redact(fmt.Sprintf("JIRA: HTTP %d: %s", se.Status, m), c.secret...)
		}
	}
	return vendorhttp.Redact(err.Error(), c.secret...)
}

func (a *Action) getJSON(ctx context.Context, c *conn, path string, v any) error {
	resp, err := a.read.Do(ctx, &vendorhttp.Request{Method: http.MethodGet, URL: c.base + path,
		Header: c.header(), Credential: c.auth, Secrets: c.secret})
	if err != nil {
		return errors.New(c.errText(resp, err))
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return fmt.Errorf("JIRA: unexpected answer to GET %s", path)
	}
	return nil
}

// Form offers the projects and the issue types (those with a description, as the Node hub
// did), then the summary and description.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	c, err := connOf(req)
	if err != nil {
		return &sdk.Form{Error: err.Error()}, nil
	}
	var (
		projects []struct{ ID, Name string }
		types    []struct{ ID, Name, Description string }
		wg       sync.WaitGroup
		perr     error
		terr     error
	)
	wg.Add(2)
	go func() { defer wg.Done(); perr = a.getJSON(ctx, c, pathProjects, &projects) }()
	go func() { defer wg.Done(); terr = a.getJSON(ctx, c, pathIssueTypes, &types) }()
	wg.Wait()
	if err := errors.Join(perr, terr); err != nil {
		return &sdk.Form{Error: err.Error()}, nil
	}
	if len(projects) == 0 {
		return &sdk.Form{Error: "The JIRA user can see no project."}, nil
	}
	projectField := sdk.Field{Name: "project", Label: "Project", Type: sdk.FieldSelect, Required: true,
		Default: projects[0].ID}
	for _, p := range projects {
		projectField.Options = append(projectField.Options, sdk.Option{Name: p.ID, Label: p.Name})
	}
	typeField := sdk.Field{Name: "issueType", Label: "Issue Type", Type: sdk.FieldSelect, Required: true}
	for _, it := range types {
		if it.Description == "" {
			continue
		}
		typeField.Options = append(typeField.Options, sdk.Option{Name: it.ID, Label: it.Name})
	}
	if len(typeField.Options) > 0 {
		// The Node hub defaulted to the first type of the unfiltered list, which may not be
		// offered; the first offered one is.
		typeField.Default = typeField.Options[0].Name
	}
	return &sdk.Form{Fields: []sdk.Field{
		projectField,
		{Name: "summary", Label: "Summary", Type: sdk.FieldString, Required: true},
		{Name: "description", Label: "Description", Type: sdk.FieldTextarea, Required: true},
		typeField,
	}}, nil
}

// Execute creates the issue and attaches the data to it.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if !req.HasData() {
		return nil, sdk.Errorf("Couldn't get data from attachment")
	}
	c, err := connOf(req)
	if err != nil {
		return nil, err
	}
	description := req.FormParams["description"]
	if p := req.ScheduledPlan; p != nil && p.URL != "" {
		if description != "" {
			description += "\n"
		}
		description += "Looker URL: " + p.URL
	}
	type idRef struct {
		ID string `json:"id"`
	}
	issue := map[string]any{"fields": map[string]any{
		"project":     idRef{req.FormParams["project"]},
		"summary":     req.FormParams["summary"],
		"description": description,
		"issuetype":   idRef{req.FormParams["issueType"]},
	}}
	body, _ := json.Marshal(issue)
	h := c.header()
	h.Set("Content-Type", "application/json")
	resp, err := a.create.Do(ctx, &vendorhttp.Request{Method: http.MethodPost, URL: c.base + pathIssue,
		Header: h, Body: body, Credential: c.auth, Secrets: c.secret})
	if err != nil {
		return sdk.Fail(c.errText(resp, err)), nil
	}
	var created struct{ Key string }
	if json.Unmarshal(resp.Body, &created) != nil || created.Key == "" {
		return sdk.Fail("JIRA: unexpected answer to the issue creation"), nil
	}
	n, err := a.attach(ctx, c, req, created.Key)
	if err != nil {
		return sdk.Fail(fmt.Sprintf("Created JIRA issue %s, but attaching the data failed: %s", created.Key, err)), nil
	}
	res := sdk.OK(fmt.Sprintf("Created JIRA issue %s with the data attached (%d bytes).", created.Key, n))
	return res, nil
}

// attach streams Looker's data into a multipart upload to the issue. The body is produced
// while it is sent (io.Pipe), so the data is never held whole; for the same reason the
// upload is not retried.
func (a *Action) attach(ctx context.Context, c *conn, req *sdk.Request, key string) (int64, error) {
	src, err := req.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	filename := req.CompleteFilename()
	if filename == "" {
		filename = req.SuggestedFilename()
	}
	ctype := "application/octet-stream"
	if req.Attachment != nil && req.Attachment.MimeType != "" {
		ctype = strings.TrimSuffix(req.Attachment.MimeType, ";base64")
	} else if t := mime.TypeByExtension("." + req.Extension()); t != "" {
		ctype = t
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	var written int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		ph := textproto.MIMEHeader{}
		ph.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": filename}))
		ph.Set("Content-Type", ctype)
		part, err := mw.CreatePart(ph)
		if err == nil {
			written, err = io.Copy(part, src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+pathIssue+"/"+url.PathEscape(key)+"/attachments", pr)
	if err != nil {
		pr.CloseWithError(err)
		<-done
		return 0, err
	}
	hreq.Header = c.header()
	hreq.Header.Set("Content-Type", mw.FormDataContentType())
	hreq.Header.Set("X-Atlassian-Token", "no-check")
	resp, err := a.http.Do(hreq)
	if err != nil {
		pr.CloseWithError(err)
		<-done
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, errors.New(vendorhttp.Redact(err.Error(), c.secret...))
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	pr.CloseWithError(io.ErrClosedPipe)
	<-done
	if resp.StatusCode/100 != 2 {
		m := jiraMessage(rb)
		if m == "" {
			m = strings.TrimSpace(string(rb))
			if len(m) > 200 {
				m = m[:200]
			}
		}
		return 0, errors.New(vendorhttp.Redact(fmt.Sprintf("JIRA: HTTP %d: %s", resp.StatusCode, m), c.secret...))
	}
	return written, nil
}
