package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// portsEnv is a berth root with a network of the test's own and an
// "outside" network namespace, linked to the host by a veth pair, that
// plays a client on another machine.
type portsEnv struct {
	*cli
	net         string
	gw, outHost string // host addresses: the network's gateway, the outside link's host end
	gw6         string // the network's IPv6 gateway
	outNS       string
	port0       int // the first of the test's host ports
}

func newPortsEnv(t *testing.T) *portsEnv {
	c := newCLI(t)
	pid := os.Getpid() % 100000
	x := pid%200 + 20
	e := &portsEnv{cli: c, net: fmt.Sprintf("ports%d", pid),
		gw: fmt.Sprintf("172.30.%d.1", x), outHost: fmt.Sprintf("172.30.%d.129", x), outNS: fmt.Sprintf("ports%d-out", pid),
		gw6: fmt.Sprintf("fd00:b0:%x::1", x), port0: 20000 + (pid%4000)*10}
	c.run("network", "create", "--ipv6", "--subnet", fmt.Sprintf("172.30.%d.0/25", x), "--subnet", fmt.Sprintf("fd00:b0:%x::/64", x), e.net)
	hostIf := fmt.Sprintf("vpq%d", pid)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", e.outNS).Run()
		exec.Command("ip", "link", "del", hostIf).Run()
		// The containers first, so that the network's bridge and rules go.
		if ids := strings.Fields(c.run("ps", "-aq")); len(ids) > 0 {
			c.runErr(nil, append([]string{"rm", "-f", "--purge"}, ids...)...)
		}
		c.runErr(nil, "network", "rm", e.net)
	})
	sh(t, "ip", "netns", "add", e.outNS)
	sh(t, "ip", "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", e.outNS)
	sh(t, "ip", "addr", "add", e.outHost+"/30", "dev", hostIf)
	sh(t, "ip", "link", "set", hostIf, "up")
	sh(t, "ip", "-n", e.outNS, "addr", "add", fmt.Sprintf("172.30.%d.130/30", x), "dev", "eth0")
	sh(t, "ip", "-n", e.outNS, "link", "set", "eth0", "up")
	sh(t, "ip", "-n", e.outNS, "route", "add", "default", "via", e.outHost)
	return e
}

// web starts a detached httpd that serves its /etc, on the test's
// network, publishing with the -p values given.
func (e *portsEnv) web(name string, publish ...string) (string, error) {
	args := []string{"run", "-d", "--name", name, "--hostname", name, "--network", e.net}
	for _, p := range publish {
		args = append(args, "-p", p)
	}
	return e.runErr(nil, append(args, "busybox:test", "httpd", "-f", "-p", "80", "-h", "/etc")...)
}

// get asks host:port for /hostname, from the host (ns ""), from an
// outside namespace, or from a berth container ("ctr:NAME"), and
// checks that container want answers.
func (e *portsEnv) get(from, host string, port int, want string) error {
	req := "GET /hostname HTTP/1.0\r\n\r\n"
	nc := []string{"nc", "-w", "2", host, fmt.Sprint(port)}
	var cmd *exec.Cmd
	switch {
	case from == "":
		cmd = exec.Command("busybox", nc...)
	case strings.HasPrefix(from, "ctr:"):
		cmd = exec.Command(e.bin, append([]string{"--root", e.root, "exec", "-i", strings.TrimPrefix(from, "ctr:")}, nc...)...)
	default:
		cmd = exec.Command("ip", append([]string{"netns", "exec", from, "busybox"}, nc...)...)
	}
	cmd.Stdin = strings.NewReader(req)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "\r\n\r\n"+want+"\n") {
		return fmt.Errorf("%s:%d from %q: %v: %q", host, port, from, err, out)
	}
	return nil
}

func (e *portsEnv) rulesOf(id string) bool {
	out, _ := exec.Command("nft", "list", "table", "inet", portsTable).CombinedOutput()
	return strings.Contains(string(out), "berth-port "+id)
}

func TestPublishedPorts(t *testing.T) {
	e := newPortsEnv(t)
	all, local := e.port0, e.port0+1
	id, err := e.web("web", fmt.Sprintf("%d:80", all), fmt.Sprintf("127.0.0.1:%d:80", local))
	if err != nil {
		t.Fatalf("run -p: %v: %s", err, id)
	}
	id = strings.TrimSpace(id)
	if out, err := e.runErr(nil, "run", "-d", "--name", "client", "--network", e.net, "busybox:test", "sleep", "1000"); err != nil {
		t.Fatalf("run the client: %v: %s", err, out)
	}
	for _, c := range []struct {
		from, host string
		port       int
		ok         bool
	}{
		{"", "127.0.0.1", all, true},
		{"", e.gw, all, true},
		{"", e.outHost, all, true},
		{"", e.gw6, all, true},
		{"ctr:client", e.gw, all, true},
		{"ctr:client", e.outHost, all, true},
		{"ctr:web", e.gw, all, true},
		{e.outNS, e.outHost, all, true},
		{"", "127.0.0.1", local, true},
		{"", "::1", all, true},
		{"", "::1", local, false},
		{e.outNS, e.outHost, local, false},
		{"ctr:client", e.gw, local, false},
	} {
		err := e.get(c.from, c.host, c.port, "web")
		if c.ok && err != nil {
			t.Errorf("not reachable: %v", err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s:%d answers %q, but the port is published on 127.0.0.1 only", c.host, c.port, c.from)
		}
	}

	want := fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n80/tcp -> [::]:%d\n80/tcp -> 127.0.0.1:%d\n", all, all, local)
	if got := e.run("port", "web"); got != want {
		t.Errorf("port web = %q, want %q", got, want)
	}
	if got := e.run("ps", "--format", "{{.Ports}}", "--filter", "name=web"); !strings.Contains(got, fmt.Sprintf("0.0.0.0:%d->80/tcp", all)) {
		t.Errorf("ps PORTS = %q", got)
	}

	// A second container on the same port: a clear error, and nothing
	// of it published.
	out, err := e.web("web2", fmt.Sprintf("%d:81", all+2), fmt.Sprintf("%d:80", all))
	if err == nil || !strings.Contains(out, fmt.Sprintf("0.0.0.0:%d/tcp", all)) || !strings.Contains(out, "container web") {
		t.Errorf("run -p on web's port: %v: %q, want an error naming the port and web", err, out)
	}
	if id2 := strings.TrimSpace(e.run("ps", "-aq", "--no-trunc", "--filter", "name=web2")); id2 == "" || e.rulesOf(id2) {
		t.Errorf("web2 (%q) left rules behind", id2)
	}

	e.run("rm", "-f", "web")
	if e.rulesOf(id) {
		t.Errorf("rules of web left after rm")
	}
	if err := e.get("", "127.0.0.1", all, "web"); err == nil {
		t.Errorf("the port answers after rm")
	}
	// Refused at once: no connect shortcut sends it to web's old address.
	for _, port := range []int{all, local} {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if _, err := net.DialTimeout("tcp", addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial %s after rm: %v, want connection refused", addr, err)
		}
	}
}

func TestPublishedPortTakenByAProgram(t *testing.T) {
	e := newPortsEnv(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", e.port0+5))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := e.web("web", fmt.Sprintf("%d:80", e.port0+5))
	wantPid := fmt.Sprintf("(pid %d)", os.Getpid())
	if err == nil || !strings.Contains(out, fmt.Sprintf("0.0.0.0:%d/tcp", e.port0+5)) || !strings.Contains(out, wantPid) {
		t.Fatalf("run -p on a port a program holds: %v: %q, want an error naming the port and %s", err, out, wantPid)
	}
	id := strings.TrimSpace(e.run("ps", "-aq", "--no-trunc", "--filter", "name=web"))
	if e.rulesOf(id) {
		t.Errorf("the failed start left rules")
	}
	if st := strings.TrimSpace(e.run("ps", "-a", "--format", "{{.State}}", "--filter", "name=web")); st == StatusRunning {
		t.Errorf("the container runs although its port is taken")
	}
}
