// Package gcs is the "google_cloud_storage" action: it streams the rendered file Looker
// sends into a Google Cloud Storage object with the official client
// (cloud.google.com/go/storage), authenticating as the service account whose client email
// and private key the admin set.
//
// The upload is resumable and chunked: the data flows through one ChunkSize buffer, never
// whole in memory or on disk, a chunk the service fails with a 5xx is sent again, and a cut
// download cancels the upload session so that no object is created. Fixed from the Node
// hub: the content type of downloaded (streamed) data comes from its format instead of
// always application/octet-stream, bad keys get a clear message, and the private key never
// appears in a message.
//
// ACTION_HUB_VENDOR_URL_GCS overrides the storage endpoint (fake-gcs-server, emulators). With
// it alone, requests are sent without authentication, like the client library does for
// STORAGE_EMULATOR_HOST; when ACTION_HUB_VENDOR_URL_GOOGLE_OAUTH_TOKEN is set too, the
// service account's tokens come from that token endpoint. Without overrides the real
// endpoints and real authentication are used.
package gcs

import (
	"context"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
	"google.golang.org/api/option"

	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "google_cloud_storage"

// logPrefix starts every error text of the action, as in the Node hub.
const logPrefix = "[Google Cloud Storage]"

const (
	// ChunkSize is the resumable upload's chunk: the one buffer the data flows through.
	// Chunks must be multiples of 256 KiB;
	// https://cloud.google.com/storage/docs/performing-resumable-uploads
	ChunkSize = 32 * 256 << 10 // 8 MiB
	// MaxObjectNameBytes is the longest object name, in UTF-8 bytes;
	// https://cloud.google.com/storage/docs/objects#naming
	MaxObjectNameBytes = 1024
	// FormTimeout bounds the bucket listing of the form.
	FormTimeout = 30 * time.Second
	// DefaultTokenURL is Google's OAuth 2.0 token endpoint.
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
)

//go:embed icon.svg
var iconSVG []byte

// Module is the google_cloud_storage module; it needs no configuration.
var Module = sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) { return New(env), nil }}

func init() { sdk.Register(Module) }

// Action is the google_cloud_storage action.
type Action struct {
	env *sdk.Env
	def *sdk.Definition
	// now is the clock of the overwrite=no suffix.
	now func() time.Time
}

// New returns the action.
func New(env *sdk.Env) *Action {
	return &Action{env: env, now: time.Now, def: &sdk.Definition{
		Name:        Name,
		Label:       "Google Cloud Storage",
		Description: "Write data files to a Google Cloud Storage bucket.",
		Icon:        sdk.IconDataURI("image/svg+xml", iconSVG),
		Params: []sdk.Param{
			{Name: "client_email", Label: "Client Email", Required: true, Sensitive: false,
				Description: "Your client email for GCS from https://console.cloud.google.com/apis/credentials"},
			{Name: "private_key", Label: "Private Key", Required: true, Sensitive: true,
				Description: "Your private key for GCS from https://console.cloud.google.com/apis/credentials"},
			{Name: "project_id", Label: "Project Id", Required: true, Sensitive: false,
				Description: "The Project Id for your GCS project from https://console.cloud.google.com/apis/credentials"},
		},
		RequiredFields:       []sdk.RequiredField{},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeDashboard, sdk.TypeQuery},
		Streaming:            true,
	}}
}

// Definition implements sdk.Action.
func (a *Action) Definition() *sdk.Definition { return a.def }

// account is a request's service account.
type account struct {
	email, key, project string
}

func accountOf(req *sdk.Request) account {
	return account{
		email: req.Param("client_email"),
		// Keys pasted from a JSON key file keep their escaped newlines.
		key:     strings.ReplaceAll(req.Param("private_key"), `\n`, "\n"),
		project: req.Param("project_id"),
	}
}

// client builds a storage client for the account. Its HTTP client is the hub's, wrapped
// with the account's tokens (unless the endpoint override alone is set).
func (a *Action) client(ctx context.Context, acc account) (*storage.Client, error) {
	base := a.env.Client()
	override := a.env.VendorURL("gcs", "")
	tokenOverride := a.env.Get(sdk.VendorURLVar+"GOOGLE_OAUTH_TOKEN") != ""
	var opts []option.ClientOption
	if override != "" {
		ep := override
		if !strings.Contains(ep, "/storage/v1") {
			ep += "/storage/v1/"
		}
		opts = append(opts, option.WithEndpoint(ep))
	}
	if override != "" && !tokenOverride {
		// An emulator: no authentication, as for STORAGE_EMULATOR_HOST.
		return storage.NewClient(ctx, append(opts, option.WithHTTPClient(base), option.WithoutAuthentication())...)
	}
	if err := checkPrivateKey(acc.key); err != nil {
		return nil, err
	}
	cfg := &jwt.Config{
		Email:      acc.email,
		PrivateKey: []byte(acc.key),
		Scopes:     []string{storage.ScopeReadWrite},
		TokenURL:   a.env.VendorURL("google_oauth_token", DefaultTokenURL),
	}
	// Token requests use the hub's client too; the context is the request's.
	ts := oauth2.ReuseTokenSource(nil, cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, base)))
	hc := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: base.Transport}, Timeout: base.Timeout}
	// WithTokenSource keeps the library from looking for default credentials; the HTTP
	// client is what authenticates.
	return storage.NewClient(ctx, append(opts, option.WithHTTPClient(hc), option.WithTokenSource(ts))...)
}

// keyError is a Private Key setting that cannot be used.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

// checkPrivateKey tells a usable RSA private key in PEM form from anything else, without
// ever quoting the setting.
func checkPrivateKey(k string) error {
	if strings.TrimSpace(k) == "" {
		return &keyError{"The Private Key setting is empty."}
	}
	block, _ := pem.Decode([]byte(k))
	if block == nil {
		return &keyError{`The Private Key setting is not a PEM private key: paste the "private_key" of the service account's JSON key, from "-----BEGIN PRIVATE KEY-----" to "-----END PRIVATE KEY-----".`}
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	return &keyError{"The Private Key setting is not a readable RSA private key (PKCS #8 or PKCS #1)."}
}
