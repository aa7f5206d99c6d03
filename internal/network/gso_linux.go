package network

import (
	"net/netip"

	"github.com/vishvananda/netlink"
)

// gsoLegacyMax is the largest packet a device hands on in one piece
// unless told otherwise: 64 KiB, what the IPv4 header's length holds.
const gsoLegacyMax = 65536

// gsoMax is the kernel's ceiling on a device's GSO size (GSO_MAX_SIZE).
const gsoMax = 524280

// bigTCPSize is the GSO size for the veth pair and bridge of an endpoint
// whose container end reports tsoMax (tso_max_size) and gsoIPv4
// (gso_ipv4_max_size): all the device takes, up to the kernel's ceiling.
// It is 0, nothing to raise, where the kernel reports no IPv4 GSO size
// (before Linux 6.3, which has no BIG TCP for IPv4) or where the device
// takes no more than 64 KiB.
func bigTCPSize(tsoMax, gsoIPv4 uint32) uint32 {
	if gsoIPv4 == 0 || tsoMax <= gsoLegacyMax {
		return 0
	}
	return min(tsoMax, gsoMax)
}

// hasIPv6 says whether one of addrs is an IPv6 address.
func hasIPv6(addrs []netip.Prefix) bool {
	for _, a := range addrs {
		if a.Addr().Is6() {
			return true
		}
	}
	return false
}

// hostVethGSO sets the GSO sizes that the host end of a new veth pair on
// br is made with: the bridge's once raised, which saves a request per
// container; IPv6's only for an endpoint with IPv6. 0 leaves the
// kernel's default.
func hostVethGSO(la *netlink.LinkAttrs, br BridgeLink, v6 bool) {
	if br.gsoIPv4 > gsoLegacyMax {
		la.GSOIPv4MaxSize = br.gsoIPv4
	}
	if v6 && br.gso > gsoLegacyMax {
		la.GSOMaxSize = br.gso
	}
}

// raiseGSO lets the sockets whose packets leave through an endpoint's
// devices build packets as large as the veth takes, up from 64 KiB (BIG
// TCP): the container end l (in the container's namespace, through ns),
// the host end hostVeth (as made) and the bridge br. IPv6's limit is
// raised too where the endpoint has IPv6. A device that refuses keeps
// its limit: larger packets save CPU time, the path works without them.
func raiseGSO(ns *netlink.Handle, l, hostVeth netlink.Link, br BridgeLink, v6 bool) {
	size := bigTCPSize(l.Attrs().TSOMaxSize, l.Attrs().GSOIPv4MaxSize)
	if size == 0 {
		return
	}
	host := &netlink.Handle{}
	bridge := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: br.Index}}
	for _, d := range []struct {
		h          *netlink.Handle
		l          netlink.Link
		ipv4, ipv6 uint32
	}{
		{ns, l, l.Attrs().GSOIPv4MaxSize, l.Attrs().GSOMaxSize},
		{host, hostVeth, hostVeth.Attrs().GSOIPv4MaxSize, hostVeth.Attrs().GSOMaxSize},
		// A bridge takes 64 KiB until its first port joins, and keeps
		// its limit once raised.
		{host, bridge, br.gsoIPv4, br.gso},
	} {
		if d.ipv4 < size {
			d.h.LinkSetGSOIPv4MaxSize(d.l, int(size))
		}
		if v6 && d.ipv6 < size {
			d.h.LinkSetGSOMaxSize(d.l, int(size))
		}
	}
}
