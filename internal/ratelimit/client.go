package ratelimit

import "net/netip"

// The prefixes an IPv6 client is keyed by. One subscriber is given a whole /64 (often a
// /56 or /48), and picking a new address in it is free: keying the full address would give
// one client 2^64 buckets. The /64 is the finest unit a client cannot multiply; the /48
// tier catches a client rotating through the /64s of a larger delegation.
const (
	hostBits = 64
	netBits  = 48
	// NetFactor is how many times the count of a per-client limit an IPv6 /48 may use
	// together: a /48 may hold a whole office or many households, so its tier is looser
	// than one /64's, yet it bounds a client that owns the whole /48.
	NetFactor = 4
)

// ClientKey is the key of a client IP in a per-client limit: an IPv4 address as it is (an
// IPv4-mapped IPv6 address is the IPv4 address it maps), an IPv6 address by its /64
// ("2001:db8:1:2::/64"). What does not parse as an IP is its own key.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, hostBits).Masked().String()
}

// ClientChecks are the checks of the per-client limit l for a client at ip, to be taken
// with the action's other checks: for IPv4, l keyed by the address; for IPv6, l keyed by
// the /64 and a tier of NetFactor times l's count, named l.Name+"_net", keyed by the /48.
// Every per-IP limit goes through it, so a client's key is decided in this one place.
func ClientChecks(l Limit, ip string) []Check {
	checks := []Check{{Limit: l, Key: ClientKey(ip)}}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return checks
	}
	if a = a.Unmap().WithZone(""); a.Is4() {
		return checks
	}
	net := Limit{Name: l.Name + "_net", Count: l.Count * NetFactor, Period: l.Period}
	return append(checks, Check{Limit: net, Key: netip.PrefixFrom(a, netBits).Masked().String()})
}
