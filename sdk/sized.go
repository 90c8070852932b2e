package sdk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
)

// Sized is the request's data with its size known before it is sent, readable again from
// its start (for a vendor that asks for the length first, or a retry): a pushed attachment
// as it is, or Looker's download spooled to a temporary file (never to memory). Get one
// from [Request.OpenSized]; Close it to remove the temporary file.
type Sized struct {
	data []byte
	file *os.File
	size int64
}

// TooLargeError is returned by [Request.OpenSized] when the data is over its limit.
type TooLargeError struct {
	Limit int64 // the limit in bytes that the data went over
}

// Error says the data is over the limit (no more: the text may reach the Looker user).
func (e *TooLargeError) Error() string { return fmt.Sprintf("the data is over %d bytes", e.Limit) }

// OpenSized returns the request's data, refusing more than limit bytes with a
// *[TooLargeError]. A pushed attachment is used in place; a download is copied to a
// temporary file and stops being read at limit+1 bytes, so a large result costs disk
// up to the limit, never memory. Errors from [Request.Open] are returned as they are.
func (r *Request) OpenSized(ctx context.Context, limit int64) (*Sized, error) {
	if r.Attachment != nil && r.Attachment.Data != nil {
		if int64(len(r.Attachment.Data)) > limit {
			return nil, &TooLargeError{limit}
		}
		return &Sized{data: r.Attachment.Data, size: int64(len(r.Attachment.Data))}, nil
	}
	rc, err := r.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "actionhub-spool-*")
	if err != nil {
		return nil, fmt.Errorf("cannot spool the data: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(rc, limit+1))
	if err == nil && n > limit {
		err = &TooLargeError{limit}
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &Sized{file: f, size: n}, nil
}

// Size returns the data's length in bytes.
func (s *Sized) Size() int64 { return s.size }

// Reader returns a new reader of the whole data from its start; each call starts again.
func (s *Sized) Reader() io.Reader {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return bytes.NewReader(s.data)
}

// Close removes the temporary file, if any. It is safe to call more than once.
func (s *Sized) Close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
		s.file = nil
	}
}
