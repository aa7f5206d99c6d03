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

// raiseGSO lets the sockets whose packets leave through the endpoint's
// devices build packets of up to size bytes, up from 64 KiB (BIG TCP):
// the container end l (in the container's namespace, through ns), the
// host end hostVeth and the bridge br. IPv6's limit is raised too where
// the endpoint has an IPv6 address. A device that refuses keeps its
// limit: larger packets save CPU time, the path works without them.
func raiseGSO(ns *netlink.Handle, l netlink.Link, hostVeth netlink.Link, br BridgeLink, addrs []netip.Prefix) {
	size := bigTCPSize(l.Attrs().TSOMaxSize, l.Attrs().GSOIPv4MaxSize)
	if size == 0 {
		return
	}
	v6 := false
	for _, a := range addrs {
		v6 = v6 || a.Addr().Is6()
	}
	host := &netlink.Handle{}
	bridge := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: br.Index}}
	for _, d := range []struct {
		h          *netlink.Handle
		l          netlink.Link
		ipv4, ipv6 uint32
	}{
		{ns, l, l.Attrs().GSOIPv4MaxSize, l.Attrs().GSOMaxSize},
		{host, hostVeth, gsoLegacyMax, gsoLegacyMax},
		// The bridge's limit is below the veth's until its first port
		// joins, and stays raised after that.
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
