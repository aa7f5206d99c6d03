package netdns

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"berth/internal/testfixture"
)

// TestForwardPerClient: a container with --dns has its queries for
// names the network does not know forwarded to those servers, and the
// others to the network's upstream, as Docker's resolver does. All of it
// in namespaces of the test's own: a host namespace with a bridge
// (10.201.3.1/24) where the network's server listens, two clients on the
// bridge (.2 with --dns 10.201.3.3, .4 without), a namespace on the
// bridge at .3 where the container's upstream listens, and the
// network's upstream on the host namespace's loopback.
func TestForwardPerClient(t *testing.T) {
	testfixture.RequireRoot(t)
	id := fmt.Sprint(os.Getpid())
	host, withDNS, without, upNS := "dnfh-"+id, "dnfa-"+id, "dnfb-"+id, "dnfu-"+id
	for _, ns := range []string{host, withDNS, without, upNS} {
		ip(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	ip(t, "-n", host, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", host, "addr", "add", "10.201.3.1/24", "dev", "br0")
	ip(t, "-n", host, "link", "set", "br0", "up")
	for i, n := range []struct{ ns, addr string }{
		{withDNS, "10.201.3.2"}, {upNS, "10.201.3.3"}, {without, "10.201.3.4"},
	} {
		veth := fmt.Sprintf("v%d", i)
		ip(t, "-n", host, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", n.ns)
		ip(t, "-n", host, "link", "set", veth, "master", "br0", "up")
		ip(t, "-n", n.ns, "addr", "add", n.addr+"/24", "dev", "eth0")
		ip(t, "-n", n.ns, "link", "set", "eth0", "up")
	}

	var netUp, ctrUp *upstream
	inNetns(t, host, func() { netUp = startUpstream(t, "127.0.0.1") })
	inNetns(t, upNS, func() { ctrUp = startUpstreamAt(t, netip.MustParseAddrPort("10.201.3.3:53")) })
	dir := t.TempDir()
	writeRecords(t, dir, Records{
		Network: "fwd", Subnets: []string{"10.201.3.0/24"},
		Records: []Record{
			{Name: "withdns", IPv4: []string{"10.201.3.2"}, Upstream: []string{"10.201.3.3"}},
			{Name: "plain", IPv4: []string{"10.201.3.4"}},
		},
		Upstream: []string{netUp.addr.String()},
	})
	t.Cleanup(func() { Stop(dir) })
	inNetns(t, host, func() {
		if err := EnsureRunning(dir, net.ParseIP("10.201.3.1")); err != nil {
			t.Fatal(err)
		}
	})

	server := netip.MustParseAddrPort("10.201.3.1:53")
	ask := func(ns, proto, name string) *dns.Msg {
		var r *dns.Msg
		inNetns(t, ns, func() { r = query(t, server, proto, name, dns.TypeA) })
		if r == nil {
			t.FailNow()
		}
		return r
	}
	for _, proto := range []string{"udp", "tcp"} {
		if r := ask(withDNS, proto, "example.com."); !slices.Equal(addrs(r), []string{"192.0.2.1"}) {
			t.Errorf("%s: example.com. from the container with --dns = %s %v", proto, dns.RcodeToString[r.Rcode], addrs(r))
		}
		if r := ask(without, proto, "example.com."); !slices.Equal(addrs(r), []string{"192.0.2.1"}) {
			t.Errorf("%s: example.com. from the container without --dns = %s %v", proto, dns.RcodeToString[r.Rcode], addrs(r))
		}
	}
	// The network's names are answered, not forwarded, whoever asks.
	if r := ask(withDNS, "udp", "plain."); !slices.Equal(addrs(r), []string{"10.201.3.4"}) {
		t.Errorf("plain. from the container with --dns = %v", addrs(r))
	}
	if got, want := ctrUp.asked(), []string{"udp example.com.", "tcp example.com."}; !slices.Equal(got, want) {
		t.Errorf("the container's --dns server was asked %v, want %v", got, want)
	}
	if got, want := netUp.asked(), []string{"udp example.com.", "tcp example.com."}; !slices.Equal(got, want) {
		t.Errorf("the network's upstream was asked %v, want %v (the other container's only)", got, want)
	}

	// A --dns server inside another network (a second bridge, whose
	// records are beside this network's) is not asked for a container
	// that is not on that network: networks stay isolated. Once the
	// container is on it, it is.
	ip(t, "-n", host, "link", "add", "br1", "type", "bridge")
	ip(t, "-n", host, "addr", "add", "10.201.4.1/24", "dev", "br1")
	ip(t, "-n", host, "link", "set", "br1", "up")
	var otherUp *upstream
	inNetns(t, host, func() { otherUp = startUpstreamAt(t, netip.MustParseAddrPort("10.201.4.1:0")) })
	other := filepath.Join(filepath.Dir(dir), "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	writeRecords(t, other, Records{Network: "other", Subnets: []string{"10.201.4.0/24"}, Records: []Record{{Name: "elsewhere", IPv4: []string{"10.201.4.2"}}}})
	writeRecords(t, dir, Records{
		Network: "fwd", Subnets: []string{"10.201.3.0/24"},
		Records:  []Record{{Name: "withdns", IPv4: []string{"10.201.3.2"}, Upstream: []string{otherUp.addr.String(), "10.201.3.3"}}},
		Upstream: []string{netUp.addr.String()},
	})
	if r := ask(withDNS, "udp", "example.com."); !slices.Equal(addrs(r), []string{"192.0.2.1"}) {
		t.Errorf("example.com. with a --dns server on another network first = %s %v", dns.RcodeToString[r.Rcode], addrs(r))
	}
	if got := otherUp.asked(); len(got) != 0 {
		t.Errorf("a --dns server on a network the container is not on was asked %v", got)
	}
	writeRecords(t, other, Records{Network: "other", Subnets: []string{"10.201.4.0/24"},
		Records: []Record{{Name: "withdns", IPv4: []string{"10.201.4.3"}}}})
	ask(withDNS, "udp", "example.com.")
	if got := otherUp.asked(); !slices.Equal(got, []string{"udp example.com."}) {
		t.Errorf("a --dns server on a network the container is on was asked %v, want the query", got)
	}
}
