package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"berth/internal/netdns"
	"berth/internal/network"
)

// bridgePorts counts the interfaces on bridge name.
func bridgePorts(t *testing.T, name string) int {
	br, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	links, err := netlink.LinkList()
	for i := 0; errors.Is(err, netlink.ErrDumpInterrupted) && i < 20; i++ {
		links, err = netlink.LinkList() // links of other tests came or went meanwhile
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			n++
		}
	}
	return n
}

func netCLI(t *testing.T) *cli { return newCLI(t) }

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// outsideNetNS makes a network namespace that plays the world outside
// the host: a veth to it with a /30 between them, and no route back to
// any container subnet, so that only masqueraded packets get answers.
// It returns the outside address.
func outsideNetNS(t *testing.T) string {
	name := fmt.Sprintf("bnout%d", os.Getpid())
	host, peer := fmt.Sprintf("bno%dh", os.Getpid()%100000), fmt.Sprintf("bno%dp", os.Getpid()%100000)
	sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "netns", "del", name).Run()
	})
	sh(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", name)
	a, b := outsideAddrs()
	sh(t, "ip", "addr", "add", a+"/30", "dev", host)
	sh(t, "ip", "link", "set", host, "up")
	sh(t, "ip", "-n", name, "addr", "add", b+"/30", "dev", peer)
	sh(t, "ip", "-n", name, "link", "set", peer, "up")
	sh(t, "ip", "-n", name, "link", "set", "lo", "up")
	return b
}

// outsideAddrs are the two ends of this test process's /30 in
// 198.18.0.0/15 (the benchmarking range), so that tests of several
// checkouts at once do not share one.
func outsideAddrs() (string, string) {
	n := (os.Getpid() % (1 << 15)) * 4
	base := fmt.Sprintf("198.%d.%d.", 18+n>>16, (n>>8)&255)
	return base + fmt.Sprint(n&255+1), base + fmt.Sprint(n&255+2)
}

// netAddrs returns network name's IPv4 subnet and gateway as berth chose
// them (tests take subnets from berth's pool, under its host-wide lock,
// so that tests running at once never pick the same), and the subnet's
// address number i.
func netAddrs(t *testing.T, c *cli, name string) (subnet, gateway string, at func(i int) string) {
	t.Helper()
	f := strings.Fields(c.run("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}", name))
	if len(f) != 2 {
		t.Fatalf("network %s has no IPv4 subnet: %q", name, f)
	}
	p := netip.MustParsePrefix(f[0])
	return f[0], f[1], func(i int) string {
		a := p.Addr()
		for ; i > 0; i-- {
			a = a.Next()
		}
		return a.String()
	}
}

func TestNetworkTraffic(t *testing.T) {
	c := netCLI(t)
	outside := outsideNetNS(t)
	c.run("network", "create", "tn1")
	c.run("network", "create", "tn2")
	c.run("network", "create", "--internal", "tn3")
	_, gw1, at1 := netAddrs(t, c, "tn1")
	_, _, at2 := netAddrs(t, c, "tn2")
	web, web2 := at1(50), at2(9)
	c.run("run", "-d", "--name", "web", "--network", "tn1", "--ip", web, "--network-alias", "www",
		"busybox:test", "sh", "-c", "echo hello-from-web > /tmp/index.html; httpd -f -p 80 -h /tmp")

	// The same network: ping and HTTP get through.
	out := c.run("run", "--rm", "--network", "tn1", "busybox:test", "sh", "-c",
		"for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://"+web+"/ && break; sleep 0.2; done; ping -c1 -W2 "+web+" >/dev/null && echo ping-ok")
	if !strings.Contains(out, "hello-from-web") || !strings.Contains(out, "ping-ok") {
		t.Errorf("a container on the same network got %q; want the page and a ping", out)
	}
	// Names: the network's resolver at the gateway knows web and its alias.
	out = c.run("run", "--rm", "--network", "tn1", "busybox:test", "sh", "-c",
		"cat /etc/resolv.conf; wget -qO- http://www/ && nslookup web.tn1 | grep -c "+web)
	if !strings.Contains(out, "nameserver "+gw1) || !strings.Contains(out, "hello-from-web") {
		t.Errorf("by name on the same network: %q; want the gateway as resolver and web's page", out)
	}
	// A renamed container answers to its new name.
	c.run("rename", "web", "web2")
	out = c.run("run", "--rm", "--network", "tn1", "busybox:test", "nslookup", "web2")
	if !strings.Contains(out, web) {
		t.Errorf("nslookup of a renamed container: %q", out)
	}
	c.run("rename", "web2", "web")
	// Another network: nothing gets through.
	out, _ = c.runErr(nil, "run", "--rm", "--network", "tn2", "busybox:test", "sh", "-c",
		"wget -T 2 -qO- http://"+web+"/ || echo blocked")
	if strings.Contains(out, "hello-from-web") || !strings.Contains(out, "blocked") {
		t.Errorf("a container on another network got %q; want it blocked", out)
	}
	// Egress: the outside answers only masqueraded packets.
	for _, n := range []string{"tn1", "bridge"} {
		out = c.run("run", "--rm", "--network", n, "busybox:test", "sh", "-c", "ping -c1 -W2 "+outside+" >/dev/null && echo out-ok || echo out-failed")
		if !strings.Contains(out, "out-ok") {
			t.Errorf("egress from %s: %q, want the outside reached through NAT", n, out)
		}
	}
	// An internal network has no way out.
	out = c.run("run", "--rm", "--network", "tn3", "busybox:test", "sh", "-c", "ping -c1 -W2 "+outside+" >/dev/null && echo out-ok || echo out-failed")
	if !strings.Contains(out, "out-failed") {
		t.Errorf("egress from an internal network: %q, want none", out)
	}
	// Names: the records file lists web with its alias and address.
	nid := strings.TrimSpace(c.run("network", "inspect", "-f", "{{.Id}}", "tn1"))
	b, err := os.ReadFile(filepath.Join(c.root, "networks", nid, "records.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs netdns.Records
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs.Records) != 1 || recs.Records[0].Name != "web" || recs.Records[0].IPv4[0] != web ||
		recs.Records[0].Aliases[0] != "www" {
		t.Errorf("records.json = %s", b)
	}
	// Connect and disconnect a running container.
	c.run("network", "connect", "--ip", web2, "tn2", "web")
	out = c.run("exec", "web", "ip", "-o", "-4", "addr")
	if !strings.Contains(out, web2) {
		t.Errorf("after connect web has %q; want %s", out, web2)
	}
	c.run("network", "disconnect", "tn2", "web")
	if out = c.run("exec", "web", "ip", "-o", "-4", "addr"); strings.Contains(out, web2) {
		t.Errorf("after disconnect web still has %q", out)
	}
	// A network in use is not removed; a predefined one never.
	if out, err := c.runErr(nil, "network", "rm", "tn1"); err == nil || !strings.Contains(out, "active endpoints") {
		t.Errorf("network rm of a network in use: %v %q", err, out)
	}
	if out, err := c.runErr(nil, "network", "rm", "bridge"); err == nil || !strings.Contains(out, "pre-defined") {
		t.Errorf("network rm bridge: %v %q", err, out)
	}
	c.run("rm", "-f", "web")
	c.run("network", "rm", "tn1", "tn2", "tn3")
	if n, _ := network.CountRules(network.RuleTag(nid)); n != 0 {
		t.Errorf("%d rules of a removed network are left", n)
	}
}

func TestNetworkModes(t *testing.T) {
	c := netCLI(t)
	if out := c.run("run", "--rm", "--network", "none", "busybox:test", "ip", "-o", "link"); strings.Count(out, "\n") != 1 {
		t.Errorf("--network none has links %q; want loopback only", out)
	}
	host, _ := os.Hostname()
	out := c.run("run", "--rm", "--network", "host", "busybox:test", "ip", "-o", "link")
	if links, _ := netlink.LinkList(); strings.Count(out, "\n") != len(links) {
		t.Errorf("--network host sees %d links, the host has %d", strings.Count(out, "\n"), len(links))
	}
	_ = host
	c.run("run", "-d", "--name", "first", "busybox:test", "sleep", "30")
	ip := strings.TrimSpace(c.run("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "first"))
	out = c.run("run", "--rm", "--network", "container:first", "busybox:test", "ip", "-o", "-4", "addr")
	if ip == "" || !strings.Contains(out, ip) {
		t.Errorf("container:first sees %q; want first's address %s", out, ip)
	}
	first := strings.TrimSpace(c.run("exec", "first", "hostname"))
	if got := strings.TrimSpace(c.run("run", "--rm", "--network", "container:first", "busybox:test", "hostname")); got != first {
		t.Errorf("container:first has host name %q, want first's %q", got, first)
	}
	out = c.run("run", "--rm", "--add-host", "gw:host-gateway", "--dns", "192.0.2.7", "busybox:test", "cat", "/etc/hosts", "/etc/resolv.conf")
	gw := strings.TrimSpace(c.run("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "bridge"))
	if !strings.Contains(out, gw+"\tgw") || !strings.Contains(out, "nameserver 192.0.2.7") {
		t.Errorf("hosts and resolv.conf: %q; want gw at %s and the --dns server", out, gw)
	}
	for _, args := range [][]string{
		{"--network", "bridge", "--ip", "10.0.0.9"},
		{"--network", "bridge", "--network-alias", "x"},
		{"--network", "nosuchnet"},
		{"--network", "container:first", "--hostname", "x"},
		{"--mac-address", "01:00:00:00:00:01"},
	} {
		if out, err := c.runErr(nil, append(append([]string{"create"}, args...), "busybox:test")...); err == nil {
			t.Errorf("create %v succeeded: %q", args, out)
		}
	}
	if out := c.run("network", "ls"); !strings.HasPrefix(out, "NETWORK ID     NAME      DRIVER    SCOPE\n") {
		t.Errorf("network ls:\n%s", out)
	}
}

func TestNetworkParallelAddresses(t *testing.T) {
	c := netCLI(t)
	c.run("network", "create", "par")
	const n = 50
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := c.runErr(nil, "run", "-d", "--network", "par", "busybox:test", "sleep", "60")
			if err != nil {
				errs <- fmt.Errorf("run: %v: %s", err, out)
				return
			}
			ids[i] = strings.TrimSpace(out)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		ip := strings.TrimSpace(c.run("inspect", "-f", `{{(index .NetworkSettings.Networks "par").IPAddress}}`, id))
		if ip == "" || seen[ip] {
			t.Errorf("container %s has address %q, given twice or not at all", id[:12], ip)
		}
		seen[ip] = true
	}
	c.run(append([]string{"rm", "-f"}, ids...)...)
	if out := c.run("network", "inspect", "-f", "{{len .Containers}}", "par"); strings.TrimSpace(out) != "0" {
		t.Errorf("after rm the network still has %s containers", out)
	}
}

func TestNetworkNoLeaks(t *testing.T) {
	c := netCLI(t)
	c.run("network", "create", "leak")
	nid := strings.TrimSpace(c.run("network", "inspect", "-f", "{{.Id}}", "leak"))
	c.run("run", "--rm", "--network", "leak", "busybox:test", "true") // the bridge and rules come with the first
	bridge := "berth" + nid[:10]
	// Nothing runs on the network: once the kernel has freed the first
	// container's namespace in the background, the bridge has no ports.
	before := 0
	settle := func() int {
		got := bridgePorts(t, bridge)
		for i := 0; i < 100 && got != before; i++ {
			time.Sleep(50 * time.Millisecond)
			got = bridgePorts(t, bridge)
		}
		return got
	}
	if got := settle(); got != 0 {
		t.Fatalf("the bridge of a network nothing runs on has %d ports", got)
	}
	rules, _ := network.CountRules(network.RuleTag(nid))
	cycles := 200
	if testing.Short() {
		cycles = 20
	}
	for i := 0; i < cycles; i++ {
		c.run("run", "--rm", "--network", "leak", "busybox:test", "true")
	}
	// rm -f of a container whose monitor was killed.
	id := strings.TrimSpace(c.run("run", "-d", "--network", "leak", "busybox:test", "sleep", "60"))
	if pids, err := exec.Command("pgrep", "-f", "berth-monitor.*"+id).Output(); err == nil {
		for _, p := range strings.Fields(string(pids)) {
			exec.Command("kill", "-9", p).Run()
		}
	}
	time.Sleep(100 * time.Millisecond)
	c.run("rm", "-f", id)
	// The kernel frees the veths with their namespaces, in the background.
	if got := settle(); got != before {
		t.Errorf("veths: %d before, %d after %d runs", before, got, cycles)
	}
	// With --root, the runtime's state is ROOT/runtime, and the
	// namespaces are beside it.
	if _, err := os.Stat(filepath.Join(c.root, "netns", id)); err == nil {
		t.Errorf("the network namespace of a removed container is left")
	}
	if got, _ := network.CountRules(network.RuleTag(nid)); got != rules {
		t.Errorf("nftables rules: %d before, %d after", rules, got)
	}
	if out := c.run("network", "inspect", "-f", "{{len .Containers}}", "leak"); strings.TrimSpace(out) != "0" {
		t.Errorf("addresses still held: %s", out)
	}
}

// TestNetworkForwardDropPolicy runs berth in a network namespace of its
// own whose iptables FORWARD chain drops by policy, as dockerd leaves it:
// berth's networks must still reach the outside, and removing a network
// must take only its own rules out of iptables.
func TestNetworkForwardDropPolicy(t *testing.T) {
	c := netCLI(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables is not installed")
	}
	ns, _ := hostWithUplink(t, "bnfwd", 78)
	in := func(args ...string) []string {
		return append([]string{"nsenter", "--net=/run/netns/" + ns}, args...)
	}
	berth := func(args ...string) (string, error) {
		cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + ns, c.bin, "--root", c.root}, args...)...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	ping := "ping -c1 -W2 198.18.78.2 >/dev/null && echo out-ok || echo out-failed"

	// A network made while FORWARD accepts, then dockerd's policy.
	if o, err := berth("network", "create", "--subnet", "10.251.20.0/24", "early"); err != nil {
		t.Fatal(o)
	}
	if o, err := berth("run", "--rm", "--network", "early", "busybox:test", "sh", "-c", ping); err != nil || !strings.Contains(o, "out-ok") {
		t.Fatalf("egress before the DROP policy: %v %q", err, o)
	}
	sh(t, in("iptables", "-P", "FORWARD", "DROP")...)
	sh(t, in("iptables", "-A", "FORWARD", "-i", "up0", "-m", "comment", "--comment", "not-berths", "-j", "DROP")...)
	if o, err := berth("network", "create", "--subnet", "10.251.21.0/24", "late"); err != nil {
		t.Fatal(o)
	}
	for _, n := range []string{"early", "late"} {
		if o, err := berth("run", "--rm", "--network", n, "busybox:test", "sh", "-c", ping); err != nil || !strings.Contains(o, "out-ok") {
			t.Errorf("egress from %s under FORWARD's DROP policy: %v %q", n, err, o)
		}
	}
	if o, err := berth("network", "rm", "early", "late"); err != nil {
		t.Fatal(o)
	}
	rules, err := exec.Command(in("iptables", "-S")[0], in("iptables", "-S")[1:]...).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), "berth") && strings.Contains(string(rules), "-A "+network.IptablesChain+" -i") {
		t.Errorf("rules of removed networks are left:\n%s", rules)
	}
	if !strings.Contains(string(rules), "not-berths") || !strings.Contains(string(rules), "-P FORWARD DROP") {
		t.Errorf("berth changed rules that are not its own:\n%s", rules)
	}
	// The default network's bridge lives in that namespace, and goes with it.
}

func TestNetworkIPv6(t *testing.T) {
	c := netCLI(t)
	// A ULA /64 of this process's own.
	v6 := fmt.Sprintf("fd00:be47:%x::", os.Getpid()&0xffff)
	c.run("network", "create", "--ipv6", "--subnet", v6+"/64", "six")
	sixA := v6 + "a"
	c.run("run", "-d", "--name", "six-a", "--network", "six", "--ip6", sixA, "busybox:test", "sleep", "60")
	out := c.run("run", "--rm", "--network", "six", "busybox:test", "sh", "-c",
		"ping -6 -c1 -W2 "+sixA+" >/dev/null && echo v6-ok; nslookup six-a")
	if !strings.Contains(out, "v6-ok") || !strings.Contains(out, sixA) {
		t.Errorf("IPv6 on a network: %q; want a ping and the name's AAAA record", out)
	}
	got := strings.TrimSpace(c.run("inspect", "-f", `{{(index .NetworkSettings.Networks "six").GlobalIPv6Address}}`, "six-a"))
	if got != sixA {
		t.Errorf("GlobalIPv6Address = %q, want %s", got, sixA)
	}
	subnet, _, _ := netAddrs(t, c, "six")
	for _, args := range [][]string{
		{"network", "create", "--subnet", "fd00:be47:2::/64", "nov6flag"},
		{"network", "create", "--ipv6", "nov6subnet"},
		{"network", "create", "--subnet", subnet, "overlap"},
		{"network", "create", "--subnet", "10.9.8.0/24", "--gateway", "10.9.9.9", "badgw"},
		{"network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "badopt"},
		{"network", "create", "six"},
	} {
		if out, err := c.runErr(nil, args...); err == nil {
			t.Errorf("%v succeeded: %q", args, out)
		}
	}
	if out := c.run("network", "ls", "-q", "--filter", "type=custom"); len(strings.Fields(out)) != 1 {
		t.Errorf("only six should have been made; network ls says %q", out)
	}
}

func TestNetworkPruneAndConnectStopped(t *testing.T) {
	c := netCLI(t)
	c.run("network", "create", "--label", "keep=no", "unused")
	c.run("network", "create", "used")
	_, usedGW, _ := netAddrs(t, c, "used")
	c.run("create", "--name", "stopped", "busybox:test", "sleep", "30")
	// A stopped container's connect takes effect at its start, as eth1.
	c.run("network", "connect", "--alias", "st", "used", "stopped")
	c.run("start", "stopped")
	out := c.run("exec", "stopped", "ip", "-o", "-4", "addr", "show", "eth1")
	if !strings.Contains(out, usedGW[:strings.LastIndex(usedGW, ".")+1]) {
		t.Errorf("eth1 after connect and start: %q", out)
	}
	if out := c.run("network", "prune", "-f"); !strings.Contains(out, "Deleted Networks:\nunused\n") {
		t.Errorf("network prune: %q; want unused removed", out)
	}
	if out := c.run("network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"); strings.TrimSpace(out) != "used" {
		t.Errorf("after prune the custom networks are %q; want used, which a container is on", out)
	}
	c.run("network", "disconnect", "used", "stopped")
	if out, err := c.runErr(nil, "exec", "stopped", "ip", "-o", "link", "show", "eth1"); err == nil {
		t.Errorf("eth1 after disconnect: %q", out)
	}
	if out, err := c.runErr(nil, "network", "disconnect", "used", "stopped"); err == nil || !strings.Contains(out, "is not connected") {
		t.Errorf("a second disconnect: %v %q", err, out)
	}
	// A stopped container leaves a network that is removed, and starts
	// without it.
	c.run("network", "connect", "used", "stopped")
	c.run("stop", "-t", "0", "stopped")
	c.run("network", "rm", "used")
	c.run("start", "stopped")
	if got := strings.TrimSpace(c.run("inspect", "-f", "{{len .NetworkSettings.Networks}}", "stopped")); got != "1" {
		t.Errorf("after its network's rm the container is on %s networks, want 1", got)
	}
}

// TestNetworkOrphanRules checks that the rules of a bridge that went
// without `network rm` (deleted by hand, a root thrown away) are cleared
// when the next bridge is made.
func TestNetworkOrphanRules(t *testing.T) {
	c := netCLI(t)
	id := strings.TrimSpace(c.run("network", "create", "orphan"))
	if n, _ := network.CountRules(network.RuleTag(id)); n == 0 {
		t.Fatal("the network has no rules")
	}
	if err := network.DeleteBridge("berth" + id[:10]); err != nil {
		t.Fatal(err)
	}
	c.run("network", "create", "next")
	if n, _ := network.CountRules(network.RuleTag(id)); n != 0 {
		t.Errorf("%d rules of a bridge deleted by hand are left", n)
	}
}

// iptablesRunners returns, for the host namespace ns, in, which runs a
// command there with berth's rules forced into iptables (as on a host
// without nftables), and berth, which runs c's berth so and fails the
// test when it fails.
func iptablesRunners(t *testing.T, c *cli, ns string) (in func(args ...string) (string, error), berth func(args ...string) string) {
	in = func(args ...string) (string, error) {
		cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + ns}, args...)...)
		cmd.Env = append(os.Environ(), network.EnvFirewall+"=iptables")
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	berth = func(args ...string) string {
		t.Helper()
		o, err := in(append([]string{c.bin, "--root", c.root}, args...)...)
		if err != nil {
			t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, o)
		}
		return o
	}
	return in, berth
}

// TestNetworkIptablesBackend runs berth, with its rules in iptables
// chains (as on a host without nftables), in a network namespace of its
// own: egress, isolation and internal networks must hold as with
// nftables, and nothing may be left in iptables after network rm.
func TestNetworkIptablesBackend(t *testing.T) {
	c := netCLI(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables is not installed")
	}
	ns, _ := hostWithUplink(t, "bnipt", 80)
	in, berth := iptablesRunners(t, c, ns)
	ping := func(addr string) string {
		return "ping -c1 -W2 " + addr + " >/dev/null && echo reached || echo unreachable"
	}
	ids := []string{
		strings.TrimSpace(berth("network", "create", "--subnet", "10.251.60.0/24", "ia")),
		strings.TrimSpace(berth("network", "create", "--subnet", "10.251.61.0/24", "ib")),
		strings.TrimSpace(berth("network", "create", "--internal", "--subnet", "10.251.62.0/24", "ic")),
	}
	if rules, _ := in("iptables", "-S"); !strings.Contains(rules, network.RuleTag(ids[0])) {
		t.Errorf("no rules of network ia in iptables:\n%s", rules)
	}
	berth("run", "-d", "--name", "target", "--network", "ib", "--ip", "10.251.61.5", "busybox:test", "sleep", "60")
	for _, tc := range []struct{ net, addr, want string }{
		{"ia", "198.18.80.2", "reached"},
		{"ia", "10.251.61.5", "unreachable"},
		{"ic", "198.18.80.2", "unreachable"},
		{"ib", "10.251.61.5", "reached"},
	} {
		if got := berth("run", "--rm", "--network", tc.net, "busybox:test", "sh", "-c", ping(tc.addr)); !strings.Contains(got, tc.want) {
			t.Errorf("from %s to %s: %q, want %s", tc.net, tc.addr, got, tc.want)
		}
	}
	if tables, _ := in("nft", "list", "tables"); strings.Contains(tables, "inet "+network.TableName) {
		t.Errorf("berth made its nftables table with BERTH_FIREWALL=iptables: %s", tables)
	}
	berth("rm", "-f", "target")
	berth("network", "rm", "ia", "ib", "ic")
	for _, table := range []string{"filter", "nat"} {
		rules, _ := in("iptables", "-t", table, "-S")
		for _, id := range ids {
			if strings.Contains(rules, network.RuleTag(id)) {
				t.Errorf("iptables -t %s keeps rules of removed network %s:\n%s", table, id[:12], rules)
			}
		}
	}
}

// TestNetworkAfterReboot plays a reboot under a running container: its
// processes, its network namespace and the network's bridge go, with no
// berth command to see it. The next start on the network gives the dead
// container's address back, and its name leaves the network's records.
func TestNetworkAfterReboot(t *testing.T) {
	c := netCLI(t)
	nid := strings.TrimSpace(c.run("network", "create", "rb"))
	id := strings.TrimSpace(c.run("run", "-d", "--name", "gone", "--network", "rb", "busybox:test", "sleep", "600"))
	ip := strings.TrimSpace(c.run("inspect", "-f", `{{(index .NetworkSettings.Networks "rb").IPAddress}}`, "gone"))
	if pids, err := exec.Command("pgrep", "-f", "berth-monitor.*"+id).Output(); err == nil {
		for _, p := range strings.Fields(string(pids)) {
			exec.Command("kill", "-9", p).Run()
		}
	}
	pid := strings.TrimSpace(c.run("inspect", "-f", "{{.State.Pid}}", "gone"))
	exec.Command("kill", "-9", pid).Run()
	if !network.IsNetNS(filepath.Join(c.root, "netns", id)) {
		t.Fatal("the running container has no network namespace file")
	}
	if err := network.RemoveNetNS(filepath.Join(c.root, "netns", id)); err != nil {
		t.Fatal(err)
	}
	if err := network.DeleteBridge("berth" + nid[:10]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	c.run("run", "-d", "--name", "next", "--network", "rb", "busybox:test", "sleep", "60")
	out := c.run("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}};{{end}}", "rb")
	if strings.Contains(out, "gone") || !strings.Contains(out, "next ") {
		t.Errorf("after the reboot the network holds %q; want next alone (gone was at %s)", out, ip)
	}
	// gone's address is free again.
	c.run("run", "-d", "--name", "third", "--network", "rb", "--ip", ip, "busybox:test", "sleep", "60")
	b, _ := os.ReadFile(filepath.Join(c.root, "networks", nid, "records.json"))
	if strings.Contains(string(b), `"gone"`) {
		t.Errorf("the records still name the dead container:\n%s", b)
	}
}

// hostWithUplink makes two network namespaces named after prefix: one to
// run berth in as its host, with loopback up, and one that plays the
// outside, joined by a veth: up0 (198.18.OCTET.1/30) on the host side,
// down0 (198.18.OCTET.2/30) outside.
func hostWithUplink(t *testing.T, prefix string, octet int) (ns, out string) {
	t.Helper()
	ns = fmt.Sprintf("%s%d", prefix, os.Getpid())
	out = fmt.Sprintf("%so%d", prefix, os.Getpid())
	sh(t, "ip", "netns", "add", ns)
	sh(t, "ip", "netns", "add", out)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "netns", "del", out).Run()
	})
	host, outside := fmt.Sprintf("198.18.%d.1/30", octet), fmt.Sprintf("198.18.%d.2/30", octet)
	sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	sh(t, "ip", "-n", ns, "link", "add", "up0", "type", "veth", "peer", "name", "down0", "netns", out)
	sh(t, "ip", "-n", ns, "addr", "add", host, "dev", "up0")
	sh(t, "ip", "-n", ns, "link", "set", "up0", "up")
	sh(t, "ip", "-n", out, "addr", "add", outside, "dev", "down0")
	sh(t, "ip", "-n", out, "link", "set", "down0", "up")
	return ns, out
}
