// Package netguard keeps the hub's requests to user-given addresses (webhook URLs typed
// into a Looker form) away from the hub's own network: loopback, link-local, cloud
// metadata services, private and reserved ranges.
//
// The check runs at dial time, in net.Dialer.Control, on the IP address the connection is
// actually made to. A DNS name pointing inward is therefore refused as surely as an IP
// literal, and DNS rebinding (a name that resolves to a public address when checked and
// to 169.254.169.254 when used) cannot get past it: there is no separate "check" step.
//
// On-prem installs whose webhook receivers live on a private network set
// ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS=true; loopback, private (RFC 1918, RFC 4193) and
// shared (RFC 6598) addresses are then allowed. Link-local addresses and the cloud
// metadata endpoints stay refused whatever the setting: nothing legitimate is served there
// to a webhook.
//
// Guarded clients never use an HTTP proxy (HTTP_PROXY would make the proxy, not the
// target, the address checked) and never follow redirects (a redirect could leave the
// domain the action checked).
package netguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"
)

// AllowPrivateVar is the environment variable that lets webhooks reach loopback, private
// and shared addresses (on-prem installs). Only "true" (any case) or "1" enable it.
const AllowPrivateVar = "ACTION_HUB_ALLOW_PRIVATE_WEBHOOKS"

// Timeouts of guarded transports.
const (
	// DialTimeout bounds the TCP connect.
	DialTimeout = 10 * time.Second
	// TLSHandshakeTimeout bounds the TLS handshake.
	TLSHandshakeTimeout = 10 * time.Second
	// ResponseHeaderTimeout bounds the wait for the answer once the body is sent.
	ResponseHeaderTimeout = 2 * time.Minute
)

// Policy decides which addresses may be dialled. The zero value is the strict policy.
type Policy struct {
	// AllowPrivate permits loopback, private (RFC 1918, RFC 4193 ULA, site-local) and
	// shared (RFC 6598) addresses, for on-prem installs.
	AllowPrivate bool
}

// FromEnv returns the policy set by AllowPrivateVar, read with get (os.Getenv or
// sdk.Env.Get).
func FromEnv(get func(string) string) Policy {
	v := strings.TrimSpace(get(AllowPrivateVar))
	return Policy{AllowPrivate: strings.EqualFold(v, "true") || v == "1"}
}

// BlockedError is a connection the policy refused. Its text names the kind of address,
// not the address itself: the resolved IP of a name is internal information a Looker user
// has no need to see (and could use to map the hub's network).
type BlockedError struct {
	// Addr is the refused address (for logs).
	Addr netip.Addr
	// Reason is the kind of address: "loopback", "private", "link-local", ...
	Reason string
	// Private reports whether AllowPrivate would have let the address through.
	Private bool
}

func (e *BlockedError) Error() string {
	if e.Private {
		return fmt.Sprintf("the webhook address resolves to a %s address, which this hub does not call (an on-prem hub can allow it with %s=true)", e.Reason, AllowPrivateVar)
	}
	return fmt.Sprintf("the webhook address resolves to a %s address, which this hub never calls", e.Reason)
}

// ErrBlocked is matched by every *BlockedError with errors.Is.
var ErrBlocked = errors.New("address refused by the webhook network policy")

// Is makes errors.Is(err, ErrBlocked) true for a *BlockedError.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

type rangeRule struct {
	prefix  netip.Prefix
	reason  string
	private bool // allowed by AllowPrivate
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// rules lists the refused ranges; the first match decides. Sources: RFC 6890 (special-
// purpose registries), the cloud providers' metadata documentation.
var rules = []rangeRule{
	// Cloud metadata endpoints first, so no broader "private" rule lets them through.
	{mustPrefix("169.254.169.254/32"), "cloud metadata", false}, // AWS, GCP, Azure, DigitalOcean, OpenStack
	{mustPrefix("fd00:ec2::254/128"), "cloud metadata", false},  // AWS IMDS over IPv6
	{mustPrefix("100.100.100.200/32"), "cloud metadata", false}, // Alibaba Cloud
	{mustPrefix("192.0.0.192/32"), "cloud metadata", false},     // Oracle Cloud
	{mustPrefix("169.254.0.0/16"), "link-local", false},         // includes other metadata aliases
	{mustPrefix("fe80::/10"), "link-local", false},
	{mustPrefix("0.0.0.0/8"), "unspecified", false}, // "this network"; 0.0.0.0 reaches localhost
	{mustPrefix("::/128"), "unspecified", false},
	{mustPrefix("224.0.0.0/4"), "multicast", false},
	{mustPrefix("ff00::/8"), "multicast", false},
	{mustPrefix("240.0.0.0/4"), "reserved", false}, // includes 255.255.255.255
	{mustPrefix("192.0.2.0/24"), "documentation", false},
	{mustPrefix("198.51.100.0/24"), "documentation", false},
	{mustPrefix("203.0.113.0/24"), "documentation", false},
	{mustPrefix("2001:db8::/32"), "documentation", false},
	{mustPrefix("100::/64"), "discard", false},
	{mustPrefix("2001::/32"), "Teredo", false}, // tunnels to an embedded, obfuscated IPv4
	{mustPrefix("127.0.0.0/8"), "loopback", true},
	{mustPrefix("::1/128"), "loopback", true},
	{mustPrefix("10.0.0.0/8"), "private", true},
	{mustPrefix("172.16.0.0/12"), "private", true},
	{mustPrefix("192.168.0.0/16"), "private", true},
	{mustPrefix("fc00::/7"), "private", true},  // unique local
	{mustPrefix("fec0::/10"), "private", true}, // deprecated site-local
	{mustPrefix("100.64.0.0/10"), "shared (carrier-grade NAT)", true},
	{mustPrefix("192.0.0.0/24"), "IETF protocol assignment", true},
	{mustPrefix("198.18.0.0/15"), "benchmarking", true},
}

// IPv6 prefixes that embed an IPv4 address the packet ends up at.
var (
	nat64     = mustPrefix("64:ff9b::/96")
	nat64Loc  = mustPrefix("64:ff9b:1::/48")
	sixToFour = mustPrefix("2002::/16")
	v4compat  = mustPrefix("::/96")
)

// Check returns a *BlockedError when p refuses ip, nil when it may be dialled.
func (p Policy) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &BlockedError{Addr: ip, Reason: "invalid"}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		// An IPv6 address that carries an IPv4 one is judged by the IPv4 address too.
		if v4, ok := embeddedV4(ip); ok {
			if err := p.Check(v4); err != nil {
				return err
			}
		}
	}
	for _, r := range rules {
		if r.prefix.Contains(ip) {
			if r.private && p.AllowPrivate {
				return nil
			}
			return &BlockedError{Addr: ip, Reason: r.reason, Private: r.private}
		}
	}
	return nil
}

func embeddedV4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64.Contains(ip), nat64Loc.Contains(ip):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	case v4compat.Contains(ip) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback():
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	}
	return netip.Addr{}, false
}

// Control is a net.Dialer Control function: it refuses connections to addresses the
// policy blocks. It sees the address after name resolution, just before the connect.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return &BlockedError{Reason: "non-IP (" + network + ")"}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Reason: "unparsable"}
	}
	return p.Check(ap.Addr())
}

// Dialer returns a net.Dialer that applies the policy to every connection.
func (p Policy) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second, Control: p.Control}
}

// Transport returns an http.Transport that dials through p.Dialer, never uses a proxy and
// has bounded dial, TLS and response-header waits.
func (p Policy) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // a proxy would be the address checked, not the target
		DialContext:           p.Dialer().DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          50,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ResponseHeaderTimeout: ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// Client returns an http.Client over p.Transport, after applying configure to the
// transport (tests point it at a fake's listener or trust a fake's certificate; the
// policy's Control stays in force). The client does not follow redirects: a 3xx answer is
// returned as is.
func (p Policy) Client(configure ...func(*http.Transport)) *http.Client {
	t := p.Transport()
	for _, f := range configure {
		f(t)
	}
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// HostIn reports whether host is one of domains or a subdomain of one, label-wise:
// "hooks.zapier.com" is in "zapier.com"; "evilzapier.com" and "zapier.com.evil.io" are
// not. Case and one trailing dot are ignored; IP literals are never in a domain.
func HostIn(host string, domains ...string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return false
	}
	for _, d := range domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if d != "" && (h == d || strings.HasSuffix(h, "."+d)) {
			return true
		}
	}
	return false
}

// ErrStalled is the cause of a context ended by WatchBody.
var ErrStalled = errors.New("the receiver stopped reading the request body")

// WatchBody guards a streamed request body: the returned context is cancelled (cause
// ErrStalled) when the transport asks for no data during idle, which happens when the
// receiver stops reading and TCP backpressure blocks the writes. Time spent inside the
// body's own Read (waiting for the source, such as a slow Looker download) does not
// count: the source has its own timeout. Call stop when the request is over.
func WatchBody(ctx context.Context, body io.Reader, idle time.Duration) (context.Context, io.Reader, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchedReader{r: body, idle: idle}
	w.timer = time.AfterFunc(idle, func() { cancel(ErrStalled) })
	return ctx, w, func() { w.stop(); cancel(context.Canceled) }
}

type watchedReader struct {
	r     io.Reader
	idle  time.Duration
	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

func (w *watchedReader) Read(p []byte) (int, error) {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
	n, err := w.r.Read(p)
	w.mu.Lock()
	if err != nil {
		// The body is over (or failed): the response wait has its own timeout.
		w.done = true
	} else if !w.done {
		w.timer.Reset(w.idle)
	}
	w.mu.Unlock()
	return n, err
}

func (w *watchedReader) stop() {
	w.mu.Lock()
	w.done = true
	w.timer.Stop()
	w.mu.Unlock()
}
