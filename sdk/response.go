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

// errorDescriptions are the standard descriptions the Node hub's error helper prefixes.
var errorDescriptions = map[string]struct {
	code int
	desc string
}{
	"BAD_REQUEST":         {400, "Bad Request"},
	"INVALID_ARGUMENT":    {400, "Client specified an invalid argument."},
	"FAILED_PRECONDITION": {400, "Request can not be executed in the current system state."},
	"UNAUTHENTICATED":     {401, "Request not authenticated due to missing, invalid, or expired OAuth token."},
	"PERMISSION_DENIED":   {403, "Client does not have sufficient permission."},
	"NOT_FOUND":           {404, "A specified resource is not found."},
	"REQUEST_TIMEOUT":     {408, "Request timed out."},
	"ALREADY_EXISTS":      {409, "The resource that a client tried to create already exists."},
	"PAYLOAD_TOO_LARGE":   {413, "Payload too large."},
	"RESOURCE_EXHAUSTED":  {429, "Either out of resource quota or reaching rate limiting."},
	"INTERNAL":            {500, "Internal server error."},
	"INTERNAL_ECONNRESET": {500, "Connection reset."},
	"BAD_GATEWAY":         {502, "Bad Gateway."},
	"UNAVAILABLE":         {503, "Service unavailable."},
	"GATEWAY_TIMEOUT":     {504, "Gateway timeout."},
}

// NewErrorInfo builds the structured error of the Node hub's helper for a status code name
// (BAD_REQUEST, UNAUTHENTICATED, ...): message is the standard description, a space, and msg.
func NewErrorInfo(statusCode, msg string) *ErrorInfo {
	d, ok := errorDescriptions[statusCode]
	if !ok {
		d = errorDescriptions["INTERNAL"]
		statusCode = "INTERNAL"
	}
	return &ErrorInfo{HTTPCode: d.code, StatusCode: statusCode, Message: d.desc + " " + msg,
		Location: "ActionContainer", DocumentationURL: "TODO"}
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
