package slack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/actionhub/actionhub/sdk"
)

// source is the data to upload with its size known (Slack asks for the length first),
// readable again for a retry: the pushed attachment as is, or Looker's download spooled
// to a temporary file (never to memory).
type source struct {
	data []byte
	file *os.File
	size int64
}

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string { return fmt.Sprintf("the data is over %d bytes", e.limit) }

// openSource returns the request's data, refusing more than limit bytes. A download
// stops being read at limit+1 bytes.
func openSource(ctx context.Context, req *sdk.Request, limit int64) (*source, error) {
	if req.Attachment != nil && req.Attachment.Data != nil {
		if int64(len(req.Attachment.Data)) > limit {
			return nil, &tooLargeError{limit}
		}
		return &source{data: req.Attachment.Data, size: int64(len(req.Attachment.Data))}, nil
	}
	rc, err := req.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "actionhub-slack-*")
	if err != nil {
		return nil, fmt.Errorf("cannot spool the data: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(rc, limit+1))
	if err == nil && n > limit {
		err = &tooLargeError{limit}
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &source{file: f, size: n}, nil
}

// Reader returns a reader of the whole data from its start.
func (s *source) Reader() io.Reader {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return bytes.NewReader(s.data)
}

// Close removes the spool file.
func (s *source) Close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}
