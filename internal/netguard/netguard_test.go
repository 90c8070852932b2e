package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		ip         string
		strict     bool // allowed by the zero policy
		permissive bool // allowed with AllowPrivate
	}{
		{"8.8.8.8", true, true},
		{"2606:4700:4700::1111", true, true},
		{"127.0.0.1", false, true},
		{"127.9.9.9", false, true},
		{"::1", false, true},
		{"10.1.2.3", false, true},
		{"172.16.0.1", false, true},
		{"172.31.255.255", false, true},
		{"172.32.0.1", true, true},
		{"192.168.1.1", false, true},
		{"100.64.0.1", false, true},
		{"fd12:3456::1", false, true},
		{"169.254.169.254", false, false},
		{"169.254.1.1", false, false},
		{"fd00:ec2::254", false, false},
		{"100.100.100.200", false, false},
		{"192.0.0.192", false, false},
		{"fe80::1", false, false},
		{"0.0.0.0", false, false},
		{"::", false, false},
		{"255.255.255.255", false, false},
		{"224.0.0.1", false, false},
		{"::ffff:127.0.0.1", false, true},        // IPv4-mapped
		{"::ffff:169.254.169.254", false, false}, // IPv4-mapped metadata
		{"64:ff9b::a9fe:a9fe", false, false},     // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", true, true},         // NAT64 of 8.8.8.8
		{"2002:7f00:1::1", false, true},          // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", false, false},      // 6to4 of the metadata address
		{"::7f00:1", false, true},                // IPv4-compatible 127.0.0.1
	}
	for _, c := range cases {
		ip := netip.MustParseAddr(c.ip)
		if got := (Policy{}).Check(ip) == nil; got != c.strict {
			t.Errorf("strict Check(%s) allowed=%v, want %v", c.ip, got, c.strict)
		}
		if got := (Policy{AllowPrivate: true}).Check(ip) == nil; got != c.permissive {
			t.Errorf("permissive Check(%s) allowed=%v, want %v", c.ip, got, c.permissive)
		}
	}
}

func TestBlockedErrorText(t *testing.T) {
	err := Policy{}.Check(netip.MustParseAddr("10.0.0.7"))
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("not ErrBlocked: %v", err)
	}
	if strings.Contains(err.Error(), "10.0.0.7") {
		t.Errorf("error reveals the address: %q", err)
	}
	if !strings.Contains(err.Error(), AllowPrivateVar) {
		t.Errorf("private refusal should name the switch: %q", err)
	}
	err = Policy{AllowPrivate: true}.Check(netip.MustParseAddr("169.254.169.254"))
	if err == nil || strings.Contains(err.Error(), AllowPrivateVar) || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("metadata refusal: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "TRUE": true, "1": true, "yes": false, "false": false} {
		got := FromEnv(func(k string) string {
			if k == AllowPrivateVar {
				return v
			}
			return ""
		}).AllowPrivate
		if got != want {
			t.Errorf("FromEnv(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestHostIn(t *testing.T) {
	cases := []struct {
		host string
		want bool
	}{
		{"hooks.zapier.com", true},
		{"zapier.com", true},
		{"HOOKS.Zapier.COM.", true},
		{"evilzapier.com", false},
		{"zapier.com.evil.io", false},
		{"zapier.co", false},
		{"", false},
		{"127.0.0.1", false},
		{"abc.trayapp.io", true},
	}
	for _, c := range cases {
		if got := HostIn(c.host, "zapier.com", "trayapp.io"); got != c.want {
			t.Errorf("HostIn(%q) = %v, want %v", c.host, got, c.want)
		}
	}
}

// The guard is applied at connect time, so it sees the resolved address: a loopback
// server is refused by the strict policy and reached by the permissive one, whatever
// name or literal the URL used.
func TestClientDialTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, u := range []string{srv.URL, "http://localhost:" + port} {
		_, err := Policy{}.Client().Get(u)
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("strict GET %s: err = %v, want ErrBlocked", u, err)
		}
		resp, err := Policy{AllowPrivate: true}.Client().Get(u)
		if err != nil {
			t.Fatalf("permissive GET %s: %v", u, err)
		}
		resp.Body.Close()
	}
}

// DNS rebinding: whatever a name resolved to when a URL was checked, the dial is checked
// again on the address actually used. Here the "resolver" (a redirected dial) sends a
// public-looking name to loopback.
func TestClientRebinding(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	rebind := func(tr *http.Transport) {
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dial(ctx, network, srv.Listener.Addr().String())
		}
	}
	_, err := Policy{}.Client(rebind).Get("http://hooks.zapier.com/hooks/catch/1/2/")
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("rebinding not caught: %v", err)
	}
}

func TestClientNoRedirectNoProxy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	if (Policy{}).Transport().Proxy != nil {
		t.Error("guarded transport uses a proxy")
	}
	resp, err := Policy{AllowPrivate: true}.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d: the redirect was followed", resp.StatusCode)
	}
}

type slowSource struct{ delay time.Duration }

func (s slowSource) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	p[0] = 'x'
	return 1, nil
}

func TestWatchBody(t *testing.T) {
	// A receiver that never reads: the transport blocks and stops asking for data.
	ctx, r, stop := WatchBody(context.Background(), strings.NewReader("abc"), 50*time.Millisecond)
	defer stop()
	buf := make([]byte, 1)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
		if !errors.Is(context.Cause(ctx), ErrStalled) {
			t.Errorf("cause = %v", context.Cause(ctx))
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stall not detected")
	}

	// A slow source is not a stall: time inside Read does not count.
	ctx2, r2, stop2 := WatchBody(context.Background(), slowSource{delay: 80 * time.Millisecond}, 50*time.Millisecond)
	defer stop2()
	for i := 0; i < 3; i++ {
		if _, err := r2.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	if ctx2.Err() != nil {
		t.Errorf("slow source counted as a stall: %v", context.Cause(ctx2))
	}

	// After EOF the watch ends.
	ctx3, r3, stop3 := WatchBody(context.Background(), strings.NewReader("a"), 30*time.Millisecond)
	defer stop3()
	io.ReadAll(r3)
	time.Sleep(80 * time.Millisecond)
	if ctx3.Err() != nil {
		t.Errorf("watch fired after EOF")
	}
}
