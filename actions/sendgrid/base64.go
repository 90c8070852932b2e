package sendgrid

import (
	"encoding/base64"
	"io"
)

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
