package engine

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"berth/internal/network"
)

// TestNetworkIptablesNoLeaks is TestNetworkNoLeaks on the iptables path
// (BERTH_FIREWALL=iptables, as on a host without nftables), in a network
// namespace of its own whose FORWARD chain drops by policy, so that the
// rules for dockerd's policy are made too: many runs, a container whose
// monitor was killed and then removed, each with a published port, a
// bridge deleted by hand and network rm must leave no rule of berth's
// behind.
func TestNetworkIptablesNoLeaks(t *testing.T) {
	c := netCLI(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables is not installed")
	}
	ns, outNS := hostWithUplink(t, "bnipl", 81)
	in, berth := iptablesRunners(t, c, ns)
	// berth's rules: those of its chains, and the jumps to them.
	rules := func() string {
		t.Helper()
		var out []string
		for _, table := range []string{"filter", "nat"} {
			o, err := in("iptables", "-t", table, "-S")
			if err != nil {
				t.Fatalf("iptables -t %s -S: %v\n%s", table, err, o)
			}
			for _, line := range strings.Split(o, "\n") {
				if strings.Contains(line, "BERTH") || strings.Contains(line, "berth") {
					out = append(out, table+": "+line)
				}
			}
		}
		return strings.Join(out, "\n")
	}
	if o, err := in("iptables", "-P", "FORWARD", "DROP"); err != nil {
		t.Fatal(o)
	}

	nid := strings.TrimSpace(berth("network", "create", "--subnet", "10.251.63.0/24", "leak"))
	bridge := "berth" + nid[:10]
	// The chains come with the first network and the first published port.
	berth("run", "--rm", "--network", "leak", "-p", "127.0.0.1::80", "busybox:test", "true")
	before := rules()
	if !strings.Contains(before, network.RuleTag(nid)) || !strings.Contains(before, "-i "+bridge+" -m comment --comment berth") {
		t.Fatalf("the network's rules are not in iptables:\n%s", before)
	}
	cycles := 200
	if testing.Short() {
		cycles = 20
	}
	for range cycles {
		berth("run", "--rm", "--network", "leak", "-p", "127.0.0.1::80", "busybox:test", "true")
	}
	// rm -f of a container whose monitor was killed, with a published
	// port that the outside reaches.
	id := strings.TrimSpace(berth("run", "-d", "--network", "leak", "--hostname", "pweb", "-p", "8080:80",
		"busybox:test", "httpd", "-f", "-p", "80", "-h", "/etc"))
	if !strings.Contains(rules(), "berth-port "+id) {
		t.Errorf("no rule of the published port in iptables:\n%s", rules())
	}
	get := exec.Command("ip", "netns", "exec", outNS, "busybox", "nc", "-w", "2", "198.18.81.1", "8080")
	get.Stdin = strings.NewReader("GET /hostname HTTP/1.0\r\n\r\n")
	if out, err := get.CombinedOutput(); err != nil || !strings.HasSuffix(string(out), "\r\n\r\npweb\n") {
		t.Errorf("the published port from outside: %v: %q", err, out)
	}
	if pids, err := exec.Command("pgrep", "-f", "berth-monitor.*"+id).Output(); err == nil {
		for _, p := range strings.Fields(string(pids)) {
			exec.Command("kill", "-9", p).Run()
		}
	}
	time.Sleep(100 * time.Millisecond)
	berth("rm", "-f", id)
	// Refused at once: no connect shortcut sends it to the old address.
	if o, _ := in("busybox", "nc", "-w", "3", "127.0.0.1", "8080"); !strings.Contains(o, "refused") {
		t.Errorf("127.0.0.1:8080 after rm -f: %q, want connection refused", o)
	}
	if after := rules(); after != before {
		t.Errorf("iptables after %d runs with a published port and a removed container whose monitor was killed:\n%s\nbefore:\n%s", cycles, after, before)
	}
	if tables, _ := in("nft", "list", "tables"); strings.Contains(tables, "inet "+network.TableName) {
		t.Errorf("berth made its nftables table with BERTH_FIREWALL=iptables: %s", tables)
	}

	// A bridge deleted by hand: its rules go when the next bridge is made.
	if o, err := in("ip", "link", "del", bridge); err != nil {
		t.Fatal(o)
	}
	next := strings.TrimSpace(berth("network", "create", "--subnet", "10.251.64.0/24", "next"))
	if left := rules(); strings.Contains(left, network.RuleTag(nid)) || strings.Contains(left, " "+bridge+" ") {
		t.Errorf("rules of a bridge deleted by hand are left:\n%s", left)
	}
	berth("network", "rm", "leak", "next")
	// What stays is berth's chains, the jumps to them, and the default
	// network's rules.
	defaultBridge := strings.TrimSpace(berth("network", "inspect", "-f", `{{index .Options "com.docker.network.bridge.name"}}`, "bridge"))
	var left []string
	for _, line := range regexp.MustCompile(`(?m)^\w+: -A BERTH-\w+ .*$`).FindAllString(rules(), -1) {
		if !strings.Contains(line, " "+defaultBridge+" ") {
			left = append(left, line)
		}
	}
	if len(left) > 0 {
		t.Errorf("after network rm of leak and %s, rules are left in berth's chains:\n%s", next[:12], strings.Join(left, "\n"))
	}
}
