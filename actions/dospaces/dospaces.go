// Package dospaces is the "digitalocean_object_storage" action: it streams the rendered
// file Looker sends into a DigitalOcean Space. Spaces speaks the S3 API, so the action is
// a Service of package amazons3 (the same form, multipart upload, faults and report) with
// the Spaces endpoint of the region, https://<region>.digitaloceanspaces.com.
//
// Fixed from the Node hub: the messages name Spaces rather than Amazon S3, an account
// without Spaces gets a form error instead of a crash, and the form's "path" is honoured.
// ACTION_HUB_VENDOR_URL_DIGITALOCEAN_SPACES overrides the endpoint (path-style addressing).
package dospaces

import (
	_ "embed"

	"github.com/actionhub/actionhub/actions/amazons3"
	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "digitalocean_object_storage"

// DefaultRegion is the region of the Node hub when none is set.
const DefaultRegion = "nyc3"

//go:embed icon.svg
var iconSVG []byte

// Endpoint is the Spaces endpoint of a region;
// https://docs.digitalocean.com/products/spaces/reference/s3-compatibility/
func Endpoint(region string) string { return "https://" + region + ".digitaloceanspaces.com" }

// Spaces is the Service of the action.
var Spaces = amazons3.Service{
	Name:        Name,
	Label:       "DigitalOcean Spaces",
	Description: "Write data files to DigitalOcean's Spaces storage.",
	Icon:        sdk.IconDataURI("image/svg+xml", iconSVG),
	Params: []sdk.Param{
		{Name: "access_key_id", Label: "Spaces Access Key", Required: true, Sensitive: false,
			Description: "Your access key for DigitalOcean Spaces https://cloud.digitalocean.com/settings/api/tokens."},
		{Name: "secret_access_key", Label: "Spaces Secret Key", Required: true, Sensitive: true,
			Description: "Your secret key for DigitalOcean Spaces https://cloud.digitalocean.com/settings/api/tokens."},
		{Name: "region", Label: "Region", Required: true, Sensitive: false,
			Description: "The region of your Spaces e.g. nyc3, sfo3, ams3, sgp1, fra1: the first part of the Spaces endpoint <region>.digitaloceanspaces.com."},
	},
	Vendor:        "DigitalOcean Spaces",
	BucketLabel:   "Space Name",
	BucketNoun:    "Space",
	MissingBucket: "Need a DigitalOcean Space.",
	NoBuckets:     "Create a Space in your DigitalOcean account: this account has none.",
	VendorURLName: "digitalocean_spaces",
	Endpoint:      Endpoint,
	DefaultRegion: DefaultRegion,
	// Spaces is not AWS: its region is the endpoint's, and it takes only the checksums the
	// S3 API requires.
	Compatible: true,
}

// Module is the digitalocean_object_storage module; it needs no configuration.
var Module = sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
	return amazons3.New(env, Spaces), nil
}}

func init() { sdk.Register(Module) }
