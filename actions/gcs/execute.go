package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"

	"github.com/actionhub/actionhub/sdk"
)

// fetchErrorFormat is the Node hub's form error when the bucket list cannot be read.
const fetchErrorFormat = `An error occurred while fetching the bucket list.

      Your Google Cloud Storage credentials may be incorrect.

      Google SDK Error: "%s"`

// Form implements sdk.FormAction: the project's buckets, a filename and the overwrite
// choice.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	acc := accountOf(req)
	ctx, cancel := context.WithTimeout(ctx, FormTimeout)
	defer cancel()
	cl, err := a.client(ctx, acc)
	if err != nil {
		return &sdk.Form{Error: fmt.Sprintf(fetchErrorFormat, describe(err, acc))}, nil
	}
	defer cl.Close()
	var names []string
	it := cl.Buckets(ctx, acc.project)
	for {
		b, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return &sdk.Form{Error: fmt.Sprintf(fetchErrorFormat, describe(err, acc))}, nil
		}
		names = append(names, b.Name)
	}
	if len(names) == 0 {
		return &sdk.Form{Error: "No buckets in account."}, nil
	}
	opts := make([]sdk.Option, len(names))
	for i, n := range names {
		// A bucket's id is its name.
		opts[i] = sdk.Option{Name: n, Label: n}
	}
	return &sdk.Form{Fields: []sdk.Field{
		{Label: "Bucket", Name: "bucket", Required: true, Options: opts, Type: sdk.FieldSelect, Default: names[0]},
		{Label: "Filename", Name: "filename", Type: sdk.FieldString},
		// The Node hub sets no type on this field; kept so for identical forms.
		{Label: "Overwrite", Name: "overwrite", Options: []sdk.Option{{Label: "Yes", Name: "yes"}, {Label: "No", Name: "no"}},
			Default: "yes",
			Description: "If Overwrite is enabled, will use the title or filename and overwrite existing data." +
				" If disabled, a date time will be appended to the name to make the file unique."},
	}}, nil
}

// lastExtension is the Node hub's FILE_EXTENSION: everything up to the last dot, and after.
var lastExtension = regexp.MustCompile(`^(.*)\.(.*)$`)

// uniqueName inserts _<epoch ms> before the last extension, or appends it.
func uniqueName(name string, now time.Time) string {
	ms := strconv.FormatInt(now.UnixMilli(), 10)
	if m := lastExtension.FindStringSubmatch(name); m != nil {
		return m[1] + "_" + ms + "." + m[2]
	}
	return name + "_" + ms
}

// retryBackoff replaces the client's retry backoff when set (tests use a short one).
var retryBackoff *gax.Backoff

// retryOptions make every failed request of an upload retryable (a resumable session's
// chunks can always be sent again) and count the retries into the report.
func retryOptions(rep *sdk.Report) []storage.RetryOption {
	opts := []storage.RetryOption{
		storage.WithPolicy(storage.RetryAlways),
		storage.WithErrorFunc(func(err error) bool {
			retry := storage.ShouldRetry(err)
			if retry {
				rep.AddRetries(1)
			}
			return retry
		}),
	}
	if retryBackoff != nil {
		opts = append(opts, storage.WithBackoff(*retryBackoff))
	}
	return opts
}

// Execute implements sdk.Action: it streams the request's data into gs://bucket/filename
// with a resumable upload. The delivery report counts one file; failures also carry the
// Node hub's structured error.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	bucket := req.Form("bucket")
	if bucket == "" {
		info := sdk.ErrorInfoForHTTP(400, logPrefix+" needs a GCS bucket specified.")
		return &sdk.Response{Success: false, Message: info.Message, Error: info}, nil
	}
	name := req.Form("filename")
	if name == "" {
		name = req.SuggestedFilename()
	}
	if name != "" && req.Form("overwrite") == "no" {
		name = uniqueName(name, a.now())
	}
	rep := sdk.NewReport()
	rep.Unit = "files"
	rep.AddRead(1)
	switch {
	case name == "":
		return failed(rep, 400, "request did not contain filename, or invalid filename was provided.")
	case len(name) > MaxObjectNameBytes:
		return failed(rep, 400, fmt.Sprintf("the object name is %d bytes long; Cloud Storage allows %d.", len(name), MaxObjectNameBytes))
	case strings.ContainsAny(name, "\r\n"):
		return failed(rep, 400, "an object name cannot contain line breaks.")
	}
	where := "gs://" + bucket + "/" + name
	acc := accountOf(req)
	cl, err := a.client(ctx, acc)
	if err != nil {
		return failed(rep, httpCode(err), describe(err, acc))
	}
	defer cl.Close()

	body, err := req.Open(ctx)
	if err != nil {
		if e, ok := sdk.AsError(err); ok {
			return nil, e
		}
		return failed(rep, 500, err.Error()+"; no object was created.")
	}
	defer body.Close()

	// Cancelling wctx abandons the upload session: the object is not created.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := cl.Bucket(bucket).Object(name).Retryer(retryOptions(rep)...).NewWriter(wctx)
	w.ChunkSize = ChunkSize
	w.ContentType = req.ContentType()
	n, err := io.Copy(w, body)
	if err == nil {
		err = w.Close()
	} else {
		cancel()
		_ = w.Close()
	}
	if err != nil {
		var de *sdk.DownloadError
		if errors.As(err, &de) {
			return failed(rep, 500, fmt.Sprintf("%s; the upload was cancelled and no object was created at %s.", de.Error(), where))
		}
		return failed(rep, httpCode(err), fmt.Sprintf("could not write %s: %s", where, describe(err, acc)))
	}
	return sdk.FileWritten(rep, where, n), nil
}

// failed records a fatal error and returns the report's failed response with the Node
// hub's error object ("<description> [Google Cloud Storage] <msg>").
func failed(rep *sdk.Report, code int, msg string) (*sdk.Response, error) {
	text := logPrefix + " " + msg
	rep.Fatal(strings.TrimSuffix(text, "."))
	resp := sdk.FromReport(rep)
	resp.Error = sdk.ErrorInfoForHTTP(code, text)
	return resp, nil
}
