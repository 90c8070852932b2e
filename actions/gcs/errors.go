package gcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// httpCode classifies an error as the HTTP code of its error object: the service's
// answer, 401 for a refused key, 400 for an unusable setting, 408 for a timeout, else 500.
func httpCode(err error) int {
	var ge *googleapi.Error
	var re *oauth2.RetrieveError
	var ke *keyError
	switch {
	case errors.As(err, &ge):
		return ge.Code
	case errors.As(err, &re):
		return http.StatusUnauthorized
	case errors.As(err, &ke):
		return http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// describe turns an error into a sentence for the Looker user; the private key is
// redacted from it whatever the error holds.
func describe(err error, acc account) string {
	var ge *googleapi.Error
	var re *oauth2.RetrieveError
	var ke *keyError
	var msg string
	switch {
	case errors.As(err, &ke):
		msg = ke.msg
	case errors.As(err, &re):
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			// The JWT grant leaves the RFC 6749 error in the body.
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &body) == nil {
				code, desc = body.Error, body.Description
			}
		}
		detail := code
		if desc != "" {
			detail += ": " + desc
		}
		if detail == "" && re.Response != nil {
			detail = re.Response.Status
		}
		msg = fmt.Sprintf("Google refused the service account key (%s): check the Client Email and Private Key settings.", detail)
	case errors.As(err, &ge):
		detail := ge.Message
		if detail == "" {
			detail = http.StatusText(ge.Code)
		}
		msg = fmt.Sprintf("%s (HTTP %d)", strings.TrimSuffix(detail, "."), ge.Code)
		switch ge.Code {
		case http.StatusUnauthorized:
			msg += ": check the Client Email and Private Key settings."
		case http.StatusForbidden:
			msg += ": the service account lacks a permission it needs."
		default:
			msg += "."
		}
	case errors.Is(err, context.DeadlineExceeded):
		msg = "Google Cloud Storage did not answer in time."
	default:
		msg = err.Error()
	}
	return vendorhttp.Redact(msg, acc.key, strings.ReplaceAll(acc.key, "\n", `\n`))
}
