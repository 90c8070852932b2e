// Package sftpfake is an in-process SSH server with an SFTP subsystem for tests: it has a
// fixed, known host key, checks password and public-key logins, writes into a directory
// (usually t.TempDir()) that is its whole file system, and counts open connections so tests
// can assert that clients close them.
package sftpfake

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// HostKeySeed is the seed of the fake's ed25519 host key; Fingerprint never changes.
var HostKeySeed = bytes.Repeat([]byte{7}, ed25519.SeedSize)

// Options configures a Server.
type Options struct {
	// User and Password are the accepted password login; an empty Password refuses passwords.
	User, Password string
	// AuthorizedKeys are the public keys accepted for User.
	AuthorizedKeys []ssh.PublicKey
	// Root is the directory served as "/"; empty means t.TempDir().
	Root string
	// HostKeySeed overrides HostKeySeed (for a "changed host key" test).
	HostKeySeed []byte
}

// Server is a running fake.
type Server struct {
	// Addr is host:port of the listener.
	Addr string
	// Root is the directory the server writes to.
	Root string
	// Fingerprint is the host key's SHA256 fingerprint as ssh-keygen -lf prints it.
	Fingerprint string
	// HostKey is the public host key.
	HostKey ssh.PublicKey

	opts   Options
	ln     net.Listener
	open   atomic.Int64
	total  atomic.Int64
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	logins []string
}

// New starts a fake server, stopped at the end of the test.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	seed := opts.HostKeySeed
	if seed == nil {
		seed = HostKeySeed
	}
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	s := &Server{Root: opts.Root, opts: opts, HostKey: signer.PublicKey(),
		Fingerprint: ssh.FingerprintSHA256(signer.PublicKey()), conns: map[net.Conn]struct{}{}}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if opts.Password != "" && c.User() == opts.User && string(pw) == opts.Password {
				s.login("password")
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("bad password")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range opts.AuthorizedKeys {
				if c.User() == opts.User && bytes.Equal(k.Marshal(), key.Marshal()) {
					s.login("publickey")
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(signer)
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = s.ln.Addr().String()
	go s.serve(cfg)
	t.Cleanup(s.Close)
	return s
}

func (s *Server) login(method string) {
	s.mu.Lock()
	s.logins = append(s.logins, method)
	s.mu.Unlock()
}

// Logins returns the methods of the successful logins so far ("password", "publickey").
func (s *Server) Logins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.logins...)
}

// Open is the number of connections currently open.
func (s *Server) Open() int64 { return s.open.Load() }

// Total is the number of connections accepted so far.
func (s *Server) Total() int64 { return s.total.Load() }

// WaitClosed waits until no connection is open and fails the test after timeout.
func (s *Server) WaitClosed(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for s.Open() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sftpfake: %d connection(s) still open after %v", s.Open(), timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close stops the listener and drops every connection.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

func (s *Server) serve(cfg *ssh.ServerConfig) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.open.Add(1)
		s.total.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go func() {
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				s.open.Add(-1)
			}()
			s.handle(c, cfg)
		}()
	}
}

func (s *Server) handle(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for r := range creqs {
				ok := r.Type == "subsystem" && len(r.Payload) > 4 && string(r.Payload[4:]) == "sftp"
				r.Reply(ok, nil)
				if ok {
					go func() {
						h := &fsHandler{root: s.Root}
						srv := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
						srv.Serve()
						srv.Close()
						ch.Close()
					}()
				}
			}
		}()
	}
}

// fsHandler serves a directory as the whole SFTP file system.
type fsHandler struct{ root string }

func (h *fsHandler) real(p string) string {
	return filepath.Join(h.root, filepath.FromSlash(path.Clean("/"+p)))
}

// Fileread opens a file for reading.
func (h *fsHandler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	return os.Open(h.real(r.Filepath))
}

// Filewrite opens a file for writing with the client's create/truncate/exclusive flags.
func (h *fsHandler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	flags := os.O_WRONLY | os.O_CREATE
	pf := r.Pflags()
	if pf.Trunc {
		flags |= os.O_TRUNC
	}
	if pf.Excl {
		flags |= os.O_EXCL
	}
	return os.OpenFile(h.real(r.Filepath), flags, 0o644)
}

// Filecmd runs rename, remove, mkdir, rmdir and setstat.
func (h *fsHandler) Filecmd(r *sftp.Request) error {
	switch r.Method {
	case "Rename":
		// SFTP v3: rename fails when the target exists.
		if _, err := os.Stat(h.real(r.Target)); err == nil {
			return sftp.ErrSSHFxFailure
		}
		return os.Rename(h.real(r.Filepath), h.real(r.Target))
	case "Remove":
		return os.Remove(h.real(r.Filepath))
	case "Mkdir":
		return os.Mkdir(h.real(r.Filepath), 0o755)
	case "Rmdir":
		return os.Remove(h.real(r.Filepath))
	case "Setstat":
		return nil
	}
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename replaces the target atomically (posix-rename@openssh.com).
func (h *fsHandler) PosixRename(r *sftp.Request) error {
	return os.Rename(h.real(r.Filepath), h.real(r.Target))
}

// Filelist answers List and Stat.
func (h *fsHandler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		entries, err := os.ReadDir(h.real(r.Filepath))
		if err != nil {
			return nil, err
		}
		var out listerAt
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				out = append(out, fi)
			}
		}
		return out, nil
	case "Stat":
		fi, err := os.Stat(h.real(r.Filepath))
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

type listerAt []os.FileInfo

// ListAt copies entries from offset.
func (l listerAt) ListAt(ls []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(ls, l[offset:])
	if n < len(ls) {
		return n, io.EOF
	}
	return n, nil
}
