package netdns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"berth/internal/testfixture"
)

var lastAddr atomic.Uint32

// loopbackIP is a loopback address no other test uses: 127.53.P.N, with
// P from this process's pid.
func loopbackIP() net.IP {
	return net.IPv4(127, 53, byte(os.Getpid()), byte(lastAddr.Add(1)))
}

// networkDir makes a network directory whose records name web, with an
// upstream on loopback; t's cleanup stops its server.
func networkDir(t *testing.T) (string, *upstream) {
	t.Helper()
	up := startUpstream(t, "127.0.0.1")
	dir := t.TempDir()
	writeRecords(t, dir, testRecords(up))
	t.Cleanup(func() {
		if err := Stop(dir); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return dir, up
}

// serverPID is the pid that dir's pid file names, after checking that a
// server holds it.
func serverPID(t *testing.T, dir string) int {
	t.Helper()
	pid, addr, err := running(dir)
	if err != nil || pid == 0 {
		t.Fatalf("running(%s) = %d %q %v, want a server", dir, pid, addr, err)
	}
	return pid
}

func at53(ip net.IP) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip.To4())
	return netip.AddrPortFrom(a, 53)
}

// servers lists the processes whose command line is __dns dir.
func servers(t *testing.T, dir string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(cmdline), "\x00")
		if len(args) >= 3 && args[1] == Command && args[2] == dir && !isZombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func isZombie(pid int) bool {
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	_, rest, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(rest, "Z")
}

func TestEnsureRunningStop(t *testing.T) {
	testfixture.RequireRoot(t)
	dir, _ := networkDir(t)
	ip := loopbackIP()
	if err := EnsureRunning(dir, ip); err != nil {
		t.Fatal(err)
	}
	// Ready means answering, at once.
	if r := query(t, at53(ip), "udp", "web.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.2"}) {
		t.Fatalf("web. just after EnsureRunning = %s %v", dns.RcodeToString[r.Rcode], addrs(r))
	}
	if r := query(t, at53(ip), "tcp", "example.com.", dns.TypeA); !slices.Equal(addrs(r), []string{"192.0.2.1"}) {
		t.Errorf("example.com. over TCP = %s %v", dns.RcodeToString[r.Rcode], addrs(r))
	}
	pid := serverPID(t, dir)
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("server %d is in session %d (%v), want a session of its own", pid, sid, err)
	}
	if got := servers(t, dir); !slices.Equal(got, []int{pid}) {
		t.Errorf("servers of %s = %v, want [%d]", dir, got, pid)
	}

	// Running already: nothing new starts.
	if err := EnsureRunning(dir, ip); err != nil {
		t.Fatal(err)
	}
	if got := serverPID(t, dir); got != pid {
		t.Errorf("second EnsureRunning: server %d, want %d still", got, pid)
	}

	if err := Stop(dir); err != nil {
		t.Fatal(err)
	}
	if got := servers(t, dir); len(got) != 0 {
		t.Errorf("servers after Stop = %v", got)
	}
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	if _, _, err := c.Exchange(new(dns.Msg).SetQuestion("web.", dns.TypeA), at53(ip).String()); err == nil {
		t.Error("a query after Stop was answered")
	}
	if err := Stop(dir); err != nil {
		t.Errorf("Stop of a stopped server = %v, want nil", err)
	}
}

func TestEnsureRunningConcurrent(t *testing.T) {
	testfixture.RequireRoot(t)
	dir, _ := networkDir(t)
	ip := loopbackIP()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = EnsureRunning(dir, ip) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	pid := serverPID(t, dir)
	if got := servers(t, dir); !slices.Equal(got, []int{pid}) {
		t.Errorf("servers after 8 EnsureRunning at once = %v, want one, [%d]", got, pid)
	}
}

func TestEnsureRunningStale(t *testing.T) {
	testfixture.RequireRoot(t)
	dir, _ := networkDir(t)
	ip := loopbackIP()

	// A pid file left from before a reboot, naming a live process that
	// is not a server (pid 1) at the same address.
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(fmt.Sprintf("1 %s\n", at53(ip))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := EnsureRunning(dir, ip); err != nil {
		t.Fatal(err)
	}
	pid := serverPID(t, dir)
	if pid == 1 {
		t.Fatal("EnsureRunning took pid 1 for the server")
	}

	// A server killed with SIGKILL is replaced.
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Its lock goes when its files are closed, a moment after its
	// memory (and so its command line) is gone.
	waitFor(t, "the killed server to exit", func() bool {
		p, _, err := running(dir)
		return err == nil && p == 0 && len(servers(t, dir)) == 0
	})
	if err := EnsureRunning(dir, ip); err != nil {
		t.Fatal(err)
	}
	if got := serverPID(t, dir); got == pid {
		t.Errorf("after kill -9, the server is still pid %d", got)
	}
	if r := query(t, at53(ip), "udp", "web.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.2"}) {
		t.Errorf("web. from the new server = %v", addrs(r))
	}
}

func TestEnsureRunningMoves(t *testing.T) {
	testfixture.RequireRoot(t)
	dir, _ := networkDir(t)
	ip1, ip2 := loopbackIP(), loopbackIP()
	if err := EnsureRunning(dir, ip1); err != nil {
		t.Fatal(err)
	}
	if err := EnsureRunning(dir, ip2); err != nil {
		t.Fatal(err)
	}
	if got := servers(t, dir); len(got) != 1 {
		t.Errorf("servers after a move = %v, want one", got)
	}
	if r := query(t, at53(ip2), "udp", "web.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.2"}) {
		t.Errorf("web. at the new address = %v", addrs(r))
	}
}

// anotherNetworksServer makes two network directories and runs the
// first one's server at an address of its own, for the second to start
// at: it returns them, the address and the first server's pid.
func anotherNetworksServer(t *testing.T) (old, dir string, ip net.IP, pid int) {
	testfixture.RequireRoot(t)
	old, _ = networkDir(t)
	dir, _ = networkDir(t)
	ip = loopbackIP()
	if err := EnsureRunning(old, ip); err != nil {
		t.Fatal(err)
	}
	return old, dir, ip, serverPID(t, old)
}

// TestEnsureRunningTakesOver: a server of another network directory at
// the address, one that a root abandoned with its networks running left
// behind, gives the address up; a program that is no such server does
// not (TestEnsureRunningErrors).
func TestEnsureRunningTakesOver(t *testing.T) {
	old, dir, ip, pid := anotherNetworksServer(t)
	if err := EnsureRunning(dir, ip); err != nil {
		t.Fatalf("EnsureRunning where another network's server listens: %v", err)
	}
	if got := servers(t, old); len(got) != 0 {
		t.Errorf("the other network's server (pid %d) still runs: %v", pid, got)
	}
	if r := query(t, at53(ip), "udp", "web.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.2"}) {
		t.Errorf("web. from the new server = %v", addrs(r))
	}
}

// TestEnsureRunningLeavesALiveNetwork: when another interface has the
// address too, the other network is up, and its server stays.
func TestEnsureRunningLeavesALiveNetwork(t *testing.T) {
	old, dir, ip, pid := anotherNetworksServer(t)
	for i := range 2 {
		name := fmt.Sprintf("bdns%d%d", os.Getpid()%10000, i)
		if out, err := exec.Command("ip", "link", "add", name, "type", "bridge").CombinedOutput(); err != nil {
			t.Fatalf("ip link add: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
		if out, err := exec.Command("ip", "addr", "add", ip.String()+"/32", "dev", name).CombinedOutput(); err != nil {
			t.Fatalf("ip addr add: %v: %s", err, out)
		}
	}
	err := EnsureRunning(dir, ip)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("EnsureRunning at a live network's address = %v, want address already in use", err)
	}
	if got := servers(t, old); len(got) != 1 || got[0] != pid {
		t.Errorf("the live network's server = %v, want %d still running", got, pid)
	}
}

func TestEnsureRunningErrors(t *testing.T) {
	testfixture.RequireRoot(t)
	dir, _ := networkDir(t)
	// Not an address of this host.
	err := EnsureRunning(dir, net.IPv4(192, 0, 2, 77))
	if err == nil || !containsAll(err.Error(), "192.0.2.77:53", "cannot assign requested address") {
		t.Errorf("EnsureRunning at 192.0.2.77 = %v, want the bind error naming the address", err)
	}
	if got := servers(t, dir); len(got) != 0 {
		t.Errorf("servers after a failed start = %v", got)
	}

	t.Logf("bind error: %v", err)
	// A used address.
	ip := loopbackIP()
	pc, err := net.ListenPacket("udp", at53(ip).String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	err = EnsureRunning(dir, ip)
	if err == nil || !containsAll(err.Error(), at53(ip).String(), "address already in use") {
		t.Errorf("EnsureRunning at a used address = %v", err)
	}

	t.Logf("used: %v", err)
	// No records.
	empty := t.TempDir()
	err = EnsureRunning(empty, loopbackIP())
	if err == nil || !strings.Contains(err.Error(), RecordsFile) {
		t.Errorf("EnsureRunning without records = %v, want an error naming %s", err, RecordsFile)
	}
}

func TestServerExitsWithoutRecords(t *testing.T) {
	testfixture.RequireRoot(t)
	dir, _ := networkDir(t)
	if err := EnsureRunning(dir, loopbackIP()); err != nil {
		t.Fatal(err)
	}
	pid := serverPID(t, dir)
	if err := os.Remove(filepath.Join(dir, RecordsFile)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to exit after records.json is removed", func() bool {
		p, _, err := running(dir)
		return err == nil && p == 0
	})
	if got := servers(t, dir); len(got) != 0 {
		t.Errorf("servers of %s = %v, want none (pid %d exited)", dir, got, pid)
	}
	log, _ := os.ReadFile(filepath.Join(dir, logFile))
	if !strings.Contains(string(log), "listening on") || !strings.Contains(string(log), "exiting") {
		t.Errorf("%s = %q, want its start and end", logFile, log)
	}
}

// TestHiddenCommand runs the server through berth's own command line.
func TestHiddenCommand(t *testing.T) {
	testfixture.RequireRoot(t)
	berth := testfixture.BuildBerth(t)
	dir, _ := networkDir(t)
	ip := loopbackIP()
	if err := ensureRunning(berth, dir, at53(ip)); err != nil {
		t.Fatal(err)
	}
	if r := query(t, at53(ip), "udp", "db.", dns.TypeA); len(addrs(r)) != 2 {
		t.Errorf("db. from berth __dns = %v, want two addresses", addrs(r))
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", serverPID(t, dir)))
	if got := strings.Split(string(cmdline), "\x00"); got[1] != Command {
		t.Errorf("server command line %q", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestServerMemory measures servers of the real berth binary, four at
// once, after some queries: their proportional set size, in which the
// binary's pages are shared among them, and their anonymous memory, which
// is each one's own.
func TestServerMemory(t *testing.T) {
	testfixture.RequireRoot(t)
	berth := testfixture.BuildBerth(t)
	var pids []int
	var ips []net.IP
	for range 4 {
		dir, _ := networkDir(t)
		ip := loopbackIP()
		if err := ensureRunning(berth, dir, at53(ip)); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, serverPID(t, dir))
		ips = append(ips, ip)
	}
	for _, ip := range ips {
		for range 50 {
			query(t, at53(ip), "udp", "web.", dns.TypeA)
			query(t, at53(ip), "udp", "example.com.", dns.TypeA)
		}
	}
	for _, pid := range pids {
		f := smapsRollup(t, pid)
		t.Logf("server %d: Pss %d kB (anon %d kB, file %d kB), Rss %d kB",
			pid, f["Pss"], f["Pss_Anon"], f["Pss_File"], f["Rss"])
		if f["Pss_Anon"] == 0 || f["Pss_Anon"] > 8<<10 {
			t.Errorf("server %d: Pss_Anon = %d kB, want under 8 MB", pid, f["Pss_Anon"])
		}
	}
}

func smapsRollup(t *testing.T, pid int) map[string]int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Skipf("no smaps_rollup: %v", err)
	}
	fields := map[string]int{}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			n, _ := strconv.Atoi(f[1])
			fields[strings.TrimSuffix(f[0], ":")] = n
		}
	}
	return fields
}

// TestServerHoldsNoInheritedFiles: a descriptor that the caller leaves
// open across exec, such as a shell's pipe, is not held by the server, so
// whoever reads that pipe sees it end.
func TestServerHoldsNoInheritedFiles(t *testing.T) {
	testfixture.RequireRoot(t)
	dir, _ := networkDir(t)
	var p [2]int
	// No O_CLOEXEC: inherited. Non-blocking, so that the read below can
	// time out.
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(p[0]), "r")
	defer r.Close()
	err := EnsureRunning(dir, loopbackIP())
	unix.Close(p[1])
	if err != nil {
		t.Fatal(err)
	}
	r.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read of a pipe whose write end the server inherited = %v, want EOF", err)
	}
}
