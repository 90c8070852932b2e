package sendgrid

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"

	"github.com/actionhub/actionhub/sdk"
)

// source is the attachment's bytes with a known size, readable again for a retry: the
// pushed attachment as is, or a download spooled to a temporary file (never to memory).
type source struct {
	data []byte
	file *os.File
	size int64
}

type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string { return fmt.Sprintf("the data is over %d bytes", e.limit) }

// openSource returns the request's data; a download is spooled up to limit bytes (pushed
// data is already in memory: the caller checks its size).
func openSource(ctx context.Context, req *sdk.Request, limit int64) (*source, error) {
	if req.Attachment != nil && req.Attachment.Data != nil {
		return &source{data: req.Attachment.Data, size: int64(len(req.Attachment.Data))}, nil
	}
	rc, err := req.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "actionhub-sendgrid-*")
	if err != nil {
		return nil, fmt.Errorf("cannot spool the data: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(rc, limit+1))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if n > limit {
		f.Close()
		os.Remove(f.Name())
		return nil, &tooLargeError{limit}
	}
	return &source{file: f, size: n}, nil
}

// Reader returns a reader of the whole data from its start.
func (s *source) Reader() io.Reader {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return &byteReader{b: s.data}
}

// Close removes the spool file.
func (s *source) Close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// base64Reader encodes its source as standard base64 while it is read, through fixed
// buffers: padding appears only at the very end.
type base64Reader struct {
	src io.Reader
	in  [12 << 10]byte // a multiple of 3
	buf [16 << 10]byte // base64 of in
	out []byte
	err error
}

func newBase64Reader(src io.Reader) *base64Reader { return &base64Reader{src: src} }

func (r *base64Reader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		n, err := io.ReadFull(r.src, r.in[:])
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			r.err = io.EOF
		default:
			r.err = err
		}
		if n > 0 {
			m := base64.StdEncoding.EncodedLen(n)
			base64.StdEncoding.Encode(r.buf[:m], r.in[:n])
			r.out = r.buf[:m]
		}
	}
	k := copy(p, r.out)
	r.out = r.out[k:]
	return k, nil
}
