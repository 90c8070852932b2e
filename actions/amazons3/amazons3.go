// Package amazons3 is the "amazon_s3" action: it streams the rendered file Looker sends
// into an object of an S3 bucket, with the official AWS SDK for Go v2 and its multipart
// upload manager.
//
// The Node hub defines this action but never registers it; this hub does. The weaknesses
// of the Node code are fixed: the form's "path" field is honoured as the key prefix, an
// account without buckets gets a form error instead of a crash, credential failures get a
// clear message without the secret, the bucket's own region is used when it differs from
// the configured one, and the data flows through fixed-size part buffers (PartSize ×
// (Concurrency+1) bytes at most), never whole in memory or on disk. A cut download aborts
// the multipart upload so that no object and no orphaned parts are left behind.
//
// The same code serves every S3-compatible store: the DigitalOcean Spaces action
// (package dospaces) is a Service of this package with its own endpoint and texts.
//
// ACTION_HUB_VENDOR_URL_S3 overrides the endpoint (for MinIO, gofakes3 and other
// S3-compatible servers); addressing is then path-style.
package amazons3

import (
	_ "embed"
	"time"

	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "amazon_s3"

// Upload tuning. The upload manager holds at most Concurrency+1 part buffers of PartSize
// bytes, so an upload needs about 32 MiB whatever the file's size. With 10,000 parts the
// largest object is about 78 GiB.
const (
	// PartSize is the multipart part size. S3 parts must be 5 MiB to 5 GiB, the last part
	// excepted; https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
	PartSize = 8 << 20
	// Concurrency is the number of parts uploaded at once.
	Concurrency = 3
	// MaxParts is S3's limit of parts per multipart upload (same page).
	MaxParts = 10000
	// MaxKeyBytes is the longest object key S3 accepts, in UTF-8 bytes;
	// https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
	MaxKeyBytes = 1024
)

// Timeouts of the calls made before the data flows. The upload itself has none: the
// download's idle timeout and the SDK's per-attempt handling bound it.
const (
	// FormTimeout bounds the bucket listing of the form.
	FormTimeout = 30 * time.Second
	// RegionLookupTimeout bounds the HeadBucket call that finds a bucket's region.
	RegionLookupTimeout = 15 * time.Second
	// AbortTimeout bounds the AbortMultipartUpload sent after the request was cancelled.
	AbortTimeout = 30 * time.Second
)

//go:embed icon.svg
var iconSVG []byte

// Icon is the action's icon as a data URI.
var Icon = sdk.IconDataURI("image/svg+xml", iconSVG)

// S3 is the Service of the amazon_s3 action.
var S3 = Service{
	Name:        Name,
	Label:       "Amazon S3",
	Description: "Write data files to an S3 bucket.",
	Icon:        Icon,
	Params: []sdk.Param{
		{Name: "access_key_id", Label: "Access Key", Required: true, Sensitive: true,
			Description: "Your access key for S3."},
		{Name: "secret_access_key", Label: "Secret Key", Required: true, Sensitive: true,
			Description: "Your secret key for S3."},
		{Name: "region", Label: "Region", Required: true, Sensitive: false,
			Description: "S3 Region e.g. us-east-1, us-west-1, ap-south-1 from " +
				"http://docs.aws.amazon.com/general/latest/gr/rande.html#s3_region."},
	},
	Vendor:        "Amazon S3",
	BucketLabel:   "Bucket",
	BucketNoun:    "bucket",
	MissingBucket: "Need Amazon S3 bucket.",
	NoBuckets:     "Create a bucket in your Amazon S3 account: this account has none.",
	VendorURLName: "s3",
	// The SDK resolves the AWS endpoint of the region; a bucket in another region is
	// found with HeadBucket.
	Endpoint:           func(string) string { return "" },
	DetectBucketRegion: true,
}

// Module is the amazon_s3 module; it needs no configuration.
var Module = sdk.Module{Name: Name, New: func(env *sdk.Env) (sdk.Action, error) {
	return New(env, S3), nil
}}

func init() { sdk.Register(Module) }
