package auth

import (
	"net/netip"
	"testing"
)

func TestClientLimitKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"203.0.113.9", "203.0.113.9"},
		{"::ffff:203.0.113.9", "203.0.113.9"},
		{"::ffff:cb00:7109", "203.0.113.9"},
		{"203.0.113.9:4711", "203.0.113.9"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2:a:b:c:d", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"[2001:db8:1:2::5]:443", "2001:db8:1:2::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
		{"", ""},
	} {
		if got := clientLimitKey(tt.in); got != tt.want {
			t.Errorf("clientLimitKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzClientLimitKey: every address of one /64 gets one key, an IPv4-mapped
// address the key of its IPv4 address, different IPv4 addresses and
// different /64s different keys; nothing panics.
func FuzzClientLimitKey(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "::ffff:1.2.3.4", "2001:db8::1", "fe80::1%lo", "[::1]:80", "1.2.3.4:5", "", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key := clientLimitKey(s)
		a, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		u := a.Unmap().WithZone("")
		if u.Is4() {
			if key != u.String() {
				t.Fatalf("IPv4 %q: key %q, want %q", s, key, u.String())
			}
			if a.Is4In6() && key != clientLimitKey(u.String()) {
				t.Fatalf("mapped %q and %s differ", s, u)
			}
			b := u.As4()
			b[3] ^= 1
			if clientLimitKey(netip.AddrFrom4(b).String()) == key {
				t.Fatalf("IPv4 neighbours of %q share a key", s)
			}
			return
		}
		b := u.As16()
		for i := 8; i < 16; i++ {
			b[i] = ^b[i] // another address of the same /64
		}
		if other := clientLimitKey(netip.AddrFrom16(b).String()); other != key {
			t.Fatalf("%q and %s (same /64) have keys %q and %q", s, netip.AddrFrom16(b), key, other)
		}
		b[7] ^= 1 // the next /64
		if n := netip.AddrFrom16(b); !n.Is4In6() && clientLimitKey(n.String()) == key {
			t.Fatalf("%q and %s (other /64s) share key %q", s, n, key)
		}
	})
}
