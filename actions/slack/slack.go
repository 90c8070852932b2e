// Package slack holds the two Slack actions of the Node hub, on the shared helpers of its
// slack/utils.ts:
//
//   - "slack" ("Slack Attachment (API Token)"): an admin-configured bot or legacy token;
//     Looker pushes the rendered file.
//   - "slack_app" ("Slack"): Looker's own Slack app, whose OAuth Looker runs itself
//     (delegate OAuth); the tokens arrive as the user's state, one per workspace; the data
//     is streamed from Looker's download URL.
//
// Both show the same form (channel type: a typed channel or user ID, a list of channels,
// or a list of users; comment; filename) and deliver the same way: a file goes through
// Slack's external upload flow (files.getUploadURLExternal, the POST of the bytes,
// files.completeUploadExternal: files.upload was sunset in 2025), to a channel or to a
// user's direct-message conversation; without data, the comment is posted with
// chat.postMessage.
//
// Compared with the Node code: the file is never held in memory (pushed data is used as
// is; a download is spooled to a bounded temporary file, refused past Slack's 1 GB file
// limit); every call has a timeout; rate limits are honoured (Retry-After) a bounded
// number of times; every step's failure is reported, mapped to the Action API's error
// object; DMs do not post an extra "Looker Data" message when the token may open the
// conversation (im:write); channel and user lists are paginated, sorted, and without
// bots or deleted users.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
	"github.com/actionhub/actionhub/sdk/vendorhttp"
)

// Slack limits.
const (
	// MaxFileBytes is the largest file sent: 1 GB, the Node action's MAX_SIZE (2^30) and
	// the per-file limit Slack's help center states (not confirmed in the API reference).
	// Uploads use the external flow of
	// https://docs.slack.dev/changelog/2024-04-a-better-way-to-upload-files-is-here-to-stay
	MaxFileBytes = 1 << 30
	// PageLimit is the page size of conversations.list and users.list. The Node action
	// asked for 1000; Slack's current reference gives 999 as the maximum
	// (https://docs.slack.dev/tools/node-slack-sdk/reference/web-api/interfaces/ConversationsMembersArguments;
	// cursors: https://docs.slack.dev/apis/web-api/pagination). The vendor wins.
	PageLimit = 999
	// MaxPages bounds a listing (about 100,000 entries): past that a select is of no use
	// and the manual channel type is the way.
	MaxPages = 100
)

// DefaultAPIURL is Slack's Web API; ACTION_HUB_VENDOR_URL_SLACK overrides it (tests,
// Slack GovSlack: https://slack-gov.com/api).
const DefaultAPIURL = "https://slack.com/api"

// Timeouts and retries.
const (
	// CallTimeout bounds each Web API call.
	CallTimeout = 30 * time.Second
	// uploadBase and uploadRate give the byte upload's timeout: uploadBase plus the time
	// to send the file at uploadRate bytes per second.
	uploadBase = 2 * time.Minute
	uploadRate = 256 << 10
	// uploadIdle ends an upload Slack stopped reading.
	uploadIdle = 2 * time.Minute
	// maxRetries is how many times a rate-limited (or, for reads, failed with 5xx) call is
	// retried; maxRetryAfter is the longest Retry-After honoured. Slack answers 429 with
	// Retry-After in seconds: https://docs.slack.dev/apis/web-api/rate-limits
	maxRetries    = 3
	maxRetryAfter = time.Minute
)

// logPrefix starts every error text, as in the Node actions.
const logPrefix = "[SLACK]"

// Texts shown to users.
const (
	authMessage     = "You must connect to a Slack workspace first."
	badAuthMessage  = "Your Slack authentication credentials are not valid."
	loginLabel      = "Log in"
	loginText       = "In order to send to a file, you will need to log in to your Slack account."
	illegalState    = "Illegal State: state_url is empty."
	channelTypeText = "Type of destination to fetch"
	shareInText     = "Name of the Slack channel you would like to post to."
)

// Channel types of the form.
const (
	TypeManual   = "manual"
	TypeChannels = "channels"
	TypeUsers    = "users"
)

func iconURI(svg []byte) string { return sdk.IconDataURI("image/svg+xml", svg) }

// core is what both actions share: the environment and the call policy.
type core struct {
	env *sdk.Env
	// Clock times retry waits (nil: the real clock).
	Clock vendorhttp.Clock
	// Timeout bounds each Web API call; zero means CallTimeout.
	Timeout time.Duration
}

// client returns a Web API client for token. It retries nothing itself: call does.
func (c *core) client(token string) *slack.Client {
	return slack.New(token,
		slack.OptionAPIURL(c.env.VendorURL("slack", DefaultAPIURL)+"/"),
		slack.OptionHTTPClient(c.env.Client()))
}

func (c *core) clock() vendorhttp.Clock {
	if c.Clock != nil {
		return c.Clock
	}
	return vendorhttp.RealClock{}
}

func (c *core) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return CallTimeout
}

// rateLimitedError is a call still rate limited after the retries, or asked to wait
// longer than the hub does.
type rateLimitedError struct {
	method   string
	after    time.Duration
	attempts int
}

func (e *rateLimitedError) Error() string {
	if e.after > 0 {
		return fmt.Sprintf("Slack rate limited %s; retry after %s", e.method, e.after.Round(time.Second))
	}
	return fmt.Sprintf("Slack rate limited %s (gave up after %d attempts)", e.method, e.attempts)
}

// timeoutError is a call Slack did not answer in time.
type timeoutError struct {
	method string
	after  time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("Slack did not answer %s within %s", e.method, e.after)
}

// call runs fn with a timeout. A rate-limited answer is retried after its Retry-After (at
// least a second); with idempotent set, 5xx answers are retried too, with backoff. Calls
// that may have had an effect (sharing a file, posting a message) are not idempotent: a
// 5xx could come after the effect, and the retry would post twice.
func (c *core) call(ctx context.Context, method string, idempotent bool, timeout time.Duration, fn func(context.Context) error) error {
	if timeout <= 0 {
		timeout = c.timeout()
	}
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, method, timeout, fn)
		if err == nil {
			return nil
		}
		var to *timeoutError
		if errors.As(err, &to) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var wait time.Duration
		var rl *slack.RateLimitedError
		var sc slack.StatusCodeError
		var se slack.SlackErrorResponse
		switch {
		case errors.As(err, &rl):
			wait = max(rl.RetryAfter, time.Second)
			if rl.RetryAfter > maxRetryAfter {
				return &rateLimitedError{method: method, after: rl.RetryAfter}
			}
		case errors.As(err, &sc) && sc.Code == http.StatusTooManyRequests,
			errors.As(err, &se) && se.Err == "ratelimited":
			wait = time.Second << (attempt - 1)
		case idempotent && errors.As(err, &sc) && sc.Code >= 500:
			wait = time.Second << (attempt - 1)
		default:
			return err
		}
		if attempt > maxRetries {
			if errors.As(err, &sc) && sc.Code >= 500 {
				return err
			}
			return &rateLimitedError{method: method, attempts: attempt}
		}
		if err := c.clock().Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// once runs fn with a timeout; a timed-out call becomes a *timeoutError.
func (c *core) once(ctx context.Context, method string, timeout time.Duration, fn func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := fn(actx)
	if err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		var to *timeoutError
		if !errors.As(err, &to) {
			return &timeoutError{method: method, after: timeout}
		}
	}
	return err
}

// fieldsFor returns the form's fields for a channel type, listing channels or users
// when asked.
func (c *core) fieldsFor(ctx context.Context, api *slack.Client, channelType string) ([]sdk.Field, error) {
	typeField := sdk.Field{Description: channelTypeText, Label: "Channel Type", Name: "channelType",
		Options: []sdk.Option{{Name: TypeManual, Label: "Manual Channel ID"}, {Name: TypeChannels, Label: "Channels"}, {Name: TypeUsers, Label: "Users"}},
		Type:    sdk.FieldSelect, Default: TypeManual, Interactive: true}
	var channel sdk.Field
	switch channelType {
	case TypeChannels, TypeUsers:
		var opts []sdk.Option
		var err error
		if channelType == TypeChannels {
			opts, err = c.channels(ctx, api)
		} else {
			opts, err = c.users(ctx, api)
		}
		if err != nil {
			return nil, err
		}
		sort.SliceStable(opts, func(i, j int) bool { return opts[i].Label < opts[j].Label })
		channel = sdk.Field{Description: shareInText, Label: "Share In", Name: "channel", Options: opts, Required: true, Type: sdk.FieldSelect}
	default:
		channel = sdk.Field{Label: "Channel or User ID", Name: "channel", Required: true, Type: sdk.FieldString,
			Description: "The ID of a channel (C…, G…) or of a user (U…, W…) to send to directly. A channel's ID is at the bottom of its details in Slack."}
	}
	return []sdk.Field{typeField, channel,
		{Label: "Comment", Type: sdk.FieldString, Name: "initial_comment"},
		{Label: "Filename", Name: "filename", Type: sdk.FieldString}}, nil
}

// channels lists the public and private channels the token sees, unarchived.
func (c *core) channels(ctx context.Context, api *slack.Client) ([]sdk.Option, error) {
	var out []sdk.Option
	cursor := ""
	for page := 0; page < MaxPages; page++ {
		var list []slack.Channel
		var next string
		err := c.call(ctx, "conversations.list", true, 0, func(ctx context.Context) error {
			var err error
			list, next, err = api.GetConversationsContext(ctx, &slack.GetConversationsParameters{
				Cursor: cursor, ExcludeArchived: true, Limit: PageLimit, Types: []string{"public_channel", "private_channel"}})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, ch := range list {
			if !ch.IsArchived {
				out = append(out, sdk.Option{Name: ch.ID, Label: "#" + ch.Name})
			}
		}
		if next == "" || next == cursor {
			return out, nil
		}
		cursor = next
	}
	c.env.Log().Warn("slack: channel list cut", "pages", MaxPages)
	return out, nil
}

// users lists the workspace's full members: no guests, bots, Slackbot or deleted users.
func (c *core) users(ctx context.Context, api *slack.Client) ([]sdk.Option, error) {
	var out []sdk.Option
	p := api.GetUsersPaginated(slack.GetUsersOptionLimit(PageLimit), slack.GetUsersOptionIncludeLocale(false))
	for page := 0; page < MaxPages; page++ {
		var next slack.UserPagination
		err := c.call(ctx, "users.list", true, 0, func(ctx context.Context) error {
			var err error
			next, err = p.Next(ctx)
			return err
		})
		if err != nil {
			if p.Done(err) {
				return out, nil
			}
			return nil, err
		}
		for _, u := range next.Users {
			if u.IsRestricted || u.IsUltraRestricted || u.IsBot || u.Deleted || u.ID == "USLACKBOT" {
				continue
			}
			out = append(out, sdk.Option{Name: u.ID, Label: "@" + u.Name})
		}
		if next.Cursor == "" || next.Cursor == p.Cursor {
			return out, nil
		}
		p = next
	}
	c.env.Log().Warn("slack: user list cut", "pages", MaxPages)
	return out, nil
}

// failure is an execute failure with the Action API's error object.
func failure(statusCode, text string) *sdk.Response {
	info := sdk.NewErrorInfo(statusCode, text)
	return &sdk.Response{Success: false, Message: info.Message, Error: info}
}

// isUser reports whether a channel argument is a user ID (a DM is wanted).
func isUser(id string) bool { return strings.HasPrefix(id, "U") || strings.HasPrefix(id, "W") }

// deliver is the Node handleExecute: upload the data to the channel or user, or post the
// comment when there is no data.
func (c *core) deliver(ctx context.Context, req *sdk.Request, api *slack.Client, token string) (*sdk.Response, error) {
	channel := strings.TrimSpace(req.FormParams["channel"])
	if channel == "" {
		return failure("BAD_REQUEST", logPrefix+" Missing channel"), nil
	}
	filename := req.SuggestedFilename()
	if req.FormParams["filename"] != "" {
		filename = req.CompleteFilename()
	}
	comment := req.FormParams["initial_comment"]
	if !req.HasData() {
		c.env.Log().Info("slack: no data to upload, sending a message instead")
		if _, err := c.post(ctx, api, channel, comment); err != nil {
			return c.mapError(err, token), nil
		}
		return sdk.OK(""), nil
	}
	src, err := req.OpenSized(ctx, MaxFileBytes)
	if err != nil {
		return c.mapError(err, token), nil
	}
	defer src.Close()
	if src.Size() == 0 {
		return failure("INVALID_ARGUMENT", logPrefix+" The data is empty (0 bytes); Slack does not take empty files."), nil
	}
	fileID, err := c.upload(ctx, api, src, filename)
	if err != nil {
		return c.mapError(err, token), nil
	}
	target := channel
	if isUser(channel) {
		// Files are shared to conversations: find the user's DM with the app.
		if comment != "" {
			target, err = c.post(ctx, api, channel, comment)
		} else {
			target, err = c.openDM(ctx, api, channel)
		}
		if err != nil {
			return c.mapError(err, token), nil
		}
	}
	err = c.call(ctx, "files.completeUploadExternal", false, 0, func(ctx context.Context) error {
		_, err := api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
			Files: []slack.FileSummary{{ID: fileID, Title: filename}}, Channel: target})
		return err
	})
	if err != nil {
		return c.mapError(err, token), nil
	}
	if !isUser(channel) && comment != "" {
		// Sent after the file, on its own, so that markdown links render (as in Node).
		if _, err := c.post(ctx, api, channel, comment); err != nil {
			return c.mapError(err, token), nil
		}
	}
	c.env.Log().Info("slack: file shared", "bytes", src.Size(), "dm", isUser(channel))
	return sdk.OK(""), nil
}

// post sends a message and returns the conversation it went to (a user ID gives the DM).
func (c *core) post(ctx context.Context, api *slack.Client, channel, text string) (string, error) {
	var got string
	err := c.call(ctx, "chat.postMessage", false, 0, func(ctx context.Context) error {
		var err error
		got, _, err = api.PostMessageContext(ctx, channel, slack.MsgOptionText(text, false))
		return err
	})
	return got, err
}

// openDM returns the user's DM conversation with the app. Tokens without im:write (the
// legacy action's documented scopes do not include it) fall back to the Node way: a
// "Looker Data" message opens the DM.
func (c *core) openDM(ctx context.Context, api *slack.Client, user string) (string, error) {
	var id string
	err := c.call(ctx, "conversations.open", true, 0, func(ctx context.Context) error {
		ch, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}})
		if err == nil {
			id = ch.ID
		}
		return err
	})
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "missing_scope" || se.Err == "not_allowed_token_type") {
		return c.post(ctx, api, user, "Looker Data")
	}
	return id, err
}

// upload runs the first two steps of the external upload and returns the file's ID. A
// rate-limited or failed step starts again from a new upload URL: nothing is shared
// before files.completeUploadExternal.
func (c *core) upload(ctx context.Context, api *slack.Client, src *sdk.Sized, filename string) (string, error) {
	var fileID string
	timeout := uploadBase + time.Duration(src.Size()/uploadRate)*time.Second
	err := c.call(ctx, "file upload", true, timeout, func(ctx context.Context) error {
		var u *slack.GetUploadURLExternalResponse
		err := c.once(ctx, "files.getUploadURLExternal", c.timeout(), func(ctx context.Context) error {
			var err error
			u, err = api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
				FileName: filename, FileSize: int(src.Size())})
			return err
		})
		if err != nil {
			return err
		}
		uctx, body, stop := netguard.WatchBody(ctx, src.Reader(), uploadIdle)
		defer stop()
		err = api.UploadToURL(uctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Reader: body, Filename: filename})
		if err != nil && errors.Is(context.Cause(uctx), netguard.ErrStalled) {
			return &timeoutError{method: "the file upload (Slack stopped reading)", after: uploadIdle}
		}
		fileID = u.FileID
		return err
	})
	return fileID, err
}

// platformHints explain Slack's common error codes.
var platformHints = map[string]string{
	"channel_not_found": "the channel does not exist, or the Slack app is not in it: invite the app or check the ID",
	"not_in_channel":    "the Slack app is not in the channel: invite it",
	"is_archived":       "the channel is archived",
	"invalid_auth":      badAuthMessage,
	"not_authed":        badAuthMessage,
	"token_revoked":     badAuthMessage,
	"account_inactive":  badAuthMessage,
	"user_not_found":    "the user does not exist",
	"file_not_found":    "Slack lost the uploaded file; try again",
	"restricted_action": "the workspace does not allow the app to do this",
	"invalid_arguments": "Slack refused the upload's arguments",
}

// mapError turns a failure into the Action API's answer, as the Node helper does: Slack
// platform errors are 400, rate limits 429, HTTP errors keep their status, timeouts 504,
// anything else 500. The token never appears.
func (c *core) mapError(err error, token string) *sdk.Response {
	code, text := classify(err)
	if code == "" {
		code, text = "INTERNAL", logPrefix+" Error while sending data "+text
	}
	c.env.Log().Warn("slack: delivery failed", "status_code", code, "error", vendorhttp.Redact(text, token))
	return failure(code, vendorhttp.Redact(text, token))
}

// classify returns the status code name and the text of an error ("" code: default).
func classify(err error) (string, string) {
	var se slack.SlackErrorResponse
	var rl *rateLimitedError
	var to *timeoutError
	var sc slack.StatusCodeError
	var tl *sdk.TooLargeError
	var de *sdk.DownloadError
	switch {
	case errors.As(err, &rl):
		return "RESOURCE_EXHAUSTED", logPrefix + " " + rl.Error()
	case errors.As(err, &se):
		text := logPrefix + " Error while sending data errored with WebPlatformError " + se.Err
		if h := platformHints[se.Err]; h != "" {
			text += " (" + h + ")"
		}
		if se.Err == "missing_scope" && se.Needed != "" {
			text += " (the token needs the scope " + se.Needed + ")"
		}
		if se.Err == "invalid_arguments" {
			return "INVALID_ARGUMENT", text
		}
		return "BAD_REQUEST", text
	case errors.As(err, &to):
		return "GATEWAY_TIMEOUT", logPrefix + " " + to.Error()
	case errors.As(err, &sc):
		return httpCode(sc.Code), fmt.Sprintf("%s HTTP request error: %d %s", logPrefix, sc.Code, http.StatusText(sc.Code))
	case errors.As(err, &tl):
		return "PAYLOAD_TOO_LARGE", logPrefix + " Payload was over 1 GB which is not supported"
	case errors.As(err, &de):
		return "INTERNAL", logPrefix + " Could not read the data from Looker: " + de.Error()
	case errors.Is(err, context.Canceled):
		return "INTERNAL", logPrefix + " The request was cancelled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL (an upload URL) is left out; the cause is a request error.
		return "BAD_REQUEST", logPrefix + " Error while sending data " + ue.Err.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return "BAD_REQUEST", logPrefix + " Error while sending data " + err.Error()
	}
	return "", err.Error()
}

func httpCode(status int) string {
	switch status {
	case 400:
		return "BAD_REQUEST"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 408:
		return "REQUEST_TIMEOUT"
	case 413:
		return "PAYLOAD_TOO_LARGE"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 502:
		return "BAD_GATEWAY"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "GATEWAY_TIMEOUT"
	}
	return "INTERNAL"
}

// displayError is the text a form shows for a listing failure (the Node displayError,
// which maps invalid_auth, plus readable texts for the rest).
func displayError(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "invalid_auth", "not_authed", "token_revoked", "account_inactive":
			return badAuthMessage
		case "missing_scope":
			if se.Needed != "" {
				return "An API error occurred: missing_scope (the token needs the scope " + se.Needed + ")"
			}
		}
		return "An API error occurred: " + se.Err
	}
	_, text := classify(err)
	return text
}
