package compose_test

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"berth/internal/testfixture"
)

// TestExampleBusybox runs examples/busybox as its README says: up -d
// --wait, then requests through the proxy's published port, which need
// the proxy to reach the app and the app the cache, by service name on
// two networks; the cache answers by its alias and its container name
// too, and its count lives in a named volume.
func TestExampleBusybox(t *testing.T) {
	b := newBerth(t)
	port, env := b.example("busybox", "-v")
	b.must(env, "compose", "up", "-d", "--wait")
	get := func() string {
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port + "/cgi-bin/hits")
		if err != nil {
			t.Fatalf("GET through the published port: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(body))
	}
	if got := get(); got != "hits: 1" {
		t.Errorf("first request = %q, want hits: 1", got)
	}
	if got := get(); got != "hits: 2" {
		t.Errorf("second request = %q, want hits: 2", got)
	}
	for _, name := range []string{"cache", "redis", "bbshop-cache-1"} {
		if out := b.must(env, "compose", "exec", "-T", "app", "sh", "-c", "echo PING | nc "+name+" 6379"); strings.TrimSpace(out) != "PONG" {
			t.Errorf("app to %s: %q, want PONG", name, out)
		}
	}
	if out := b.must(env, "compose", "port", "proxy", "80"); !strings.HasSuffix(strings.TrimSpace(out), ":"+port) {
		t.Errorf("compose port proxy 80 = %q, want port %s", out, port)
	}
	// The proxy is on the front network only: the cache, on the internal
	// back network, is out of its reach.
	if out, err := b.run(env, "compose", "exec", "-T", "proxy", "sh", "-c", "echo PING | nc -w 2 cache 6379"); err == nil && strings.Contains(out, "PONG") {
		t.Errorf("the proxy reached the cache across networks: %q", out)
	}
	b.must(env, "compose", "down", "-t", "0")
	b.must(env, "compose", "up", "-d", "--wait")
	if got := get(); got != "hits: 3" {
		t.Errorf("after down and up = %q, want hits: 3 (the count is in a volume)", got)
	}
}

// TestExampleDebian runs examples/debian: up builds nginx, the app and
// Redis from Debian packages, waits for their health checks, and a
// request through nginx's published port comes back with the count the
// app keeps in Redis. It needs a Debian mirror for debootstrap (unless
// the base is cached) and for apt in the builds.
func TestExampleDebian(t *testing.T) {
	testfixture.RequireRoot(t)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://deb.debian.org/debian/dists/bookworm/Release")
	if err != nil {
		t.Skipf("needs the Debian mirror, for apt in the builds: %v", err)
	}
	resp.Body.Close()
	b := newBerth(t)
	port, env := b.example("debian", "--rmi", "all")
	b.must(env, "compose", "up", "-d", "--wait")
	for i, want := range []string{"hits: 1 (app 1.0 on ", "hits: 2 (app 1.0 on "} {
		resp, err := c.Get("http://127.0.0.1:" + port + "/")
		if err != nil {
			t.Fatalf("request %d through nginx's published port: %v", i+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), want) {
			t.Errorf("request %d = %q, want %q...", i+1, body, want)
		}
	}
	if out := b.must(env, "compose", "down"); !strings.Contains(out, "debshop-app-1  Removed") {
		t.Errorf("down:\n%s", out)
	}
}

// example makes b's project examples/name, as its README says: its
// setup.sh, and a free port for its proxy, which PROXY_PORT in env
// gives. At the end, the project goes down with downFlags, after its
// containers and their last lines are logged if the test failed.
func (b *berth) example(name string, downFlags ...string) (port string, env []string) {
	t := b.t
	t.Helper()
	b.dir, _ = filepath.Abs(filepath.Join("../../examples", name))
	setup := exec.Command(filepath.Join(b.dir, "setup.sh"))
	setup.Env = append(setup.Environ(), "BERTH="+b.bin, "BERTH_ROOT="+b.root)
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	env = []string{"PROXY_PORT=" + port}
	t.Cleanup(func() { b.run(env, append(append([]string{"compose", "down"}, downFlags...), "-t", "0")...) })
	diagnose(t, b, env)
	return port, env
}

// diagnose logs the project's containers and their last lines when the
// test has failed, before the project goes down.
func diagnose(t *testing.T, b *berth, env []string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ps, _ := b.run(env, "compose", "ps", "-a")
		logs, _ := b.run(env, "compose", "logs", "--no-color", "--tail", "30")
		t.Logf("compose ps -a:\n%s\ncompose logs:\n%s", ps, logs)
	})
}
