package amazons3

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/actionhub/actionhub/sdk"
)

// Service describes one S3-compatible destination: its Action API identity, its texts and
// how its endpoint is found. Amazon S3 (S3) and DigitalOcean Spaces are two Services of
// the same code.
type Service struct {
	Name        string
	Label       string
	Description string
	Icon        string
	// Params must include access_key_id, secret_access_key and region.
	Params []sdk.Param
	// Vendor names the service in messages ("Amazon S3").
	Vendor string
	// BucketLabel is the label of the form's bucket field ("Bucket", "Space Name").
	BucketLabel string
	// BucketNoun names a bucket in messages ("bucket", "Space").
	BucketNoun string
	// MissingBucket is the error when the form sent no bucket.
	MissingBucket string
	// NoBuckets is the form error for an account without buckets.
	NoBuckets string
	// VendorURLName is the vendor of the endpoint override ACTION_HUB_VENDOR_URL_<NAME>.
	VendorURLName string
	// Endpoint returns the endpoint of a region ("" lets the SDK resolve the AWS one).
	// It is called with a validated region.
	Endpoint func(region string) string
	// DefaultRegion is used when the region param is empty ("" makes it an error).
	DefaultRegion string
	// DetectBucketRegion makes Execute ask the bucket's region (HeadBucket) and use it when
	// it differs from the configured one: Amazon S3 answers a request sent to the wrong
	// region with a redirect the SDK does not follow.
	DetectBucketRegion bool
	// Compatible marks an S3-compatible store that is not AWS: request checksums are then
	// sent only where the API requires them, as many such stores reject the newer ones.
	Compatible bool
}

// Action is an S3-compatible file destination.
type Action struct {
	env *sdk.Env
	svc Service
	def *sdk.Definition
}

// New returns the action for svc.
func New(env *sdk.Env, svc Service) *Action {
	return &Action{env: env, svc: svc, def: &sdk.Definition{
		Name:                 svc.Name,
		Label:                svc.Label,
		Description:          svc.Description,
		Icon:                 svc.Icon,
		Params:               svc.Params,
		RequiredFields:       []sdk.RequiredField{},
		SupportedActionTypes: []sdk.ActionType{sdk.TypeDashboard, sdk.TypeQuery},
		Streaming:            true,
	}}
}

// Definition implements sdk.Action.
func (a *Action) Definition() *sdk.Definition { return a.def }

// regionRe is a region name: it becomes part of a host name, so nothing else is allowed.
var regionRe = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// settings are the credentials and region of a request.
type settings struct {
	accessKey, secretKey, region string
}

func (a *Action) settings(req *sdk.Request) (settings, error) {
	s := settings{
		accessKey: req.Param("access_key_id"),
		secretKey: req.Param("secret_access_key"),
		region:    strings.ToLower(req.Param("region")),
	}
	if s.region == "" {
		s.region = a.svc.DefaultRegion
	}
	if s.region == "" {
		return s, errors.New(`the "Region" setting is empty`)
	}
	if !regionRe.MatchString(s.region) {
		return s, fmt.Errorf(`the "Region" setting %q is not a region name (e.g. us-east-1)`, s.region)
	}
	return s, nil
}

// clientOptions tune a client: the retry counter of a delivery report, for instance.
type clientOptions struct {
	report *sdk.Report
}

// retryBackoff replaces the SDK's backoff when set (tests use a zero delay).
var retryBackoff retry.BackoffDelayer

// client builds an S3 client for the request's credentials and region. Only the static
// keys of the request are used: never the hub's own AWS environment or shared files.
func (a *Action) client(s settings, region string, o clientOptions) *s3.Client {
	opts := s3.Options{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(s.accessKey, s.secretKey, "")),
		HTTPClient:  a.env.Client(),
		Retryer:     a.retryer(o.report),
	}
	if ep := a.endpoint(region); ep != "" {
		opts.BaseEndpoint = aws.String(ep)
	}
	if a.overridden() {
		opts.UsePathStyle = true
	}
	if a.svc.Compatible || a.overridden() {
		opts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		opts.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	return s3.New(opts)
}

// overridden reports whether ACTION_HUB_VENDOR_URL_<NAME> is set.
func (a *Action) overridden() bool {
	return a.env.Get(sdk.VendorURLVar+strings.ToUpper(a.svc.VendorURLName)) != ""
}

func (a *Action) endpoint(region string) string {
	def := ""
	if a.svc.Endpoint != nil {
		def = a.svc.Endpoint(region)
	}
	return a.env.VendorURL(a.svc.VendorURLName, def)
}

func (a *Action) retryer(rep *sdk.Report) aws.Retryer {
	std := retry.NewStandard(func(o *retry.StandardOptions) {
		if retryBackoff != nil {
			o.Backoff = retryBackoff
		}
	})
	if rep == nil {
		return std
	}
	return countingRetryer{RetryerV2: std, report: rep}
}

// countingRetryer counts every retry the SDK makes into a delivery report.
type countingRetryer struct {
	aws.RetryerV2
	report *sdk.Report
}

// RetryDelay is called once before each retry.
func (r countingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, e := r.RetryerV2.RetryDelay(attempt, err)
	if e == nil {
		r.report.AddRetries(1)
	}
	return d, e
}

// listBuckets returns every bucket name, following continuation tokens, sorted (as S3
// lists them; some S3-compatible stores do not, and the form must not reorder by chance).
func listBuckets(ctx context.Context, cl *s3.Client) ([]string, error) {
	var names []string
	p := s3.NewListBucketsPaginator(cl, &s3.ListBucketsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range out.Buckets {
			if b.Name != nil {
				names = append(names, *b.Name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// Form implements sdk.FormAction: the account's buckets, a path and a filename.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	s, err := a.settings(req)
	if err != nil {
		return &sdk.Form{Error: upperFirst(err.Error()) + "."}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, FormTimeout)
	defer cancel()
	names, err := listBuckets(ctx, a.client(s, s.region, clientOptions{}))
	if err != nil {
		return &sdk.Form{Error: a.describe(ctx, err, s, "list the "+a.svc.BucketNoun+"s")}, nil
	}
	if len(names) == 0 {
		return &sdk.Form{Error: a.svc.NoBuckets}, nil
	}
	opts := make([]sdk.Option, len(names))
	for i, n := range names {
		opts[i] = sdk.Option{Name: n, Label: n}
	}
	return &sdk.Form{Fields: []sdk.Field{
		{Label: a.svc.BucketLabel, Name: "bucket", Required: true, Options: opts, Type: sdk.FieldSelect, Default: names[0]},
		{Label: "Path", Name: "path", Type: sdk.FieldString,
			Description: "Optional folder inside the " + a.svc.BucketNoun + ", e.g. reports/daily: the object key is path/filename."},
		{Label: "Filename", Name: "filename", Type: sdk.FieldString},
	}}, nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
