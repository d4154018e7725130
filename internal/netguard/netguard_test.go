package netguard

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestBlocked(t *testing.T) {
	blocked := []string{
		"127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "0.0.0.0", "0.1.2.3", "100.64.0.1", "224.0.0.1", "239.1.2.3",
		"255.255.255.255", "240.0.0.1",
		"::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
		"64:ff9b::a00:1", "2002:7f00:1::", "2001:db8::1",
	}
	allowed := []string{"93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "172.32.0.1", "192.169.0.1"}
	for _, s := range blocked {
		if !Blocked(netip.MustParseAddr(s)) {
			t.Errorf("Blocked(%s) = false, want true", s)
		}
	}
	for _, s := range allowed {
		if Blocked(netip.MustParseAddr(s)) {
			t.Errorf("Blocked(%s) = true, want false", s)
		}
	}
	if !Blocked(netip.Addr{}) {
		t.Error("Blocked(zero Addr) = false, want true")
	}
}

func TestControl(t *testing.T) {
	c := Control(false)
	for _, a := range []string{"127.0.0.1:443", "[::1]:443", "[::ffff:10.0.0.1]:80", "169.254.169.254:80", "nonsense"} {
		if err := c("tcp", a, nil); !errors.Is(err, ErrBlocked) {
			t.Errorf("Control(%s) = %v, want ErrBlocked", a, err)
		}
	}
	if err := c("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("Control(8.8.8.8:443) = %v", err)
	}
	if err := Control(true)("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("Control(allowPrivate)(127.0.0.1:80) = %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "rebind.example":
			return []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.7")}, nil
		case "hooks.example":
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		return nil, errors.New("no such host")
	}
	prod := Rules{HTTPSOnly: true, Resolve: resolve}
	dev := Rules{Resolve: resolve}
	tests := []struct {
		url   string
		rules Rules
		want  string // "" for accepted, else a part of the error
	}{
		{"https://hooks.example/latch", prod, ""},
		{"https://unknown.example/x", prod, ""},
		{"http://hooks.example/latch", dev, ""},
		{"http://hooks.example/latch", prod, "https"},
		{"ftp://hooks.example/", dev, "http"},
		{"", dev, "required"},
		{"https://", dev, "host"},
		{"mailto:a@b.example", dev, "http"},
		{"https://user:pw@hooks.example/", dev, "user name"},
		{"https://hooks.example/#frag", dev, "fragment"},
		{"https://127.0.0.1/", dev, "not a public address"},
		{"https://[::1]:8443/", dev, "not a public address"},
		{"https://[::ffff:192.168.0.1]/", dev, "not a public address"},
		{"https://169.254.169.254/latest/meta-data", dev, "not a public address"},
		{"https://localhost:9000/", dev, "not a public name"},
		{"https://api.localhost/", dev, "not a public name"},
		{"https://intranet/", dev, "not a public name"},
		{"https://rebind.example/", dev, "10.0.0.7"},
		{"http://127.0.0.1:9000/", Rules{AllowPrivate: true}, ""},
		{"https://" + strings.Repeat("a", maxURLLen) + ".example/", dev, "longer"},
	}
	for _, tt := range tests {
		_, err := CheckURL(ctx, tt.url, tt.rules)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want accepted", tt.url, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckURL(%q) = %v, want an error about %q", tt.url, err, tt.want)
		}
	}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example/x", "http://[::ffff:127.0.0.1]/", "https://a@b/", "http://1.2.3.4:99/%zz"} {
		f.Add(s)
	}
	resolve := func(context.Context, string) ([]netip.Addr, error) { return nil, errors.New("offline") }
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := CheckURL(context.Background(), raw, Rules{HTTPSOnly: true, Resolve: resolve})
		if err != nil {
			return
		}
		if u.Scheme != "https" {
			t.Fatalf("accepted %q with scheme %q", raw, u.Scheme)
		}
		if ip, perr := netip.ParseAddr(u.Hostname()); perr == nil && Blocked(ip) {
			t.Fatalf("accepted %q, host %s is blocked", raw, ip)
		}
	})
}
