package sdk

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	illegalName  = regexp.MustCompile(`[/?<>\\:*|"]`)
	controlChars = regexp.MustCompile(`[\x00-\x1f\x80-\x9f]`)
	reservedName = regexp.MustCompile(`^\.+$`)
	windowsName  = regexp.MustCompile(`(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$`)
	trailingDots = regexp.MustCompile(`[. ]+$`)
	whitespace   = regexp.MustCompile(`\s+`)
)

// SanitizeFilename removes what the npm package sanitize-filename removes: / ? < > \ : * | ",
// control characters, reserved names and trailing dots or spaces, then cuts to 255 bytes.
func SanitizeFilename(name string) string {
	s := illegalName.ReplaceAllString(name, "")
	s = controlChars.ReplaceAllString(s, "")
	s = reservedName.ReplaceAllString(s, "")
	s = windowsName.ReplaceAllString(s, "")
	s = trailingDots.ReplaceAllString(s, "")
	for len(s) > 255 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// Extension returns the file extension for the request's data: the attachment's, else the
// one of form_params.format, else "".
func (r *Request) Extension() string {
	if r.Attachment != nil && r.Attachment.Extension != "" {
		return r.Attachment.Extension
	}
	if f := r.FormParams["format"]; f != "" {
		return Format(f).Extension()
	}
	return ""
}

// SuggestedFilename is the Node hub's suggestedFilename: "<plan title>.<ext>" or
// "looker_file_<epoch ms>.<ext>", sanitized.
func (r *Request) SuggestedFilename() string {
	base := ""
	if r.ScheduledPlan != nil && r.ScheduledPlan.Title != "" {
		base = r.ScheduledPlan.Title
	} else {
		base = "looker_file_" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	if ext := r.Extension(); ext != "" {
		return SanitizeFilename(base + "." + ext)
	}
	return SanitizeFilename(base)
}

// CompleteFilename is the Node hub's completeFilename over form_params.filename: with data of
// a known extension the name gets it appended (whitespace becomes "_"); a name with another
// extension falls back to the suggested filename. Without an extension the name is kept.
func (r *Request) CompleteFilename() string {
	name := r.FormParams["filename"]
	ext := r.Extension()
	if ext == "" || name == "" {
		return name
	}
	if strings.HasSuffix(name, "."+ext) {
		return whitespace.ReplaceAllString(strings.TrimSpace(name), "_")
	}
	if strings.Contains(name, ".") {
		return r.SuggestedFilename()
	}
	return whitespace.ReplaceAllString(strings.TrimSpace(name), "_") + "." + ext
}
