package engine

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestPortsFollowGateway: a container on several networks publishes its
// ports through its gateway network, the first it joined that is not
// internal. Disconnected from it while it runs, the next one takes its
// ports, with the same host ports, and its default route, as Docker
// moves them; port, inspect and the DNAT rules agree all along. With no
// such network left nothing is published, until one is connected; an
// internal network that comes first is passed over at start too.
func TestPortsFollowGateway(t *testing.T) {
	e := newPortsEnv(t)
	fixed := e.port0 + 6
	id, err := e.web("gw", fmt.Sprintf("%d:80", fixed), "81")
	if err != nil {
		t.Fatalf("run -p: %v: %s", err, id)
	}
	id = strings.TrimSpace(id)
	t.Cleanup(func() { e.runErr(nil, "rm", "-f", "gw"); e.runErr(nil, "network", "rm", "pgb", "pgi") })
	nextID := strings.TrimSpace(e.run("network", "create", "pgb"))
	_, nextGW, _ := netAddrs(t, e.cli, "pgb")
	e.run("network", "create", "--internal", "pgi")
	e.run("network", "connect", "pgi", "gw")
	e.run("network", "connect", "pgb", "gw")

	ipv4 := func(out string) string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "0.0.0.0:") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	before := e.run("port", "gw")
	if !strings.Contains(before, fmt.Sprintf("80/tcp -> 0.0.0.0:%d", fixed)) || !strings.Contains(before, "81/tcp -> 0.0.0.0:") {
		t.Fatalf("port gw = %q", before)
	}
	reach := func(when string) {
		t.Helper()
		if err := e.get("", "127.0.0.1", fixed, "gw"); err != nil {
			t.Errorf("%s, from the host: %v", when, err)
		}
		if err := e.get(e.outNS, e.outHost, fixed, "gw"); err != nil {
			t.Errorf("%s, from outside: %v", when, err)
		}
	}
	reach("on its first network")

	// Its gateway network goes: pgb, not the internal pgi, takes over.
	e.run("network", "disconnect", e.net, "gw")
	after := e.run("port", "gw")
	if ipv4(after) != ipv4(before) {
		t.Errorf("port gw after disconnecting its gateway network = %q, want the IPv4 ports of before, %q", after, ipv4(before))
	}
	if strings.Contains(after, "[::]") {
		t.Errorf("port gw = %q: IPv6 ports on a network without IPv6", after)
	}
	if got := e.run("inspect", "-f", `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`, "gw"); strings.TrimSpace(got) != fmt.Sprint(fixed) {
		t.Errorf("inspect's NetworkSettings.Ports 80/tcp = %q, want %d", got, fixed)
	}
	rules, _ := exec.Command("nft", "list", "table", "inet", portsTable).CombinedOutput()
	if !strings.Contains(string(rules), fmt.Sprintf("berth-port %s %s tcp 0.0.0.0 %d 80", id, nextID, fixed)) {
		t.Errorf("no DNAT rule of gw through pgb:\n%s", rules)
	}
	if out := e.run("exec", "gw", "ip", "route"); !strings.Contains(out, "default via "+nextGW) {
		t.Errorf("gw's routes after the disconnect: %q, want the default through pgb's %s", out, nextGW)
	}
	if out := e.run("exec", "gw", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver "+nextGW+"\n") {
		t.Errorf("gw's resolv.conf after the disconnect: %q, want pgb's resolver, %s", out, nextGW)
	}
	reach("through the next network")

	// Only an internal network left: nothing published.
	e.run("network", "disconnect", "pgb", "gw")
	if out := e.run("port", "gw"); out != "" {
		t.Errorf("port gw on an internal network only = %q, want nothing", out)
	}
	if got := e.run("inspect", "-f", `{{json .NetworkSettings.Ports}}`, "gw"); !strings.Contains(got, `"80/tcp":null`) {
		t.Errorf("inspect's NetworkSettings.Ports 80/tcp on an internal network only = %q, want null", got)
	}
	if e.rulesOf(id) {
		t.Errorf("gw has DNAT rules on an internal network only")
	}
	// A network connected then is its gateway network.
	e.run("network", "connect", "pgb", "gw")
	if out := e.run("port", "gw", "80"); strings.TrimSpace(out) != fmt.Sprintf("0.0.0.0:%d", fixed) {
		t.Errorf("port gw 80 after connecting pgb = %q", out)
	}
	reach("after connecting a network again")
	// Started on the internal network then pgb, as it is now: pgb is its
	// gateway network at start too.
	e.run("restart", "-t", "0", "gw")
	if out := e.run("exec", "gw", "ip", "route"); !strings.Contains(out, "default via "+nextGW) {
		t.Errorf("gw's routes after a restart on pgi and pgb: %q, want the default through pgb's %s", out, nextGW)
	}
	reach("after a restart on an internal network and another")
}
