package amazons3

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// describe turns an SDK error into a sentence for the Looker user, saying what the store
// answered and what to check. Both keys are redacted from it whatever the error holds.
func (a *Action) describe(ctx context.Context, err error, s settings, doing string) string {
	v := a.svc.Vendor
	var msg string
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr):
		code := apiErr.ErrorCode()
		switch code {
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired":
			msg = fmt.Sprintf("%s refused the credentials (%s) when trying to %s: check the Access Key and Secret Key settings.", v, code, doing)
		case "AccessDenied", "AllAccessDisabled", "Forbidden":
			msg = fmt.Sprintf("%s denied access (%s) when trying to %s: check that the key is allowed to do so.", v, code, doing)
		case "NoSuchBucket", "NotFound":
			msg = fmt.Sprintf("%s could not %s: the %s does not exist (%s).", v, doing, a.svc.BucketNoun, code)
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			msg = fmt.Sprintf("%s could not %s: the %s is in another region than the Region setting %q (%s).", v, doing, a.svc.BucketNoun, s.region, code)
		default:
			detail := apiErr.ErrorMessage()
			if detail == "" {
				detail = http.StatusText(httpStatus(err))
			}
			msg = fmt.Sprintf("%s could not %s: %s: %s", v, doing, code, detail)
			if status := httpStatus(err); status != 0 {
				msg += fmt.Sprintf(" (HTTP %d)", status)
			}
			msg += "."
		}
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		msg = fmt.Sprintf("%s did not answer in time when trying to %s.", v, doing)
	case errors.Is(err, context.Canceled):
		msg = fmt.Sprintf("The request was cancelled while trying to %s on %s.", doing, v)
	default:
		msg = fmt.Sprintf("Could not %s on %s: %v.", doing, v, err)
	}
	return vendorhttp.Redact(msg, s.accessKey, s.secretKey)
}

// httpStatus returns the HTTP status of the store's answer in err's chain, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}
