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

	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// httpErrorType is one row of the Node hub's HTTP error table (src/error_types/http_errors.ts).
type httpErrorType struct {
	status      string
	code        int
	description string
}

// httpErrorTypes are the Node hub's rows, whose descriptions start the error messages.
var httpErrorTypes = []httpErrorType{
	{"BAD_REQUEST", 400, "Server cannot process request due to client request error."},
	{"UNAUTHENTICATED", 401, "Request not authenticated due to missing, invalid, or expired authentication."},
	{"PERMISSION_DENIED", 403, "Client does not have sufficient permission."},
	{"NOT_FOUND", 404, "Specified resource is not found."},
	{"REQUEST_TIMEOUT", 408, "Request timed out before being able to complete"},
	{"ALREADY_EXISTS", 409, "The resource that a client tried to create already exists."},
	{"PAYLOAD_TOO_LARGE", 413, "Request entity is larger than limits defined by server."},
	{"RESOURCE_EXHAUSTED", 429, "Either out of resource quota or reaching rate limiting."},
	{"INTERNAL", 500, "Internal server error."},
	{"BAD_GATEWAY", 502, "Server, while working as a gateway to get a response needed to handle the request, got an invalid response."},
	{"UNAVAILABLE", 503, "The server is not ready to handle the request."},
	{"GATEWAY_TIMEOUT", 504, "Server is acting as a gateway and cannot get a response in time."},
}

// errorTypeOf is the Node hub's getHttpErrorType for an HTTP code: the row of that code,
// else the INTERNAL row carrying the code.
func errorTypeOf(code int) httpErrorType {
	t := httpErrorTypes[8] // INTERNAL
	for _, r := range httpErrorTypes {
		if r.code == code {
			return r
		}
	}
	if code != 0 {
		t.code = code
	}
	return t
}

// errorWith is the Node hub's errorWith: the structured error of a failed execute.
func errorWith(t httpErrorType, msg string) *sdk.ErrorInfo {
	return &sdk.ErrorInfo{HTTPCode: t.code, StatusCode: t.status, Message: t.description + " " + msg,
		Location: "ActionContainer", DocumentationURL: "TODO"}
}

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
