package netdns

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"berth/internal/testfixture"
)

// TestServerHasNoPrivileges: a server started by root has no capability
// in any of its threads, none to gain (an empty bounding set,
// no_new_privs), and still does its work: it answers, forwards, and reads
// its records again when they change.
func TestServerHasNoPrivileges(t *testing.T) {
	testfixture.RequireRoot(t)
	for _, exe := range []string{"test binary", "berth"} {
		t.Run(exe, func(t *testing.T) {
			bin := "/proc/self/exe"
			if exe == "berth" {
				bin = testfixture.BuildBerth(t)
			}
			dir, up := networkDir(t)
			ip := loopbackIP()
			if err := ensureRunning(bin, dir, at53(ip)); err != nil {
				t.Fatal(err)
			}
			pid := serverPID(t, dir)
			checkUnprivileged(t, pid)

			if r := query(t, at53(ip), "udp", "example.com.", dns.TypeA); !slices.Equal(addrs(r), []string{"192.0.2.1"}) {
				t.Errorf("example.com. from the unprivileged server = %s %v", dns.RcodeToString[r.Rcode], addrs(r))
			}
			recs := testRecords(up)
			recs.Records = append(recs.Records, Record{Name: "late", IPv4: []string{"10.90.1.9"}})
			writeRecords(t, dir, recs)
			if r := query(t, at53(ip), "tcp", "late.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.9"}) {
				t.Errorf("late., recorded after the start = %s %v", dns.RcodeToString[r.Rcode], addrs(r))
			}
		})
	}
}

// checkUnprivileged checks every thread of process pid: no capability in
// any set, and no_new_privs.
func checkUnprivileged(t *testing.T, pid int) {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) < 2 {
		t.Errorf("server %d has %d threads; the check wants the runtime's several", pid, len(tasks))
	}
	for _, task := range tasks {
		status, err := os.ReadFile(filepath.Join(fmt.Sprintf("/proc/%d/task", pid), task.Name(), "status"))
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]string{}
		for line := range strings.SplitSeq(string(status), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
		for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
			if fields[set] != "0000000000000000" {
				t.Errorf("server %d, thread %s: %s %q, want none", pid, task.Name(), set, fields[set])
			}
		}
		if fields["NoNewPrivs"] != "1" {
			t.Errorf("server %d, thread %s: NoNewPrivs %q, want 1", pid, task.Name(), fields["NoNewPrivs"])
		}
	}
}
