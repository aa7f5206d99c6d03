package network

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestEndpointGSOSizes makes a bridge and three containers' endpoints
// on it, with an IPv6 address and without, in network namespaces of
// the test's own, and reads the devices' GSO sizes back: every device on
// the path takes packets as large as the veth does, IPv6's limit only
// where the endpoint has IPv6.
func TestEndpointGSOSizes(t *testing.T) {
	inOwnNetns(t)
	name := fmt.Sprintf("bgso%d", os.Getpid()%100000)
	br, err := CreateBridge(Bridge{Name: name, Addrs: []netip.Prefix{
		netip.MustParsePrefix("10.98.0.1/24"), netip.MustParsePrefix("fd00:98::1/64")}})
	if err != nil {
		t.Fatal(err)
	}
	container := func(i int, addrs ...string) (host, peer netlink.Link) {
		path := filepath.Join(t.TempDir(), "netns")
		h, err := NewNetNS(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close(); RemoveNetNS(path) })
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ep := Endpoint{HostVeth: fmt.Sprintf("%sv%d", name, i), Interface: "eth0",
			MAC: net.HardwareAddr{2, 0x42, 10, 98, 0, byte(i + 2)}}
		for _, a := range addrs {
			ep.Addrs = append(ep.Addrs, netip.MustParsePrefix(a))
		}
		// The bridge as the engine sees it for each container: looked up.
		b, ok, err := LookupBridge(name)
		if err != nil || !ok {
			t.Fatalf("lookup bridge: %v %v", ok, err)
		}
		if err := AddEndpoint(h, int(f.Fd()), b, ep); err != nil {
			t.Fatal(err)
		}
		if host, err = netlink.LinkByName(ep.HostVeth); err != nil {
			t.Fatal(err)
		}
		if peer, err = h.LinkByName("eth0"); err != nil {
			t.Fatal(err)
		}
		return host, peer
	}
	host6, peer6 := container(0, "10.98.0.2/24", "fd00:98::2/64")
	tso := peer6.Attrs().TSOMaxSize
	if peer6.Attrs().GSOIPv4MaxSize == 0 || tso <= 65536 {
		t.Skipf("the kernel has no BIG TCP for IPv4 on veths (tso_max_size %d)", tso)
	}
	want := min(tso, 524280)
	host4, peer4 := container(1, "10.98.0.3/24")
	// Made on a bridge whose sizes are raised already.
	host6b, peer6b := container(2, "10.98.0.4/24", "fd00:98::4/64")
	bridge, err := netlink.LinkByIndex(br.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what    string
		l       netlink.Link
		wantGSO uint32 // IPv6's and the others'
	}{
		{"bridge", bridge, want},
		{"host end, IPv6", host6, want},
		{"container end, IPv6", peer6, want},
		{"host end, IPv4 only", host4, 65536},
		{"container end, IPv4 only", peer4, 65536},
		{"host end, IPv6, later", host6b, want},
		{"container end, IPv6, later", peer6b, want},
	} {
		a := c.l.Attrs()
		if a.GSOIPv4MaxSize != want {
			t.Errorf("%s %s: gso_ipv4_max_size %d, want %d", c.what, a.Name, a.GSOIPv4MaxSize, want)
		}
		if a.GSOMaxSize != c.wantGSO {
			t.Errorf("%s %s: gso_max_size %d, want %d", c.what, a.Name, a.GSOMaxSize, c.wantGSO)
		}
	}
}
