// Package netguard decides which network addresses latch may call out to
// on an administrator's behalf (webhook receivers): never the machine
// itself, its private networks, link-local addresses (cloud metadata
// services live there) or any address that is not a unicast host on the
// public internet. It is checked when a URL is saved and again, by a
// net.Dialer Control hook, on every connection, so that a name that
// resolves elsewhere later (DNS rebinding) reaches nothing it should not.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrBlocked is the error of a refused address.
var ErrBlocked = errors.New("netguard: address not allowed")

// blockedPrefixes are the ranges refused beyond what netip's predicates
// name (loopback, private, link-local, multicast, unspecified).
var blockedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",          // "this network"
		"100.64.0.0/10",      // shared address space (carrier-grade NAT)
		"192.0.0.0/24",       // IETF protocol assignments
		"192.0.2.0/24",       // documentation
		"198.18.0.0/15",      // benchmarking
		"198.51.100.0/24",    // documentation
		"203.0.113.0/24",     // documentation
		"240.0.0.0/4",        // reserved, broadcast included
		"::/96",              // IPv4-compatible (deprecated): reaches IPv4 hosts
		"64:ff9b::/96",       // NAT64: reaches IPv4 hosts
		"64:ff9b:1::/48",     // local-use NAT64
		"100::/64",           // discard-only
		"2001:db8::/32",      // documentation
		"2002::/16",          // 6to4: reaches IPv4 hosts
		"fec0::/10",          // site-local (deprecated)
		"2001::/32",          // Teredo: reaches IPv4 hosts
		"ff00::/8",           // multicast (IsMulticast says so too)
		"::ffff:0:0:0/96",    // IPv4-translated
		"2001:10::/28",       // ORCHID
		"2001:20::/28",       // ORCHIDv2
		"5f00::/16",          // segment routing SIDs
		"3fff::/20",          // documentation
		"fc00::/7",           // unique local (IsPrivate says so too)
		"fe80::/10",          // link-local (IsLinkLocalUnicast says so too)
		"169.254.0.0/16",     // link-local (IsLinkLocalUnicast says so too)
		"255.255.255.255/32", // broadcast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Blocked reports whether ip is not a public unicast address. An
// IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control hook refusing blocked addresses: it runs
// after name resolution, on the address actually dialled. allowPrivate
// turns it off (tests and private deployments).
func Control(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %q is not an IP address and port", ErrBlocked, address)
		}
		if Blocked(ap.Addr()) {
			return fmt.Errorf("%w: %s is not a public address", ErrBlocked, ap.Addr())
		}
		return nil
	}
}

// maxURLLen bounds a stored URL.
const maxURLLen = 2048

// Rules say what CheckURL accepts.
type Rules struct {
	// HTTPSOnly refuses http:// (production).
	HTTPSOnly bool
	// AllowPrivate accepts every address (tests, private deployments).
	AllowPrivate bool
	// Resolve looks a host name up (default net.DefaultResolver); a name
	// that does not resolve now is accepted, the dial check guards it.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// resolveTimeout bounds CheckURL's lookup.
const resolveTimeout = 3 * time.Second

// CheckURL checks raw as the URL of a receiver and returns it parsed; its
// error's message is for the administrator who gave it.
func CheckURL(ctx context.Context, raw string, r Rules) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("url is required")
	}
	if len(raw) > maxURLLen {
		return nil, fmt.Errorf("url is longer than %d characters", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("url is not a valid URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && !r.HTTPSOnly:
	case u.Scheme == "http":
		return nil, errors.New("url must be https:// in production")
	default:
		return nil, errors.New("url must be an http:// or https:// URL")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("url must name a host")
	}
	if u.User != nil {
		return nil, errors.New("url must not carry a user name or password (the signature authenticates latch)")
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		return nil, errors.New("url must not carry a #fragment")
	}
	if r.AllowPrivate {
		return u, nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		if Blocked(ip) {
			return nil, fmt.Errorf("url's host %s is not a public address", ip)
		}
		return u, nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || !strings.Contains(host, ".") {
		return nil, fmt.Errorf("url's host %q is not a public name", host)
	}
	resolve := r.Resolve
	if resolve == nil {
		resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := resolve(lctx, host)
	if err != nil {
		return u, nil
	}
	for _, a := range addrs {
		if Blocked(a) {
			return nil, fmt.Errorf("url's host %q resolves to %s, not a public address", host, a.Unmap())
		}
	}
	return u, nil
}
