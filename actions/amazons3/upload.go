//lint:file-ignore SA1019 the issue asks for the upload manager (feature/s3/manager); its successor transfermanager needs a release train the module proxy here refuses

package amazons3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/actionhub/actionhub/sdk"
)

// Execute implements sdk.Action: it streams the request's data into
// <bucket>/<path>/<filename> with a multipart upload.
//
// The delivery report counts one file: delivered with its byte count, or stopped with the
// reason (a cut download says how many bytes had arrived, and the upload is aborted).
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	bucket := req.Form("bucket")
	if bucket == "" {
		return nil, sdk.Errorf("%s", a.svc.MissingBucket)
	}
	name := req.Form("filename")
	if name == "" {
		name = req.SuggestedFilename()
	}
	key := ObjectKey(req.Form("path"), name)
	rep := sdk.NewReport()
	rep.Unit = "files"
	rep.AddRead(1)
	where := "s3://" + bucket + "/" + key
	switch {
	case strings.Trim(name, "/") == "":
		return stop(rep, "Cannot determine a filename.")
	case len(key) > MaxKeyBytes:
		return stop(rep, fmt.Sprintf("The object key is %d bytes long; %s allows %d.", len(key), a.svc.Vendor, MaxKeyBytes))
	}
	s, err := a.settings(req)
	if err != nil {
		return stop(rep, upperFirst(err.Error())+".")
	}

	region := s.region
	if a.svc.DetectBucketRegion {
		if r := a.bucketRegion(ctx, a.client(s, region, clientOptions{}), bucket); r != "" && r != region && regionRe.MatchString(r) {
			a.env.Log().Info("using the bucket's own region", "action", a.svc.Name, "configured", region, "bucket_region", r)
			region = r
		}
	}
	cl := a.client(s, region, clientOptions{report: rep})

	body, err := req.Open(ctx)
	if err != nil {
		if e, ok := sdk.AsError(err); ok {
			return nil, e
		}
		return stop(rep, err.Error()+"; nothing was written to "+where+".")
	}
	defer body.Close()
	src := &sdk.CountingReader{R: body}

	up := manager.NewUploader(cl, func(u *manager.Uploader) {
		u.PartSize = PartSize
		u.Concurrency = Concurrency
		u.MaxUploadParts = MaxParts
	})
	_, err = up.Upload(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        src,
		ContentType: aws.String(req.ContentType()),
	})
	if err != nil {
		a.abortAfterCancel(ctx, cl, bucket, key, err)
		var de *sdk.DownloadError
		if errors.As(err, &de) {
			return stop(rep, fmt.Sprintf("%s; the upload was aborted and nothing was written to %s.", de.Error(), where))
		}
		msg := a.describe(ctx, err, s, "write "+where)
		return stop(rep, strings.TrimSuffix(msg, ".")+"; nothing was written.")
	}
	return sdk.FileWritten(rep, where, src.N), nil
}

// stop records a fatal error and returns the report's failed response.
func stop(rep *sdk.Report, msg string) (*sdk.Response, error) {
	rep.Fatal(strings.TrimSuffix(msg, "."))
	return sdk.FromReport(rep), nil
}

// ObjectKey joins the form's path (a key prefix, slashes around it ignored) and the
// filename. S3 keys are literal: nothing else is cleaned.
func ObjectKey(prefix, name string) string {
	prefix = strings.Trim(strings.TrimSpace(prefix), "/")
	name = strings.TrimLeft(name, "/")
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

// bucketRegion asks the bucket's region with HeadBucket. Amazon S3 names it in the
// x-amz-bucket-region header of the answer, a redirect included, when the request went to
// another region. It returns "" when the answer names none (the caller keeps its region).
func (a *Action) bucketRegion(ctx context.Context, cl *s3.Client, bucket string) string {
	ctx, cancel := context.WithTimeout(ctx, RegionLookupTimeout)
	defer cancel()
	out, err := cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return aws.ToString(out.BucketRegion)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return ""
}

// abortAfterCancel aborts a multipart upload the upload manager could not abort itself
// because the request's context was cancelled (the manager aborts with that context).
func (a *Action) abortAfterCancel(ctx context.Context, cl *s3.Client, bucket, key string, err error) {
	var mf manager.MultiUploadFailure
	if ctx.Err() == nil || !errors.As(err, &mf) || mf.UploadID() == "" {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), AbortTimeout)
	defer cancel()
	if _, err := cl.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(mf.UploadID()),
	}); err != nil {
		a.env.Log().Warn("could not abort a multipart upload", "action", a.svc.Name, "bucket", bucket, "error_kind", fmt.Sprintf("%T", err))
	}
}
