package sdk

import (
	"fmt"
	"io"
	"strings"
)

// CountingReader counts the bytes read through it (file actions report the bytes they
// delivered).
type CountingReader struct {
	R io.Reader
	N int64
}

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// contentTypes are the MIME types of the extensions Looker renders.
var contentTypes = map[string]string{
	"csv":  "text/csv",
	"txt":  "text/plain; charset=utf-8",
	"json": "application/json",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"html": "text/html; charset=utf-8",
	"pdf":  "application/pdf",
	"png":  "image/png",
	"zip":  "application/zip",
	// Looker names the zipped CSV format csv_zip.
	"csv_zip": "application/zip",
}

// ContentType is the MIME type of the request's data: the attachment's (without
// ";base64"), else the one of its extension, else application/octet-stream.
func (r *Request) ContentType() string {
	if r.Attachment != nil && r.Attachment.MimeType != "" {
		return strings.TrimSuffix(r.Attachment.MimeType, ";base64")
	}
	if ct, ok := contentTypes[strings.ToLower(r.Extension())]; ok {
		return ct
	}
	return "application/octet-stream"
}

// FileWritten records one file of n bytes delivered to where (for example
// "s3://bucket/key") and returns the response: "Delivered 1 of 1 files: wrote <where>
// (<n> bytes)."
func FileWritten(rep *Report, where string, n int64) *Response {
	rep.AddBytes(n)
	rep.AddDelivered(1)
	resp := FromReport(rep)
	resp.Message = fmt.Sprintf("%s: wrote %s (%s bytes).", strings.TrimSuffix(resp.Message, "."), where, Thousands(n))
	return resp
}

// Thousands writes n with thousands separators (1,234,567).
func Thousands(n int64) string { return group(n) }
