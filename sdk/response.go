package sdk

import (
	"errors"
	"fmt"
)

// Response is what an action's Execute returns. Use OK or Fail to build one.
type Response struct {
	Success          bool
	Message          string
	RefreshQuery     bool
	ValidationErrors map[string]string
	State            *State
	Error            *ErrorInfo
	// Report is the delivery report of a row or file action. When set, the server adds
	// its summary to Message, logs it, and sets Success from it unless the action decided.
	Report *Report
}

// OK returns a successful response with an optional message.
func OK(message string) *Response { return &Response{Success: true, Message: message} }

// Fail returns a failed response with a message for the user.
func Fail(message string) *Response { return &Response{Success: false, Message: message} }

// FromReport returns a response whose success and message come from a delivery report.
func FromReport(r *Report) *Response {
	return &Response{Success: r.Success(), Message: r.Summary(), Report: r}
}

// ErrorInfo is the Action API's structured error object of an execute reply.
type ErrorInfo struct {
	HTTPCode         int    `json:"http_code"`
	StatusCode       string `json:"status_code"`
	Message          string `json:"message"`
	Location         string `json:"location"`
	DocumentationURL string `json:"documentation_url"`
}

// httpErrorTypes are the rows of the Node hub's HTTP error table
// (src/error_types/http_errors.ts), whose descriptions start the error messages.
var httpErrorTypes = []struct {
	status string
	code   int
	desc   string
}{
	{"BAD_REQUEST", 400, "Server cannot process request due to client request error."},
	{"INVALID_ARGUMENT", 400, "Client specified an invalid argument."},
	{"FAILED_PRECONDITION", 400, "Request can not be executed in the current system state."},
	{"UNAUTHENTICATED", 401, "Request not authenticated due to missing, invalid, or expired authentication."},
	{"PERMISSION_DENIED", 403, "Client does not have sufficient permission."},
	{"NOT_FOUND", 404, "Specified resource is not found."},
	{"REQUEST_TIMEOUT", 408, "Request timed out before being able to complete"},
	{"ALREADY_EXISTS", 409, "The resource that a client tried to create already exists."},
	{"PAYLOAD_TOO_LARGE", 413, "Request entity is larger than limits defined by server."},
	{"RESOURCE_EXHAUSTED", 429, "Either out of resource quota or reaching rate limiting."},
	{"INTERNAL", 500, "Internal server error."},
	{"INTERNAL_ECONNRESET", 500, "Connection reset."},
	{"BAD_GATEWAY", 502, "Server, while working as a gateway to get a response needed to handle the request, got an invalid response."},
	{"UNAVAILABLE", 503, "The server is not ready to handle the request."},
	{"GATEWAY_TIMEOUT", 504, "Server is acting as a gateway and cannot get a response in time."},
}

// NewErrorInfo builds the Node hub's errorWith object for a status name (BAD_REQUEST,
// UNAUTHENTICATED, ...): message is the standard description, a space, and msg. An unknown
// name gives INTERNAL.
func NewErrorInfo(statusCode, msg string) *ErrorInfo {
	t := httpErrorTypes[10] // INTERNAL
	for _, r := range httpErrorTypes {
		if r.status == statusCode {
			t = r
			break
		}
	}
	return &ErrorInfo{HTTPCode: t.code, StatusCode: t.status, Message: t.desc + " " + msg,
		Location: "ActionContainer", DocumentationURL: "TODO"}
}

// StatusName is the Action API's status name of an HTTP status code (429:
// RESOURCE_EXHAUSTED): the first name the Node hub's table gives the code, INTERNAL for a
// code the table does not list.
func StatusName(code int) string {
	for _, r := range httpErrorTypes {
		if r.code == code {
			return r.status
		}
	}
	return "INTERNAL"
}

// ErrorInfoForHTTP is the Node hub's errorWith(getHttpErrorType(code), msg): the first row
// of that HTTP code, else INTERNAL carrying the code.
func ErrorInfoForHTTP(code int, msg string) *ErrorInfo {
	for _, r := range httpErrorTypes {
		if r.code == code {
			return NewErrorInfo(r.status, msg)
		}
	}
	e := NewErrorInfo("INTERNAL", msg)
	if code != 0 {
		e.HTTPCode = code
	}
	return e
}

// Error is an error whose text is shown to the Looker user as is. Returned from Execute
// or Form it becomes the Node hub's 404 {"success":false,"error":text} answer.
type Error struct{ Text string }

func (e *Error) Error() string { return e.Text }

// Errorf returns an *Error with a formatted text.
func Errorf(format string, args ...any) error { return &Error{Text: fmt.Sprintf(format, args...)} }

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
