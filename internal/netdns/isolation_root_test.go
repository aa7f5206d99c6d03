package netdns

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"berth/internal/testfixture"
)

// TestNetworksIsolated builds two networks the way the engine does, in
// network namespaces of the test's own: a host namespace with bridges A
// (10.201.1.1/24) and B (10.201.2.1/24), and one client namespace on
// each, whose default route is its bridge's gateway. Each network's server
// listens at its gateway. A client gets its own network's names from its
// server; another network's names are not there, and the other network's
// server, which the client can reach through its route, refuses it.
func TestNetworksIsolated(t *testing.T) {
	testfixture.RequireRoot(t)
	id := fmt.Sprint(os.Getpid())
	host, cliA, cliB := "dnsh-"+id, "dnsa-"+id, "dnsb-"+id
	for _, ns := range []string{host, cliA, cliB} {
		ip(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	for _, n := range []struct{ ns, br, gw, addr string }{
		{cliA, "bra", "10.201.1.1", "10.201.1.2"},
		{cliB, "brb", "10.201.2.1", "10.201.2.2"},
	} {
		ip(t, "-n", host, "link", "add", n.br, "type", "bridge")
		ip(t, "-n", host, "addr", "add", n.gw+"/24", "dev", n.br)
		ip(t, "-n", host, "link", "set", n.br, "up")
		ip(t, "-n", host, "link", "add", "v"+n.br, "type", "veth", "peer", "name", "eth0", "netns", n.ns)
		ip(t, "-n", host, "link", "set", "v"+n.br, "master", n.br, "up")
		ip(t, "-n", n.ns, "addr", "add", n.addr+"/24", "dev", "eth0")
		ip(t, "-n", n.ns, "link", "set", "eth0", "up")
		ip(t, "-n", n.ns, "route", "add", "default", "via", n.gw)
	}

	var up *upstream
	inNetns(t, host, func() { up = startUpstream(t, "127.0.0.1") })
	dirA, dirB := t.TempDir(), t.TempDir()
	writeRecords(t, dirA, Records{
		Network: "neta", Subnets: []string{"10.201.1.0/24"},
		Records:  []Record{{Name: "web-a", Aliases: []string{"shared"}, IPv4: []string{"10.201.1.2"}}},
		Upstream: []string{up.addr.String()},
	})
	writeRecords(t, dirB, Records{
		Network: "netb", Subnets: []string{"10.201.2.0/24"},
		Records:  []Record{{Name: "web-b", Aliases: []string{"shared"}, IPv4: []string{"10.201.2.2"}}},
		Upstream: []string{up.addr.String()},
	})
	for _, n := range []struct{ dir, gw string }{{dirA, "10.201.1.1"}, {dirB, "10.201.2.1"}} {
		t.Cleanup(func() { Stop(n.dir) })
		inNetns(t, host, func() {
			if err := EnsureRunning(n.dir, net.ParseIP(n.gw)); err != nil {
				t.Fatal(err)
			}
		})
	}

	gwA := netip.MustParseAddrPort("10.201.1.1:53")
	gwB := netip.MustParseAddrPort("10.201.2.1:53")
	for _, tc := range []struct {
		client string
		server netip.AddrPort
		name   string
		rcode  int
		want   []string
	}{
		{cliA, gwA, "web-a.", dns.RcodeSuccess, []string{"10.201.1.2"}},
		{cliA, gwA, "shared.", dns.RcodeSuccess, []string{"10.201.1.2"}},
		{cliA, gwA, "web-a.neta.", dns.RcodeSuccess, []string{"10.201.1.2"}},
		{cliA, gwA, "web-b.", dns.RcodeNameError, nil},
		{cliA, gwA, "example.com.", dns.RcodeSuccess, []string{"192.0.2.1"}},
		{cliA, gwB, "web-b.", dns.RcodeRefused, nil},
		{cliA, gwB, "example.com.", dns.RcodeRefused, nil},
		{cliB, gwB, "web-b.", dns.RcodeSuccess, []string{"10.201.2.2"}},
		{cliB, gwB, "shared.", dns.RcodeSuccess, []string{"10.201.2.2"}},
		{cliB, gwB, "web-a.", dns.RcodeNameError, nil},
		{cliB, gwA, "web-a.", dns.RcodeRefused, nil},
	} {
		var r *dns.Msg
		inNetns(t, tc.client, func() { r = query(t, tc.server, "udp", tc.name, dns.TypeA) })
		if r == nil {
			continue
		}
		if got := addrs(r); r.Rcode != tc.rcode || !slices.Equal(got, tc.want) {
			t.Errorf("%s asks %s for %s: %s %v, want %s %v", tc.client, tc.server, tc.name,
				dns.RcodeToString[r.Rcode], got, dns.RcodeToString[tc.rcode], tc.want)
		}
	}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs f on a thread in the named network namespace; sockets f
// makes, and processes it starts, belong to that namespace.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	target, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread is never unlocked: it ends with the goroutine
		// rather than going back to the runtime in another namespace.
		runtime.LockOSThread()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns %s: %v", name, err)
			return
		}
		f()
	}()
	<-done
}
