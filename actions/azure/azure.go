// Package azure is the "azure_storage" action: it streams the rendered file Looker sends
// into a block blob of an Azure Storage container, with the official SDK
// (github.com/Azure/azure-sdk-for-go/sdk/storage/azblob).
//
// The data flows through at most Concurrency buffers of BlockSize bytes, staged as blocks
// and committed once every byte has arrived: a cut download commits nothing, so no blob
// is created or replaced. Fixed from the Node hub: the container listing has a timeout and
// its errors answer the form instead of hanging it, the form offers "Overwrite: No" (a
// timestamped name that is never written over an existing blob), a shared access
// signature (SAS) is accepted in place of the account key, the account name is checked
// before it becomes part of a host name, and the key never appears in a message.
//
// ACTION_HUB_VENDOR_URL_AZURE_BLOB overrides the account's blob endpoint, e.g. Azurite's
// http://127.0.0.1:10000/devstoreaccount1.
package azure

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "azure_storage"

// Upload tuning and limits;
// https://learn.microsoft.com/rest/api/storageservices/understanding-block-blobs--append-blobs--and-page-blobs
const (
	// BlockSize is the staged block size (a block blob holds at most 50,000 blocks of up to
	// 4,000 MiB): with 8 MiB blocks a blob can reach about 390 GiB.
	BlockSize = 8 << 20
	// Concurrency is the number of blocks staged at once, each in its own buffer.
	Concurrency = 3
	// MaxBlobNameLen is the longest blob name in characters;
	// https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
	MaxBlobNameLen = 1024
	// FormTimeout bounds the container listing of the form, retries included.
	FormTimeout = 30 * time.Second
	// MaxRetries is how many times a failed request (408, 429, 5xx, network) is retried.
	MaxRetries = 3
	// TryTimeout bounds one try of a request: a block of BlockSize bytes at 70 KB/s.
	TryTimeout = 2 * time.Minute
)

//go:embed icon.svg
var iconSVG []byte

// Module is the azure_storage module; it needs no configuration.
var Module = sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) { return New(env), nil }}

func init() { sdk.Register(Module) }

// Action is the azure_storage action.
type Action struct {
	env *sdk.Env
	def *sdk.Definition
	now func() time.Time
}

// New returns the action.
func New(env *sdk.Env) *Action {
	return &Action{env: env, now: time.Now, def: &sdk.Definition{
		Name:        Name,
		Label:       "Azure Storage",
		Description: "Write data files to an Azure container.",
		Icon:        sdk.IconDataURI("image/svg+xml", iconSVG),
		Params: []sdk.Param{
			{Name: "account", Label: "Storage Account", Required: true, Sensitive: false,
				Description: "Your account for Azure."},
			{Name: "accessKey", Label: "Access Key", Required: true, Sensitive: true,
				Description: "Your access key for Azure."},
		},
		RequiredFields:       []sdk.RequiredField{},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery, sdk.TypeDashboard},
		Streaming:            true,
	}}
}

// Definition implements sdk.Action.
func (a *Action) Definition() *sdk.Definition { return a.def }

// accountRe is a storage account name; it becomes part of a host name.
var accountRe = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

// settings are a request's account and key.
type settings struct {
	account, key string
}

// clientError is a setting the client cannot be made from; its text is the Node hub's.
type clientError struct{ msg string }

func (e *clientError) Error() string { return e.msg }

// isSAS reports whether the key is a shared access signature ("sv=...&sig=...") rather
// than an account key.
func isSAS(key string) bool {
	return strings.Contains(key, "sig=") && strings.Contains(key, "sv=")
}

// retryDelay replaces the SDK's first retry delay when set (tests use a short one).
var retryDelay time.Duration

// calls counts logical requests and tries, so that retries = tries - calls.
type calls struct{ calls, tries atomic.Int64 }

type countPolicy struct{ n *atomic.Int64 }

func (p countPolicy) Do(req *policy.Request) (*http.Response, error) {
	p.n.Add(1)
	return req.Next()
}

// client builds a client for the request's account, with the hub's HTTP client.
func (a *Action) client(req *sdk.Request, c *calls) (*azblob.Client, settings, error) {
	s := settings{account: req.Param("account"), key: req.Param("accessKey")}
	if !accountRe.MatchString(s.account) {
		return nil, s, &clientError{fmt.Sprintf("The Storage Account setting %q is not a storage account name (3 to 24 lowercase letters and digits).", s.account)}
	}
	serviceURL := a.env.VendorURL("azure_blob", "https://"+s.account+".blob.core.windows.net") + "/"
	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: a.env.Client(),
		Retry: policy.RetryOptions{MaxRetries: MaxRetries, TryTimeout: TryTimeout,
			RetryDelay: retryDelay, MaxRetryDelay: 10 * time.Second},
	}}
	if c != nil {
		opts.PerCallPolicies = []policy.Policy{countPolicy{&c.calls}}
		opts.PerRetryPolicies = []policy.Policy{countPolicy{&c.tries}}
	}
	if isSAS(s.key) {
		cl, err := azblob.NewClientWithNoCredential(serviceURL+"?"+strings.TrimPrefix(s.key, "?"), opts)
		if err != nil {
			return nil, s, &clientError{"Error making Azure client. Storage Account and Access Key settings may be incorrect"}
		}
		return cl, s, nil
	}
	cred, err := azblob.NewSharedKeyCredential(s.account, s.key)
	if err != nil {
		if strings.Contains(err.Error(), "base64") {
			return nil, s, &clientError{"The provided Account Key is not a valid base64 string"}
		}
		return nil, s, &clientError{"Error making Azure client. Storage Account and Access Key settings may be incorrect"}
	}
	cl, err := azblob.NewClientWithSharedKeyCredential(serviceURL, cred, opts)
	if err != nil {
		return nil, s, &clientError{"Error making Azure client. Storage Account and Access Key settings may be incorrect"}
	}
	return cl, s, nil
}

// Form implements sdk.FormAction: the account's containers, a filename and the overwrite
// choice. Errors answer within FormTimeout.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	cl, s, err := a.client(req, nil)
	if err != nil {
		return &sdk.Form{Error: err.Error()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, FormTimeout)
	defer cancel()
	var names []string
	pager := cl.NewListContainersPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return &sdk.Form{Error: describe(ctx, err, s, "list the containers")}, nil
		}
		for _, c := range page.ContainerItems {
			if c.Name != nil {
				names = append(names, *c.Name)
			}
		}
	}
	if len(names) == 0 {
		return &sdk.Form{Error: "Create a container in your Azure account."}, nil
	}
	opts := make([]sdk.Option, len(names))
	for i, n := range names {
		opts[i] = sdk.Option{Name: n, Label: n}
	}
	return &sdk.Form{Fields: []sdk.Field{
		{Label: "Container", Name: "container", Required: true, Options: opts, Type: sdk.FieldSelect, Default: names[0]},
		{Label: "Filename", Name: "filename", Type: sdk.FieldString},
		{Label: "Overwrite", Name: "overwrite", Type: sdk.FieldSelect, Default: "yes",
			Options: []sdk.Option{{Label: "Yes", Name: "yes"}, {Label: "No", Name: "no"}},
			Description: "If Overwrite is enabled, will use the title or filename and overwrite existing data." +
				" If disabled, a date time will be appended to the name to make the file unique."},
	}}, nil
}
