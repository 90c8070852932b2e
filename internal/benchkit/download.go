package benchkit

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/actionhub/actionhub/sdk/rows/rowsgen"
)

// Downloads serves Looker-style one-time download URLs on loopback: each URL streams what
// its generator writes, once; a second request gets 404. Nothing is materialised: the
// generators write as the client reads.
type Downloads struct {
	// URL is the server's base URL.
	URL string

	srv     *http.Server
	ln      net.Listener
	mu      sync.Mutex
	pending map[string]func(io.Writer) error
	served  atomic.Int64
	cut     atomic.Int64
	active  atomic.Int64
	peak    atomic.Int64
}

// NewDownloads starts a download server on 127.0.0.1.
func NewDownloads() (*Downloads, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &Downloads{ln: ln, URL: "http://" + ln.Addr().String(), pending: map[string]func(io.Writer) error{}}
	d.srv = &http.Server{Handler: http.HandlerFunc(d.serve), ReadHeaderTimeout: 10 * time.Second}
	go d.srv.Serve(ln)
	return d, nil
}

// Add registers gen and returns its one-time URL.
func (d *Downloads) Add(gen func(w io.Writer) error) string {
	var b [16]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	d.mu.Lock()
	d.pending[tok] = gen
	d.mu.Unlock()
	return d.URL + "/download/" + tok
}

// Served is the number of downloads started.
func (d *Downloads) Served() int64 { return d.served.Load() }

// Cut is the number of downloads that ended early (the client went away or the generator
// failed).
func (d *Downloads) Cut() int64 { return d.cut.Load() }

// PeakActive is the largest number of downloads streaming at the same time.
func (d *Downloads) PeakActive() int64 { return d.peak.Load() }

// Close stops the server and cuts the downloads in progress.
func (d *Downloads) Close() error { return d.srv.Close() }

func (d *Downloads) serve(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.URL.Path, "/download/")
	d.mu.Lock()
	gen := d.pending[tok]
	delete(d.pending, tok)
	d.mu.Unlock()
	if !ok || gen == nil || r.Method != http.MethodGet {
		http.Error(w, "download URL unknown or already used", http.StatusNotFound)
		return
	}
	d.served.Add(1)
	n := d.active.Add(1)
	defer d.active.Add(-1)
	for p := d.peak.Load(); n > p && !d.peak.CompareAndSwap(p, n); p = d.peak.Load() {
	}
	w.Header().Set("Content-Type", "application/json")
	if err := gen(w); err != nil {
		d.cut.Add(1)
		// Cut the stream so the reader sees an error, as when Looker fails mid-download.
		panic(http.ErrAbortHandler)
	}
}

// Rows returns a generator of rowsgen's json_detail_lite_stream output.
func Rows(opts rowsgen.Options) func(io.Writer) error {
	return func(w io.Writer) error { return rowsgen.JSONDetail(w, opts) }
}

// Bytes returns a generator of n pattern bytes, written in 1 MiB blocks from one buffer.
func Bytes(n int64) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := NewPattern(n).WriteTo(w)
		return err
	}
}

// Pattern is an io.Reader of n bytes that repeat one 1 MiB block of printable text.
type Pattern struct {
	left int64
	off  int
}

var patternBlock = func() []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789,\n"
	b := make([]byte, 1<<20)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = alphabet[x%uint32(len(alphabet))]
	}
	return b
}()

// NewPattern returns a Pattern of n bytes.
func NewPattern(n int64) *Pattern { return &Pattern{left: n} }

// Read implements io.Reader.
func (p *Pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := copy(b, patternBlock[p.off:])
	p.off = (p.off + n) % len(patternBlock)
	p.left -= int64(n)
	return n, nil
}

// WriteTo implements io.WriterTo, so io.Copy writes straight from the block.
func (p *Pattern) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for p.left > 0 {
		chunk := patternBlock[p.off:]
		if int64(len(chunk)) > p.left {
			chunk = chunk[:p.left]
		}
		n, err := w.Write(chunk)
		total += int64(n)
		p.left -= int64(n)
		p.off = (p.off + n) % len(patternBlock)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Fetch downloads u into io.Discard over loopback and returns the byte count: the
// physical reference of a run (the same bytes, merely read from the socket).
func Fetch(client *http.Client, u string) (int64, error) {
	resp, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, errors.New("download answered " + resp.Status)
	}
	return io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
}
