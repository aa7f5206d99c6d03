package portmap

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth/internal/errdefs"
	"berth/internal/testfixture"
)

// netEnv is a small network of the test's own: a bridge with two
// "containers" (network namespaces, the first serving HTTP on port 80),
// and an "outside" namespace linked to the host by a veth pair. The host
// gets addresses of its own besides: IPv4 on the outside link's end, and
// IPv6 on the bridge, whose carrier is up before the address comes.
type netEnv struct {
	t                 *testing.T
	pub               *Publisher
	bridge            string
	c1, c2, out       string // namespaces
	c1Addr, c1Addr6   netip.Addr
	hostAddr, hostOut netip.Addr // addresses of the host's end of the outside link
	hostAddr6         netip.Addr
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// envs counts the test's networks, so that each has names of its own: a
// deleted namespace takes its veths with it only in the background.
var envs int

func newNetEnv(t *testing.T) *netEnv {
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	testfixture.RequireFeature(t, "ip", func() error { _, err := exec.LookPath("ip"); return err })
	envs++
	pid := os.Getpid()%10000*10 + envs%10
	x := pid%200 + 20
	e := &netEnv{
		t: t, bridge: fmt.Sprintf("bpm%d", pid),
		c1: fmt.Sprintf("pm%d-c1", pid), c2: fmt.Sprintf("pm%d-c2", pid), out: fmt.Sprintf("pm%d-out", pid),
		c1Addr:    netip.MustParseAddr(fmt.Sprintf("172.31.%d.2", x)),
		c1Addr6:   netip.MustParseAddr(fmt.Sprintf("fd00:b:%x::2", x)),
		hostAddr:  netip.MustParseAddr(fmt.Sprintf("172.31.%d.100", x)),
		hostAddr6: netip.MustParseAddr(fmt.Sprintf("fd00:b:%x:1::100", x)),
		hostOut:   netip.MustParseAddr(fmt.Sprintf("172.31.%d.65", x)),
		pub: &Publisher{Table: fmt.Sprintf("berthtest%d", pid), LockPath: filepath.Join(t.TempDir(), "ports.lock"),
			Iptables: withIptables},
	}
	if withIptables {
		testfixture.RequireFeature(t, "iptables", func() error { _, err := exec.LookPath("iptables-restore"); return err })
	}
	t.Cleanup(func() {
		if err := e.pub.syncShortcut(nil, nil); err != nil {
			t.Errorf("remove the test's connect shortcuts: %v", err)
		}
		for _, ns := range []string{e.c1, e.c2, e.out} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
		exec.Command("ip", "link", "del", e.bridge).Run()
		exec.Command("nft", "delete", "table", "inet", e.pub.Table).Run()
		dnat, post := e.pub.iptChains()
		for _, bin := range iptBinaries {
			for _, j := range [][]string{
				{"PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", dnat},
				{"OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", dnat},
				{"POSTROUTING", "-j", post},
			} {
				exec.Command(bin, append([]string{"-w", "-t", "nat", "-D"}, j...)...).Run()
			}
			for _, c := range []string{dnat, post} {
				exec.Command(bin, "-w", "-t", "nat", "-F", c).Run()
				exec.Command(bin, "-w", "-t", "nat", "-X", c).Run()
			}
		}
	})
	run(t, "ip", "link", "add", e.bridge, "type", "bridge")
	run(t, "ip", "addr", "add", fmt.Sprintf("172.31.%d.1/26", x), "dev", e.bridge)
	run(t, "ip", "addr", "add", fmt.Sprintf("fd00:b:%x::1/64", x), "dev", e.bridge, "nodad")
	run(t, "ip", "addr", "add", e.hostAddr6.String()+"/128", "dev", e.bridge, "nodad")
	run(t, "ip", "link", "set", e.bridge, "up")
	link := func(ns, hostIf, hostCIDR, nsCIDR, gw, nsCIDR6, gw6 string) {
		run(t, "ip", "netns", "add", ns)
		run(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns)
		if hostCIDR == "" {
			run(t, "ip", "link", "set", hostIf, "master", e.bridge)
		} else {
			run(t, "ip", "addr", "add", hostCIDR, "dev", hostIf)
		}
		run(t, "ip", "link", "set", hostIf, "up")
		run(t, "ip", "-n", ns, "addr", "add", nsCIDR, "dev", "eth0")
		run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
		run(t, "ip", "-n", ns, "route", "add", "default", "via", gw)
		if nsCIDR6 != "" {
			run(t, "ip", "-n", ns, "addr", "add", nsCIDR6, "dev", "eth0", "nodad")
			run(t, "ip", "-n", ns, "-6", "route", "add", "default", "via", gw6)
		}
	}
	gw, gw6 := fmt.Sprintf("172.31.%d.1", x), fmt.Sprintf("fd00:b:%x::1", x)
	c1If := fmt.Sprintf("vpa%d", pid)
	link(e.c1, c1If, "", e.c1Addr.String()+"/26", gw, e.c1Addr6.String()+"/64", gw6)
	// As a bridge network does for each container, so that with
	// br_netfilter a container's traffic to its own published port
	// may go back out of its port.
	run(t, "ip", "link", "set", c1If, "type", "bridge_slave", "hairpin", "on")
	link(e.c2, fmt.Sprintf("vpb%d", pid), "", fmt.Sprintf("172.31.%d.3/26", x), gw, "", "")
	outIf := fmt.Sprintf("vpo%d", pid)
	link(e.out, outIf, e.hostOut.String()+"/30", fmt.Sprintf("172.31.%d.66/30", x), e.hostOut.String(), "", "")
	run(t, "ip", "addr", "add", e.hostAddr.String()+"/32", "dev", outIf)

	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from c1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	httpd := exec.Command("ip", "netns", "exec", e.c1, "busybox", "httpd", "-f", "-p", "80", "-h", www)
	if err := httpd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { httpd.Process.Kill(); httpd.Wait() })
	for i := 0; ; i++ {
		if e.get(e.c1, "127.0.0.1:80") == nil {
			break
		}
		if i == 50 {
			t.Fatal("httpd in the test namespace did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e
}

func (e *netEnv) target(id string) Target {
	return Target{ID: id, Addr4: e.c1Addr, Addr6: e.c1Addr6, Iface: e.bridge}
}

// get fetches http://addr/ from namespace ns ("" is the host) with
// busybox nc, and checks that c1's page comes back.
func (e *netEnv) get(ns, addr string) error {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"busybox", "nc", "-w", "2", host, port}
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\n\r\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "\r\n\r\nhello from c1\n") {
		return fmt.Errorf("get %s from %q: %v: %q", addr, ns, err, out)
	}
	return nil
}

// rulesOf says whether any rule of the publisher's names container id.
func (e *netEnv) rulesOf(id string) bool {
	out, _ := exec.Command("nft", "list", "table", "inet", e.pub.Table).CombinedOutput()
	for _, bin := range iptBinaries {
		o, _ := exec.Command(bin, "-w", "-t", "nat", "-S").CombinedOutput()
		out = append(out, o...)
	}
	return strings.Contains(string(out), id)
}

// withIptables makes newNetEnv's publisher use iptables.
var withIptables bool

// TestIptables runs the tests of published ports with the rules in
// iptables, as on a host without nftables.
func TestIptables(t *testing.T) {
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"Reachable", TestPublishReachable},
		{"LocalhostOnly", TestPublishLocalhostOnly},
		{"Conflicts", TestPublishConflicts},
		{"Move", TestMove},
		{"Shortcut", TestShortcut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withIptables = true
			defer func() { withIptables = false }()
			tc.test(t)
		})
	}
}

func testPort(offset int) uint16 { return uint16(20000 + (os.Getpid()%4000)*10 + offset) }

func TestPublishReachable(t *testing.T) {
	e := newNetEnv(t)
	port := testPort(0)
	bs, err := Parse(fmt.Sprintf("%d:80", port))
	if err != nil {
		t.Fatal(err)
	}
	id := "c1reachable0123456789"
	got, err := e.pub.Publish(e.target(id), bs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Binding{
		{HostIP: "0.0.0.0", HostPort: port, ContainerPort: 80, Proto: "tcp"},
		{HostIP: "::", HostPort: port, ContainerPort: 80, Proto: "tcp"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Publish = %v, want %v", got, want)
	}
	if withIptables {
		dnat, _ := e.pub.iptChains()
		out, _ := exec.Command("ip6tables", "-w", "-t", "nat", "-S", dnat).CombinedOutput()
		if !strings.Contains(string(out), id) {
			t.Errorf("no rule of %s in ip6tables' %s:\n%s", id, dnat, out)
		}
		if exec.Command("nft", "list", "table", "inet", e.pub.Table).Run() == nil {
			t.Errorf("the iptables publisher made nftables table %s", e.pub.Table)
		}
	}
	p := fmt.Sprint(port)
	for _, c := range []struct{ ns, addr, why string }{
		{"", "127.0.0.1:" + p, "the host at 127.0.0.1"},
		{"", net.JoinHostPort(e.hostAddr.String(), p), "the host at its own address"},
		{"", net.JoinHostPort(e.hostAddr6.String(), p), "the host at its own IPv6 address"},
		{e.c2, net.JoinHostPort(e.hostAddr.String(), p), "another container through the host address"},
		{e.c1, net.JoinHostPort(e.hostAddr.String(), p), "the container itself through the host address"},
		{e.out, net.JoinHostPort(e.hostOut.String(), p), "an outside client"},
	} {
		if err := e.get(c.ns, c.addr); err != nil {
			t.Errorf("%s: %v", c.why, err)
		}
	}
	held, err := e.pub.List()
	if err != nil || len(held) != 2 || held[0].ID != id {
		t.Errorf("List() = %v, %v; want the two bindings of %s", held, err, id)
	}
	if err := e.pub.Unpublish(id, ""); err != nil {
		t.Fatal(err)
	}
	if e.rulesOf(id) {
		t.Errorf("rules of %s left after Unpublish", id)
	}
	if err := e.get("", "127.0.0.1:"+p); err == nil {
		t.Errorf("the port still answers after Unpublish")
	}
}

func TestPublishLocalhostOnly(t *testing.T) {
	e := newNetEnv(t)
	port := testPort(1)
	bs, _ := Parse(fmt.Sprintf("127.0.0.1:%d:80", port))
	if _, err := e.pub.Publish(e.target("c1local"), bs); err != nil {
		t.Fatal(err)
	}
	p := fmt.Sprint(port)
	if err := e.get("", "127.0.0.1:"+p); err != nil {
		t.Errorf("from the host: %v", err)
	}
	if err := e.get(e.out, net.JoinHostPort(e.hostOut.String(), p)); err == nil {
		t.Errorf("a port published on 127.0.0.1 answers an outside client")
	}
	if err := e.get("", net.JoinHostPort(e.hostAddr.String(), p)); err == nil {
		t.Errorf("a port published on 127.0.0.1 answers on another host address")
	}
}

func TestPublishConflicts(t *testing.T) {
	e := newNetEnv(t)
	// Another program holds a port.
	taken := testPort(2)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", taken))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	free := testPort(3)
	bs, _ := Parse(fmt.Sprintf("%d:81", free))
	more, _ := Parse(fmt.Sprintf("%d:80", taken))
	_, err = e.pub.Publish(e.target("c1first"), append(bs, more...))
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.Pid != os.Getpid() || !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("Publish on a port a listener holds: %v, want an in-use error naming pid %d", err, os.Getpid())
	}
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("0.0.0.0:%d/tcp", taken)) || !strings.Contains(msg, fmt.Sprintf("(pid %d)", os.Getpid())) {
		t.Errorf("error %q does not name the port and the process", msg)
	}
	if held, _ := e.pub.List(); len(held) != 0 {
		t.Errorf("a failed Publish left %v", held)
	}
	// The same for UDP, on IPv6.
	udp, err := net.ListenPacket("udp6", fmt.Sprintf("[::]:%d", taken))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	u, _ := Parse(fmt.Sprintf("%d:53/udp", taken))
	_, err = e.pub.Publish(e.target("c1udp"), u)
	if !errors.As(err, &inUse) || inUse.Pid != os.Getpid() || !strings.Contains(err.Error(), fmt.Sprintf("[::]:%d/udp", taken)) {
		t.Errorf("Publish on a UDP port a program holds: %v, want an in-use error naming [::]:%d/udp and pid %d", err, taken, os.Getpid())
	}

	// Another container holds it.
	if _, err := e.pub.Publish(e.target("c1second"), bs); err != nil {
		t.Fatal(err)
	}
	other, _ := Parse(fmt.Sprintf("%d:82", testPort(4)))
	_, err = e.pub.Publish(e.target("c1third"), append(other, bs...))
	if !errors.As(err, &inUse) || inUse.ContainerID != "c1second" {
		t.Fatalf("Publish on a port a container holds: %v, want an in-use error naming c1second", err)
	}
	held, _ := e.pub.List()
	for _, h := range held {
		if h.ID != "c1second" {
			t.Errorf("a failed Publish left %v", h)
		}
	}

	// A range skips what is taken.
	r, _ := Parse(fmt.Sprintf("%d-%d:80", free, free+1))
	got, err := e.pub.Publish(e.target("c1range"), r)
	if err != nil || got[0].HostPort != free+1 {
		t.Errorf("Publish(%d-%d:80) = %v, %v; want port %d", free, free+1, got, err, free+1)
	}
	// No host port: one is picked.
	got, err = e.pub.Publish(e.target("c1any"), []Binding{{ContainerPort: 80, Proto: "udp"}})
	if err != nil || got[0].HostPort == 0 {
		t.Errorf("Publish(80/udp) = %v, %v; want a host port", got, err)
	}
	// An address the host does not have.
	bad, _ := Parse(fmt.Sprintf("192.0.2.1:%d:80", testPort(5)))
	if _, err := e.pub.Publish(e.target("c1bad"), bad); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "192.0.2.1") {
		t.Errorf("Publish on 192.0.2.1: %v, want an error naming the address", err)
	}
}
