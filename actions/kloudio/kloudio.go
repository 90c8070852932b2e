// Package kloudio is the kloudio action ("Kloudio") of the Action Hub: it adds a query's
// rows to a Google Sheet through Kloudio's service.
//
// The flow is Kloudio's: ask the signed-URL service for an upload URL
// (GET <KLOUDIO_SIGNED_URL><uuid>.json&apiKey=<key>, answering {"signedURL"}), PUT the rows
// there as a JSON array of arrays (the dimension labels, then one array of dimension values
// per row), then ask the destination API (POST KLOUDIO_API_URL) to load that file into the
// sheet; its {"success","message"} is the action's answer.
//
// Improvements on the Node hub: no module-level variable shared by concurrent requests; the
// rows are streamed from Looker into a temporary file (a signed S3 PUT needs the length up
// front) instead of being held in memory; a failed upload fails the action instead of being
// logged and ignored; errors of the destination API are reported instead of crashing into a
// generic failure; sheet URLs without "#gid=" are accepted (the first sheet); API keys never
// appear in logs or errors.
//
// Environment (not gating, as in the Node hub): KLOUDIO_SIGNED_URL (the signed-URL
// service's prefix, ending in "key=") and KLOUDIO_API_URL (the destination API). Quotes
// around the values are removed. Without them the action is listed but answers that the hub
// is not configured for Kloudio.
//
// Values are taken as Looker sends them with the action's unformatted setting: the cell
// value (the Node hub preferred "rendered", which unformatted results do not set apart from
// the value for the dimensions it reads).
package kloudio

import (
	"bufio"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/rows"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Name is the action's name.
const Name = "kloudio"

// Environment variables.
const (
	EnvSignedURL = "KLOUDIO_SIGNED_URL"
	EnvAPIURL    = "KLOUDIO_API_URL"
)

// ReportName is the report name the destination API gets, as in the Node hub.
const ReportName = "Looker Report"

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() { sdk.Register(Module(Options{})) }

// Options tune the action; the zero value is the production setting.
type Options struct {
	// HTTP overrides fields of the vendor client's configuration.
	HTTP vendorhttp.Config
}

// Module returns the registrable action.
func Module(opts Options) sdk.Module {
	return sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) { return New(env, opts), nil }}
}

// Action is the kloudio action.
type Action struct {
	env       *sdk.Env
	signedURL string
	apiURL    string
	client    *vendorhttp.Client
}

func unquote(s string) string {
	return strings.NewReplacer(`"`, "", `'`, "").Replace(strings.TrimSpace(s))
}

// New returns the action.
func New(env *sdk.Env, opts Options) *Action {
	cfg := vendorhttp.Config{Vendor: "kloudio", Client: env.Client()}
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
	return &Action{env: env, signedURL: unquote(env.Get(EnvSignedURL)), apiURL: unquote(env.Get(EnvAPIURL)),
		client: vendorhttp.New(cfg)}
}

// Definition describes the action as the Node hub lists it.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                              Name,
		Label:                             "Kloudio",
		Description:                       "Add data to Google sheets.",
		Icon:                              icon,
		Params:                            []sdk.Param{},
		SupportedActionTypes:              []sdk.ActionType{sdk.TypeQuery},
		SupportedFormats:                  []sdk.Format{sdk.FormatJSONDetail},
		SupportedFormattings:              []sdk.Formatting{sdk.Unformatted},
		SupportedVisualizationFormattings: []sdk.VisFormatting{sdk.VisNoApply},
	}
}

// Form asks for the Kloudio API key and the sheet.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{
		{Label: "API Key", Name: "apiKey", Required: true, Type: sdk.FieldString},
		{Label: "Google Sheets URL", Name: "url", Required: true, Type: sdk.FieldString},
	}}, nil
}

var sheetPath = regexp.MustCompile(`^/spreadsheets/d/([A-Za-z0-9_-]+)(/.*)?$`)
var gidRE = regexp.MustCompile(`(?:^|[&#?])gid=([0-9]+)`)

// ParseSheetURL returns the spreadsheet and sheet ids of a Google Sheets URL such as
// https://docs.google.com/spreadsheets/d/<id>/edit#gid=<n>. Without a gid the sheet is "0"
// (the first sheet), where the Node hub refused the URL.
func ParseSheetURL(s string) (spreadsheetID, sheetID string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme != "https" || u.Host != "docs.google.com" {
		return "", "", false
	}
	m := sheetPath.FindStringSubmatch(u.Path)
	if m == nil {
		return "", "", false
	}
	sheetID = "0"
	for _, part := range []string{u.Fragment, u.RawQuery} {
		if g := gidRE.FindStringSubmatch(part); g != nil {
			sheetID = g[1]
			break
		}
	}
	return m[1], sheetID, true
}

// Execute uploads the rows and asks Kloudio to load them into the sheet.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if !req.HasData() {
		return nil, sdk.Errorf("No attached json.")
	}
	apiKey := req.Form("apiKey")
	if apiKey == "" {
		return nil, sdk.Errorf("Missing API key")
	}
	if req.Form("url") == "" {
		return nil, sdk.Errorf("Missing Google sheets URL")
	}
	spreadsheetID, sheetID, ok := ParseSheetURL(req.Form("url"))
	if !ok {
		return nil, sdk.Errorf("Invalid url")
	}
	if a.signedURL == "" || a.apiURL == "" {
		return sdk.Fail("This Action Hub is not configured for Kloudio: " + EnvSignedURL + " and " + EnvAPIURL + " must be set."), nil
	}
	secrets := []string{apiKey, url.QueryEscape(apiKey)}

	file, n, err := a.spool(ctx, req)
	if file != nil {
		defer os.Remove(file.Name())
		defer file.Close()
	}
	if err != nil {
		if _, isSDK := sdk.AsError(err); isSDK {
			return nil, err
		}
		return sdk.Fail(vendorhttp.Redact(err.Error(), secrets...)), nil
	}

	name := uuid4() + ".json"
	resp, err := a.client.Do(ctx, &vendorhttp.Request{Method: http.MethodGet,
		URL: a.signedURL + name + "&apiKey=" + url.QueryEscape(apiKey), Credential: apiKey, Secrets: secrets})
	if err != nil {
		return sdk.Fail("Kloudio: " + kloudioError(resp, err, secrets)), nil
	}
	var signed struct {
		SignedURL string `json:"signedURL"`
	}
	if json.Unmarshal(resp.Body, &signed) != nil || signed.SignedURL == "" {
		return sdk.Fail("Kloudio: the signed-URL service gave no upload URL"), nil
	}
	if err := a.put(ctx, unquote(signed.SignedURL), file, n); err != nil {
		return sdk.Fail("Kloudio: uploading the data failed: " + vendorhttp.Redact(err.Error(), secrets...)), nil
	}

	body, _ := json.Marshal(map[string]any{"destination": "looker", "apiKey": apiKey,
		"spreadsheetId": spreadsheetID, "sheetId": sheetID, "s3Upload": true, "data": name, "reportName": ReportName})
	resp, err = a.client.Do(ctx, &vendorhttp.Request{Method: http.MethodPost, URL: a.apiURL,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: body, Credential: apiKey, Secrets: secrets})
	if err != nil {
		return sdk.Fail("Kloudio: " + kloudioError(resp, err, secrets)), nil
	}
	var out struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
	if json.Unmarshal(resp.Body, &out) != nil {
		return sdk.Fail("Kloudio: unexpected answer from the destination API"), nil
	}
	return &sdk.Response{Success: out.Success, Message: vendorhttp.Redact(out.Message, secrets...)}, nil
}

// kloudioError is the "error" or "message" of a Kloudio error body, else the client's text.
func kloudioError(resp *vendorhttp.Response, err error, secrets []string) string {
	if resp != nil {
		var e struct{ Error, Message string }
		if json.Unmarshal(resp.Body, &e) == nil {
			if e.Error != "" {
				return vendorhttp.Redact(e.Error, secrets...)
			}
			if e.Message != "" {
				return vendorhttp.Redact(e.Message, secrets...)
			}
		}
	}
	return vendorhttp.Redact(err.Error(), secrets...)
}

// spool writes the rows as a JSON array of arrays to a temporary file: the dimension labels
// first, then each row's dimension values. It returns the file (rewound) and its size.
func (a *Action) spool(ctx context.Context, req *sdk.Request) (*os.File, int64, error) {
	rc, err := req.Open(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	rd := rows.NewReader(rc, "")
	defer rd.Close()
	fields, err := rd.Fields()
	if err != nil {
		var de *sdk.DownloadError
		if errors.As(err, &de) {
			return nil, 0, err
		}
		return nil, 0, sdk.Errorf("Request payload is an invalid format.")
	}
	dims := fields.Dimensions
	f, err := os.CreateTemp("", "kloudio-*.json")
	if err != nil {
		return nil, 0, fmt.Errorf("cannot create a temporary file: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	buf := []byte{'[', '['}
	for i, d := range dims {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = rows.AppendQuoted(buf, []byte(d.Label))
	}
	buf = append(buf, ']')
	for rd.Next() {
		row := rd.Row()
		buf = append(buf, ",["...)
		for i, d := range dims {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = row.Value(d.Name).AppendJSON(buf)
		}
		buf = append(buf, ']')
		if len(buf) > 32<<10 {
			if _, err := w.Write(buf); err != nil {
				return f, 0, err
			}
			buf = buf[:0]
		}
	}
	if err := rd.Err(); err != nil {
		return f, 0, err
	}
	buf = append(buf, ']')
	if _, err := w.Write(buf); err != nil {
		return f, 0, err
	}
	if err := w.Flush(); err != nil {
		return f, 0, err
	}
	n, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return f, 0, err
	}
	_, err = f.Seek(0, io.SeekStart)
	return f, n, err
}

// put uploads the file to the signed URL with its length, as S3 requires.
func (a *Action) put(ctx context.Context, signedURL string, f *os.File, n int64) error {
	u, err := url.Parse(signedURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("the signed-URL service gave an invalid upload URL")
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPut, signedURL, io.NopCloser(f))
	if err != nil {
		return err
	}
	hreq.ContentLength = n
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := a.env.Client().Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return errors.New(vendorhttp.Redact(err.Error()))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return nil
}

// uuid4 returns a random RFC 4122 version 4 UUID.
func uuid4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
