package netguard

import "net/netip"

// kind says which option, if any, may lift a default block.
type kind uint8

const (
	kindBlocked  kind = iota // lifted only by AllowPrefixes or AllowHosts
	kindLoopback             // lifted by AllowLoopback
	kindPrivate              // lifted by AllowPrivate
	kindMetadata             // cloud metadata: never lifted by AllowPrivate or AllowLoopback
	kindNAT64                // decided by the embedded IPv4 address (last 32 bits)
	kind6to4                 // decided by the embedded IPv4 address (bits 16–48)
)

type special struct {
	prefix netip.Prefix
	kind   kind
	reason string
}

// specials lists the ranges a webhook must not reach by default, most specific
// first: the first match decides. It follows the IANA special-purpose address
// registries, keeping only ranges that are not globally reachable (AS112 and
// AMT anycast are left alone). IPv6 outside 2000::/3 is refused as a whole
// after this table, because no global unicast address lives there.
var specials = func() []special {
	s := func(p string, k kind, reason string) special {
		return special{prefix: netip.MustParsePrefix(p), kind: k, reason: reason}
	}
	return []special{
		// IPv4
		s("169.254.169.254/32", kindMetadata, "cloud metadata endpoint"),
		s("169.254.170.2/32", kindMetadata, "cloud metadata endpoint (ECS task metadata)"),
		s("100.100.100.200/32", kindMetadata, "cloud metadata endpoint (Alibaba Cloud)"),
		s("0.0.0.0/32", kindBlocked, "unspecified address"),
		s("0.0.0.0/8", kindBlocked, `"this network" (0.0.0.0/8)`),
		s("10.0.0.0/8", kindPrivate, "private network (RFC 1918)"),
		s("100.64.0.0/10", kindBlocked, "shared address space, CGNAT (100.64.0.0/10)"),
		s("127.0.0.0/8", kindLoopback, "loopback"),
		s("169.254.0.0/16", kindBlocked, "link-local"),
		s("172.16.0.0/12", kindPrivate, "private network (RFC 1918)"),
		s("192.0.0.0/24", kindBlocked, "IETF protocol assignments (192.0.0.0/24)"),
		s("192.0.2.0/24", kindBlocked, "documentation (TEST-NET-1)"),
		s("192.88.99.0/24", kindBlocked, "deprecated 6to4 relay anycast (192.88.99.0/24)"),
		s("192.168.0.0/16", kindPrivate, "private network (RFC 1918)"),
		s("198.18.0.0/15", kindBlocked, "benchmarking (198.18.0.0/15)"),
		s("198.51.100.0/24", kindBlocked, "documentation (TEST-NET-2)"),
		s("203.0.113.0/24", kindBlocked, "documentation (TEST-NET-3)"),
		s("224.0.0.0/4", kindBlocked, "multicast"),
		s("255.255.255.255/32", kindBlocked, "broadcast"),
		s("240.0.0.0/4", kindBlocked, "reserved (240.0.0.0/4)"),

		// IPv6
		s("fd00:ec2::254/128", kindMetadata, "cloud metadata endpoint (AWS IPv6)"),
		s("::/128", kindBlocked, "unspecified address"),
		s("::1/128", kindLoopback, "loopback"),
		s("64:ff9b::/96", kindNAT64, "NAT64"),
		s("64:ff9b:1::/48", kindBlocked, "local-use NAT64 (64:ff9b:1::/48)"),
		s("100::/64", kindBlocked, "discard-only (100::/64)"),
		s("fc00::/7", kindPrivate, "unique local address (fc00::/7)"),
		s("fe80::/10", kindBlocked, "link-local"),
		s("fec0::/10", kindBlocked, "deprecated site-local (fec0::/10)"),
		s("ff00::/8", kindBlocked, "multicast"),
		s("2001::/32", kindBlocked, "Teredo (2001::/32)"),
		s("2001::/23", kindBlocked, "IETF protocol assignments (2001::/23)"),
		s("2001:db8::/32", kindBlocked, "documentation (2001:db8::/32)"),
		s("3fff::/20", kindBlocked, "documentation (3fff::/20)"),
		s("2002::/16", kind6to4, "6to4"),
	}
}()

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// classify returns the first special range holding ip, which must be valid,
// unmapped and without zone. ok is false for an ordinary public address.
func classify(ip netip.Addr) (special, bool) {
	for _, sp := range specials {
		if sp.prefix.Contains(ip) {
			return sp, true
		}
	}
	if ip.Is6() && !globalUnicast6.Contains(ip) {
		return special{kind: kindBlocked, reason: "not global unicast (outside 2000::/3)"}, true
	}
	return special{}, false
}

// embeddedIPv4 returns the IPv4 address carried by a NAT64 (RFC 6052, /96)
// or 6to4 (RFC 3056) address.
func embeddedIPv4(ip netip.Addr, k kind) netip.Addr {
	b := ip.As16()
	if k == kind6to4 {
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	}
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
}
