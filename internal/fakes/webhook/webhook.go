// Package webhook is a fake webhook receiver for the tests of the webhook-style actions
// (zapier, tray, teams_incomingwebhook): an HTTPS server whose certificate covers the
// vendor host names the actions check (hooks.zapier.com, *.trayapp.io, *.logic.azure.com,
// ...), a Rewire function that points a guarded transport at it while keeping the
// network guard in force, a record of every request received, and injected faults.
package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/fakes/faults"
)

// MaxKeptBody is how much of each request body the fake keeps; the size and hash cover
// the whole body.
const MaxKeptBody = 1 << 20

// Request is one request the fake received.
type Request struct {
	Host   string
	Method string
	Path   string
	Query  string
	Header http.Header
	// Body is the first MaxKeptBody bytes; Size and SHA256 are of the whole body.
	Body   []byte
	Size   int64
	SHA256 string
	// Fault is the fault injected into this request (faults.None for a normal answer).
	Fault faults.Kind
}

// Server is a running fake receiver.
type Server struct {
	*httptest.Server
	// Faults injects rate limits, server errors, stalls and dropped connections.
	Faults faults.Injector
	// Answer writes the reply of a request that got no fault, after its body was read;
	// nil answers 200 "ok".
	Answer func(w http.ResponseWriter, r *Request)
	// HoldBody, when set, makes the fake stop reading bodies (a stalled receiver) until
	// the client gives up.
	HoldBody bool

	pool     *x509.CertPool
	closing  chan struct{}
	received atomic.Int64
	mu       sync.Mutex
	reqs     []Request
}

// New starts a fake whose certificate is valid for hosts (wildcards such as
// "*.trayapp.io" allowed) and 127.0.0.1. It stops when the test ends.
func New(t testing.TB, hosts ...string) *Server {
	t.Helper()
	cert, pool, err := selfSigned(hosts)
	if err != nil {
		t.Fatalf("fake webhook: certificate: %v", err)
	}
	s := &Server{pool: pool, closing: make(chan struct{})}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.Server.StartTLS()
	t.Cleanup(s.Close)
	// Runs before Close (cleanups run last-in first-out): releases held handlers.
	t.Cleanup(func() { close(s.closing) })
	return s
}

// Rewire points a transport at the fake: every dial goes to the fake's listener (the
// transport's own DialContext, with its network guard, still makes the connection) and
// the fake's certificate is trusted.
func (s *Server) Rewire(tr *http.Transport) {
	addr := s.Listener.Addr().String()
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial(ctx, network, addr)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: s.pool}
}

// Received returns the body bytes received so far, counted as they arrive (before a
// request is complete and recorded).
func (s *Server) Received() int64 { return s.received.Load() }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Host: r.Host, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()}
	k := s.Faults.Next()
	rec.Fault = k
	if s.HoldBody {
		// An HTTP/1 handler that does not read the body does not learn that the client
		// left, so hold until the test ends.
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		s.record(rec)
		return
	}
	if s.Faults.Before(w, r, k, func(status int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"status":"error","message":"injected fault"}`)
	}) {
		s.record(rec)
		return
	}
	h := sha256.New()
	var kept bytes.Buffer
	n, err := io.Copy(io.MultiWriter(h, &limitedWriter{w: &kept, n: MaxKeptBody}, progress{&s.received}), r.Body)
	rec.Body, rec.Size, rec.SHA256 = kept.Bytes(), n, hex.EncodeToString(h.Sum(nil))
	if err != nil {
		rec.Fault = faults.DropBefore
		s.record(rec)
		return
	}
	s.record(rec)
	if s.Faults.After(w, r, k) {
		return
	}
	if s.Answer != nil {
		s.Answer(w, &rec)
		return
	}
	io.WriteString(w, "ok")
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

type progress struct{ n *atomic.Int64 }

func (p progress) Write(b []byte) (int, error) { p.n.Add(int64(len(b))); return len(b), nil }

type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(int64(len(p)), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

func selfSigned(hosts []string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "fake webhook receiver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              hosts,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
