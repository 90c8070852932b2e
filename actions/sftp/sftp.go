// Package sftp is the "sftp" action: it uploads the rendered file to an SFTP server whose
// address and credentials the user types into the form.
//
// The Node hub has this action in its source but never registers it; this hub does, with
// the weaknesses of the Node code fixed: the server's host key must match a fingerprint
// the user pinned (unknown or changed keys are refused with a message showing the key the
// server presented), private-key authentication is supported, only sftp:// addresses are
// accepted, the connection is always closed, the data is streamed (never held whole), and
// it is written to a temporary name that is renamed into place only when every byte has
// arrived, so a cut download leaves nothing behind. The address is dialled through the
// hub's network policy (package netguard): loopback, private and metadata addresses are
// refused unless ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS=true (on-prem servers on a private
// network), link-local and metadata addresses always.
package sftp

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	pkgsftp "github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/actionhub/actionhub/internal/netguard"
	"github.com/actionhub/actionhub/sdk"
)

// Name is the action's name in the Action API.
const Name = "sftp"

// DefaultPort is the SSH port used when the address names none.
const DefaultPort = "22"

// DefaultDialTimeout bounds the TCP connect and the SSH handshake.
const DefaultDialTimeout = 30 * time.Second

//go:embed icon.svg
var iconSVG []byte

var icon = sdk.IconDataURI("image/svg+xml", iconSVG)

func init() {
	sdk.Register(sdk.Module{Name: Name, New: New})
}

// New returns the action. It needs no configuration.
func New(env *sdk.Env) (sdk.Action, error) {
	return &Action{Env: env, DialTimeout: DefaultDialTimeout}, nil
}

// Action is the sftp action.
type Action struct {
	Env *sdk.Env
	// DialTimeout bounds the TCP connect and the SSH handshake; zero means DefaultDialTimeout.
	DialTimeout time.Duration
}

// Form field and param names.
const (
	fieldAddress    = "address"
	fieldUsername   = "username"
	fieldPassword   = "password"
	fieldPrivateKey = "private_key"
	fieldHostKey    = "host_key"
	fieldFilename   = "filename"
	paramPrivateKey = "private_key"
)

// errAddress is the Node action's text for a missing or unusable address.
const errAddress = "Needs a valid SFTP address."

// Definition describes the action. Node never listed it; name, label, description and type
// are those of its source. It streams (download URL) because there are no legacy
// schedules to keep on push delivery.
func (a *Action) Definition() *sdk.Definition {
	return &sdk.Definition{
		Name:                 Name,
		Label:                "SFTP",
		Description:          "Send data files to an SFTP server.",
		Icon:                 icon,
		SupportedActionTypes: []sdk.ActionType{sdk.TypeQuery},
		Streaming:            true,
		Params: []sdk.Param{{
			Name:      paramPrivateKey,
			Label:     "SSH private key",
			Required:  false,
			Sensitive: true,
			Description: "Optional. An OpenSSH or PEM private key used for every user whose form leaves " +
				"\"Private key\" empty. Its public key must be in the server's authorized_keys.",
		}},
	}
}

// Form asks for the address, the credentials, the pinned host key and the file name.
func (a *Action) Form(ctx context.Context, req *sdk.Request) (*sdk.Form, error) {
	return &sdk.Form{Fields: []sdk.Field{
		{Name: fieldAddress, Label: "Address", Description: "e.g. sftp://host/path/", Type: sdk.FieldString, Required: true},
		{Name: fieldUsername, Label: "Username", Type: sdk.FieldString, Required: true},
		{Name: fieldPassword, Label: "Password", Type: sdk.FieldString,
			Description: "Leave empty to log in with a private key. With a passphrase-protected private key, this is its passphrase."},
		{Name: fieldPrivateKey, Label: "Private key", Type: sdk.FieldTextarea,
			Description: "Optional OpenSSH or PEM private key (-----BEGIN ... PRIVATE KEY-----) to log in with instead of a password."},
		{Name: fieldHostKey, Label: "Host key fingerprint", Type: sdk.FieldString,
			Description: "The server's host key fingerprint as ssh-keygen -lf prints it, e.g. SHA256:n3Cq…. " +
				"Leave it empty once to see the fingerprint the server presents in the error message, check it with " +
				"the server's administrator, then paste it here. Separate several with commas."},
		{Name: fieldFilename, Label: "Filename", Type: sdk.FieldString},
	}}, nil
}

// target is a parsed address.
type target struct {
	hostport string
	dir      string
	user     string
}

func parseAddress(addr string) (*target, error) {
	u, err := url.Parse(strings.TrimSpace(addr))
	if err != nil || !strings.EqualFold(u.Scheme, "sftp") || u.Hostname() == "" || u.Opaque != "" {
		return nil, sdk.Errorf(errAddress)
	}
	port := u.Port()
	if port == "" {
		port = DefaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, sdk.Errorf(errAddress)
	}
	dir := u.Path
	if dir == "" {
		dir = "/"
	}
	t := &target{hostport: net.JoinHostPort(u.Hostname(), port), dir: dir}
	if u.User != nil {
		t.user = u.User.Username()
	}
	return t, nil
}

// Execute streams the data to <address path>/<filename>.
func (a *Action) Execute(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	if !req.HasData() {
		return nil, sdk.Errorf("Couldn't get data from attachment.")
	}
	if req.Form(fieldAddress) == "" {
		return nil, sdk.Errorf(errAddress)
	}
	t, err := parseAddress(req.Form(fieldAddress))
	if err != nil {
		return nil, err
	}
	user := req.Form(fieldUsername)
	if user == "" {
		user = t.user
	}
	if user == "" {
		return nil, sdk.Errorf("Needs a username.")
	}
	name := sdk.SanitizeFilename(req.Form(fieldFilename))
	if name == "" {
		name = req.SuggestedFilename()
	}
	remote := path.Join(t.dir, name)

	auth, err := authMethods(req.FormParams[fieldPassword], firstNonEmpty(req.FormParams[fieldPrivateKey], req.Params[paramPrivateKey]))
	if err != nil {
		return sdk.Fail(err.Error()), nil
	}
	pins, err := parsePins(req.Form(fieldHostKey))
	if err != nil {
		return sdk.Fail(err.Error()), nil
	}
	client, err := a.dial(ctx, t.hostport, user, auth, pins)
	if err != nil {
		return sdk.Fail(err.Error()), nil
	}
	defer client.Close()

	n, err := upload(ctx, client, req, remote)
	if err != nil {
		var de *sdk.DownloadError
		if errors.As(err, &de) {
			return sdk.Fail(fmt.Sprintf("Upload aborted, nothing was written to %s: %s", remote, de.Error())), nil
		}
		return sdk.Fail(fmt.Sprintf("Could not write %s on %s: %s", remote, t.hostport, err.Error())), nil
	}
	return sdk.OK(fmt.Sprintf("Wrote %d bytes to %s on %s.", n, remote, t.hostport)), nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// authMethods offers the private key first, then the password (also as keyboard-interactive,
// which many servers use for passwords).
func authMethods(password, privateKey string) ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if strings.TrimSpace(privateKey) != "" {
		signer, err := parsePrivateKey(privateKey, password)
		if err != nil {
			return nil, err
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if password != "" {
		methods = append(methods, ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}
	if len(methods) == 0 {
		return nil, errors.New("Enter a password or a private key to log in to the SFTP server.")
	}
	return methods, nil
}

func parsePrivateKey(key, passphrase string) (ssh.Signer, error) {
	key = strings.TrimSpace(strings.ReplaceAll(key, "\r\n", "\n"))
	if !strings.Contains(key, "\n") && strings.Contains(key, `\n`) {
		// pasted from a JSON or env value with escaped newlines
		key = strings.ReplaceAll(key, `\n`, "\n")
	}
	signer, err := ssh.ParsePrivateKey([]byte(key + "\n"))
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == "" {
			return nil, errors.New("The private key is protected by a passphrase: enter it in the Password field.")
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key+"\n"), []byte(passphrase))
		if err != nil {
			return nil, errors.New("The private key could not be decrypted with the passphrase in the Password field.")
		}
		return signer, nil
	}
	if err != nil {
		// the parser's text never contains key material
		return nil, fmt.Errorf("The private key could not be read (%s); paste the whole OpenSSH or PEM key.", err.Error())
	}
	return signer, nil
}

// pin is one accepted host key fingerprint.
type pin struct {
	md5  bool
	hash string // SHA256: unpadded base64; MD5: lowercase colon hex
}

// parsePins reads "SHA256:xxx" (as ssh-keygen -lf prints it, with or without the prefix and
// padding) or "MD5:aa:bb:..." values separated by commas or spaces.
func parsePins(s string) ([]pin, error) {
	var out []pin
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		switch {
		case strings.HasPrefix(strings.ToUpper(f), "MD5:"):
			out = append(out, pin{md5: true, hash: strings.ToLower(f[4:])})
		default:
			h := f
			if strings.HasPrefix(strings.ToUpper(h), "SHA256:") {
				h = h[7:]
			}
			h = strings.TrimRight(h, "=")
			if b, err := base64.RawStdEncoding.DecodeString(h); err != nil || len(b) != 32 {
				return nil, fmt.Errorf("The host key fingerprint %q is not a SHA256 fingerprint as ssh-keygen -lf prints it (SHA256:<43 characters>).", f)
			}
			out = append(out, pin{hash: h})
		}
	}
	return out, nil
}

func (p pin) matches(key ssh.PublicKey) bool {
	if p.md5 {
		return p.hash == ssh.FingerprintLegacyMD5(key)
	}
	return "SHA256:"+p.hash == ssh.FingerprintSHA256(key)
}

// hostKeyError says why the server's host key was refused, with the key it presented.
type hostKeyError struct {
	hostport  string
	presented string
	keyType   string
	pinned    bool
}

func (e *hostKeyError) Error() string {
	if !e.pinned {
		return fmt.Sprintf("Refusing to connect: no host key fingerprint was entered. The server at %s presented the %s key %s. "+
			"Check it with the server's administrator and enter it in \"Host key fingerprint\".", e.hostport, e.keyType, e.presented)
	}
	return fmt.Sprintf("Refusing to connect: the host key of %s does not match the pinned fingerprint. The server presented the %s key %s. "+
		"If the server's key was changed on purpose, enter the new fingerprint in \"Host key fingerprint\".", e.hostport, e.keyType, e.presented)
}

// client is an open SSH connection with its SFTP session.
type client struct {
	ssh  *ssh.Client
	sftp *pkgsftp.Client
	stop func() bool
}

// Close ends the SFTP session and the SSH connection.
func (c *client) Close() error {
	c.stop()
	err := c.sftp.Close()
	if cerr := c.ssh.Close(); err == nil {
		err = cerr
	}
	return err
}

func (a *Action) dial(ctx context.Context, hostport, user string, auth []ssh.AuthMethod, pins []pin) (*client, error) {
	timeout := a.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	var hkErr *hostKeyError
	cfg := &ssh.ClientConfig{
		User:    user,
		Auth:    auth,
		Timeout: timeout,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			for _, p := range pins {
				if p.matches(key) {
					return nil
				}
			}
			hkErr = &hostKeyError{hostport: hostport, presented: ssh.FingerprintSHA256(key), keyType: key.Type(), pinned: len(pins) > 0}
			return hkErr
		},
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The address is typed by a Looker user: the hub's network policy decides what it may reach.
	d := netguard.FromEnv(a.Env.Get).Dialer()
	d.Timeout = timeout
	conn, err := d.DialContext(dctx, "tcp", hostport)
	if err != nil {
		var be *netguard.BlockedError
		if errors.As(err, &be) {
			return nil, fmt.Errorf("Could not connect to the SFTP server %s: %s", hostport,
				strings.Replace(be.Error(), "the webhook address", "the SFTP address", 1))
		}
		return nil, fmt.Errorf("Could not connect to the SFTP server %s: %s", hostport, netErrText(err))
	}
	// The handshake gets the same deadline; cancelling ctx closes the connection at any time.
	_ = conn.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sconn, chans, reqs, err := ssh.NewClientConn(conn, hostport, cfg)
	if err != nil {
		stop()
		conn.Close()
		if hkErr != nil {
			return nil, hkErr
		}
		return nil, fmt.Errorf("Could not log in to the SFTP server %s: %s", hostport, sshErrText(err))
	}
	_ = conn.SetDeadline(time.Time{})
	sc := ssh.NewClient(sconn, chans, reqs)
	fc, err := pkgsftp.NewClient(sc)
	if err != nil {
		stop()
		sc.Close()
		return nil, fmt.Errorf("The server %s refused the SFTP subsystem: %s", hostport, err.Error())
	}
	return &client{ssh: sc, sftp: fc, stop: stop}, nil
}

func netErrText(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

func sshErrText(err error) string {
	return strings.TrimPrefix(err.Error(), "ssh: handshake failed: ")
}

// upload streams the request's data to a temporary file next to remote and renames it into
// place once complete. On any failure the temporary file is removed.
func upload(ctx context.Context, c *client, req *sdk.Request, remote string) (int64, error) {
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	tmp := path.Join(path.Dir(remote), "."+path.Base(remote)+"."+hex.EncodeToString(suffix)+".part")

	src, err := req.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer src.Close()

	f, err := c.sftp.Create(tmp)
	if err != nil {
		return 0, err
	}
	// Writes are pipelined (up to the client's 64 requests in flight); reads from src stay
	// sequential, so memory stays bounded whatever the size.
	n, err := f.ReadFromWithConcurrency(src, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(c.sftp, tmp, remote)
	}
	if err != nil {
		_ = c.sftp.Remove(tmp)
		return n, err
	}
	return n, nil
}

// rename moves tmp over remote: atomically with OpenSSH's posix-rename extension, else by
// a plain rename (which SFTP v3 refuses when the target exists) after removing the target.
func rename(c *pkgsftp.Client, tmp, remote string) error {
	if _, ok := c.HasExtension("posix-rename@openssh.com"); ok {
		return c.PosixRename(tmp, remote)
	}
	if err := c.Rename(tmp, remote); err != nil {
		if rerr := c.Remove(remote); rerr != nil {
			return err
		}
		return c.Rename(tmp, remote)
	}
	return nil
}
