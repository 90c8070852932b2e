package azure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Execute implements sdk.Action: it streams the request's data into a block blob. The
// delivery report counts one file: delivered with its byte count, or stopped with the
// reason (a cut download says how many bytes had arrived; nothing is committed).
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	container := req.Form("container")
	if container == "" {
		return nil, sdk.Errorf("Need Azure container.")
	}
	name := req.Form("filename")
	if name == "" {
		name = req.SuggestedFilename()
	}
	keep := req.Form("overwrite") == "no"
	if name != "" && keep {
		name = uniqueName(name, a.now())
	}
	rep := sdk.NewReport()
	rep.Unit = "files"
	rep.AddRead(1)
	switch {
	case name == "":
		return stop(rep, "Cannot determine a filename.")
	case utf8.RuneCountInString(name) > MaxBlobNameLen:
		return stop(rep, fmt.Sprintf("The blob name is %d characters long; Azure Storage allows %d.", utf8.RuneCountInString(name), MaxBlobNameLen))
	}
	c := &calls{}
	cl, s, err := a.client(req, c)
	if err != nil {
		// The Node hub throws these.
		return nil, sdk.Errorf("%s", err.Error())
	}
	where := container + "/" + name

	body, err := req.Open(ctx)
	if err != nil {
		if e, ok := sdk.AsError(err); ok {
			return nil, e
		}
		return stop(rep, err.Error()+"; nothing was written to "+where+".")
	}
	defer body.Close()
	src := &sdk.CountingReader{R: body}
	ct := req.ContentType()
	opts := &azblob.UploadStreamOptions{
		BlockSize:   BlockSize,
		Concurrency: Concurrency,
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &ct},
	}
	if keep {
		// Never write over an existing blob, even one made in the same millisecond.
		anyTag := azcore.ETagAny
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &anyTag}}
	}
	_, err = cl.UploadStream(ctx, container, name, src, opts)
	if retries := c.tries.Load() - c.calls.Load(); retries > 0 {
		rep.AddRetries(int(retries))
	}
	if err != nil {
		var de *sdk.DownloadError
		if errors.As(err, &de) {
			return stop(rep, fmt.Sprintf("%s; the upload was cancelled and no blob was committed to %s.", de.Error(), where))
		}
		return stop(rep, strings.TrimSuffix(describe(ctx, err, s, "write "+where), ".")+"; no blob was committed.")
	}
	return sdk.FileWritten(rep, where, src.N), nil
}

// stop records a fatal error and returns the report's failed response.
func stop(rep *sdk.Report, msg string) (*sdk.Response, error) {
	rep.Fatal(strings.TrimSuffix(msg, "."))
	return sdk.FromReport(rep), nil
}

// describe turns an SDK error into a sentence for the Looker user. It reads the error's
// fields rather than its text, which quotes the request URL (a SAS token included); the
// key is redacted from it whatever it holds.
func describe(ctx context.Context, err error, s settings, doing string) string {
	var msg string
	var re *azcore.ResponseError
	var dns *net.DNSError
	switch {
	case errors.As(err, &re):
		code := re.ErrorCode
		if code == "" {
			code = http.StatusText(re.StatusCode)
		}
		switch {
		case code == "AuthenticationFailed" || code == "InvalidAuthenticationInfo" || re.StatusCode == http.StatusUnauthorized:
			msg = fmt.Sprintf("Azure Storage refused the credentials (%s) when trying to %s: check the Storage Account and Access Key settings.", code, doing)
		case strings.HasPrefix(code, "Authorization") || re.StatusCode == http.StatusForbidden:
			// Azure answers so for a missing permission, a network rule, or (Azurite) a
			// wrong key.
			msg = fmt.Sprintf("Azure Storage refused the request (%s) when trying to %s: check the Storage Account and Access Key settings, and that the key is allowed to do so.", code, doing)
		case code == "ContainerNotFound":
			msg = fmt.Sprintf("Azure Storage could not %s: the container does not exist (ContainerNotFound).", doing)
		case code == "ConditionNotMet" || code == "BlobAlreadyExists":
			msg = fmt.Sprintf("Azure Storage could not %s: a blob of that name already exists (%s).", doing, code)
		default:
			msg = fmt.Sprintf("Azure Storage could not %s: %s (HTTP %d).", doing, code, re.StatusCode)
		}
	case errors.As(err, &dns):
		msg = fmt.Sprintf("Could not reach Azure Storage account %q to %s: %s is not a known host.", s.account, doing, dns.Name)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		msg = fmt.Sprintf("Azure Storage did not answer in time when trying to %s.", doing)
	case errors.Is(err, context.Canceled):
		msg = fmt.Sprintf("The request was cancelled while trying to %s on Azure Storage.", doing)
	default:
		msg = fmt.Sprintf("Could not %s on Azure Storage: %v.", doing, err)
	}
	return vendorhttp.Redact(msg, s.key)
}

// lastExtension is everything up to the last dot, and after (as the GCS action's).
var lastExtension = regexp.MustCompile(`^(.*)\.(.*)$`)

// uniqueName inserts _<epoch ms> before the last extension, or appends it.
func uniqueName(name string, now time.Time) string {
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	if m := lastExtension.FindStringSubmatch(name); m != nil {
		return m[1] + "_" + ms + "." + m[2]
	}
	return name + "_" + ms
}
