package auth

import "net/netip"

// clientLimitKey names the client in a per-IP limit key: an IPv4 address
// as it is, an IPv6 address as its /64 ("2001:db8:1:2::/64"). One IPv6
// subscriber routinely holds a whole /64 (SLAAC, privacy addresses) and can
// send from any address in it, so counting single IPv6 addresses would give
// one client 2^64 budgets. An IPv4-mapped IPv6 address is the IPv4 address
// it carries; zones are dropped. A value that is not an address (the
// transport could not parse the peer) is used as it is.
//
// Only the limiter key is coarsened: sessions and the audit log keep the
// full address.
func clientLimitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		ap, err := netip.ParseAddrPort(ip)
		if err != nil {
			return ip
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
