package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
