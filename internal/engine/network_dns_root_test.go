package engine

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TestNetworkNames: containers on one user-defined network find each
// other by name and alias, including one started later and one
// restarted; a container on another network does not find them, one on
// both finds both; and the network's resolver goes with the network.
func TestNetworkNames(t *testing.T) {
	c := netCLI(t)
	c.run("network", "create", "--subnet", "10.252.1.0/24", "dn1")
	c.run("network", "create", "--subnet", "10.252.2.0/24", "dn2")
	c.run("run", "-d", "--name", "dweb", "--network", "dn1", "--ip", "10.252.1.50", "--network-alias", "dalias",
		"busybox:test", "sleep", "300")

	out := c.run("run", "--rm", "--network", "dn1", "busybox:test", "sh", "-c",
		"cat /etc/resolv.conf; for n in dweb dalias DWEB dweb.dn1; do nslookup $n; done; ping -c1 -W2 dweb >/dev/null && echo ping-ok")
	if !strings.Contains(out, "nameserver 10.252.1.1") {
		t.Errorf("resolv.conf on dn1: %q, want the network's gateway as nameserver", out)
	}
	if n := strings.Count(out, "Address: 10.252.1.50"); n != 4 || !strings.Contains(out, "ping-ok") {
		t.Errorf("a container on dn1 looked up dweb, dalias, DWEB and dweb.dn1 and pinged dweb:\n%s\nwant 10.252.1.50 four times and the ping answered", out)
	}

	// A container started later is found by one started before it.
	c.run("run", "-d", "--name", "dlate", "--network", "dn1", "--ip", "10.252.1.60", "busybox:test", "sleep", "300")
	if out := c.run("exec", "dweb", "nslookup", "dlate"); !strings.Contains(out, "Address: 10.252.1.60") {
		t.Errorf("dweb looks up dlate, started after it: %q", out)
	}
	// After a restart, still found.
	c.run("restart", "-t", "0", "dweb")
	if out := c.run("exec", "dlate", "nslookup", "dweb"); !strings.Contains(out, "Address: 10.252.1.50") {
		t.Errorf("dlate looks up dweb after its restart: %q", out)
	}
	// A stopped container is gone from the names.
	c.run("stop", "-t", "0", "dlate")
	if out, _ := c.runErr(nil, "exec", "dweb", "nslookup", "dlate"); strings.Contains(out, "10.252.1.60") {
		t.Errorf("dweb looks up dlate, stopped: %q, want no address", out)
	}

	// Another network's container: no names of dn1, and dn1's resolver
	// refuses it.
	out, _ = c.runErr(nil, "run", "--rm", "--network", "dn2", "busybox:test", "sh", "-c",
		"nslookup dweb; nslookup dweb 10.252.1.1; ping -c1 -W1 dweb >/dev/null && echo ping-ok")
	if strings.Contains(out, "10.252.1.50") || strings.Contains(out, "ping-ok") {
		t.Errorf("a container on dn2 looked up dweb:\n%s\nwant no address", out)
	}

	// A container on both networks finds the names of both; one on dn1
	// only does not find dn2's.
	c.run("run", "-d", "--name", "ddb", "--network", "dn2", "--ip", "10.252.2.70", "busybox:test", "sleep", "300")
	c.run("network", "connect", "dn2", "dweb")
	if out := c.run("exec", "dweb", "nslookup", "ddb"); !strings.Contains(out, "Address: 10.252.2.70") {
		t.Errorf("dweb, on dn1 and dn2, looks up ddb on dn2: %q", out)
	}
	if out, _ := c.runErr(nil, "run", "--rm", "--network", "dn1", "busybox:test", "nslookup", "ddb"); strings.Contains(out, "10.252.2.70") {
		t.Errorf("a container on dn1 only looked up ddb on dn2: %q, want no address", out)
	}

	// The resolver goes with its network.
	nid := strings.TrimSpace(c.run("network", "inspect", "-f", "{{.Id}}", "dn1"))
	pidFile, err := os.ReadFile(filepath.Join(c.root, "networks", nid, "dns.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(pidFile))[0])
	c.run("rm", "-f", "dweb", "dlate", "ddb")
	c.run("network", "rm", "dn1")
	eventually(t, "dn1's resolver to exit", func() bool { return unix.Kill(pid, 0) != nil })
}

// TestNetworkDNSFlags: on a user-defined network a container's
// resolv.conf names the network's resolver alone, with the --dns-search
// and --dns-option values, and the resolver forwards the container's
// other names to its --dns server (here a fake one on the host's
// loopback), while a container without --dns gets the network's.
func TestNetworkDNSFlags(t *testing.T) {
	c := netCLI(t)
	ups := net.IPv4(127, 54, byte(os.Getpid()), 1+byte(os.Getpid()>>8)%250).String()
	fake := fakeDNS(t, ups+":53", "192.0.2.77")
	c.run("network", "create", "dnsflags")
	_, gw, _ := netAddrs(t, c, "dnsflags")
	out := c.run("run", "--rm", "--name", "dflags", "--network", "dnsflags", "--dns", ups, "--dns-search", "a.example",
		"--dns-search", "b.example", "--dns-option", "ndots:2", "--dns-opt", "timeout:3",
		"busybox:test", "sh", "-c", "cat /etc/resolv.conf; nslookup ask.example.")
	want := "nameserver " + gw + "\nsearch a.example b.example\noptions ndots:2 timeout:3\n"
	if !strings.Contains(out, want) || strings.Contains(out, "nameserver "+ups) {
		t.Errorf("resolv.conf with --dns, --dns-search, --dns-option on a user network:\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(out, "192.0.2.77") || !slices.Contains(fake.asked(), "ask.example.") {
		t.Errorf("nslookup ask.example. with --dns %s: %q; the --dns server was asked %v", ups, out, fake.asked())
	}
	// --dns-option alone.
	out = c.run("run", "--rm", "--network", "dnsflags", "--dns-option", "ndots:2", "busybox:test", "cat", "/etc/resolv.conf")
	if !strings.Contains(out, "nameserver "+gw+"\n") || !strings.Contains(out, "options ndots:2\n") {
		t.Errorf("resolv.conf with --dns-option ndots:2: %q", out)
	}
	// Without --dns, the network's upstream (the host's servers), not
	// the other container's; and ndots:0, as Docker adds.
	before := len(fake.asked())
	out = c.run("run", "--rm", "--network", "dnsflags", "busybox:test", "sh", "-c", "cat /etc/resolv.conf; nslookup other.example. || true")
	if !strings.Contains(out, "nameserver "+gw+"\n") || !strings.Contains(out, "ndots:0") {
		t.Errorf("resolv.conf without DNS flags on a user network: %q, want the gateway and ndots:0", out)
	}
	if got := fake.asked()[before:]; len(got) != 0 {
		t.Errorf("a container without --dns had %v forwarded to another container's --dns server", got)
	}
}

// fakeDNSServer answers every A query with one address and records the
// names asked.
type fakeDNSServer struct {
	answer net.IP
	mu     sync.Mutex
	names  []string
}

func fakeDNS(t *testing.T, addr, answer string) *fakeDNSServer {
	t.Helper()
	f := &fakeDNSServer{answer: net.ParseIP(answer)}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: f}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return f
}

func (f *fakeDNSServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	f.mu.Lock()
	f.names = append(f.names, q.Name)
	f.mu.Unlock()
	m := new(dns.Msg).SetReply(req)
	if q.Qtype == dns.TypeA {
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: f.answer})
	}
	w.WriteMsg(m)
}

func (f *fakeDNSServer) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.names...)
}
