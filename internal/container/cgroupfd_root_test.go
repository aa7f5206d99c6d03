package container

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/cgroup"
	"berth/internal/testfixture"
)

// TestInitJoinsCgroup checks how startInit puts the init in its cgroup:
// cloned into the cgroup2 directory, and moved by itself, before its Go
// runtime starts, into every v1 hierarchy's but memory's, which it joins
// later (cgroup.Join.Memory; the runtime tests check that).
func TestInitJoinsCgroup(t *testing.T) {
	testfixture.RequireRoot(t)
	path := "/berth-test-join-" + strconv.Itoa(os.Getpid())
	cg, err := cgroup.New(path, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Apply(0); err != nil {
		t.Fatal(err)
	}
	defer cg.Destroy()
	join, err := cg.OpenJoin()
	if err != nil {
		t.Fatal(err)
	}
	defer join.Close()

	r := &Runtime{Root: t.TempDir()}
	s := &specs.Spec{Linux: &specs.Linux{}, Process: &specs.Process{}}
	p, err := r.startInit(nil, s, "", CreateOptions{cgroup: join})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Kill(p.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(p.pid, &ws, 0, nil)
		p.sock.Close()
	}()
	// The v1 moves happen in the init, so wait for them.
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		if allIn(lines, path) {
			return
		}
	}
	t.Errorf("init's cgroups:\n%s\nwant %s in each", strings.Join(lines, "\n"), path)
}

// allIn reports whether every line of /proc/PID/cgroup but the memory
// hierarchy's names path.
func allIn(lines []string, path string) bool {
	for _, l := range lines {
		if strings.Contains(l, ":memory:") {
			continue
		}
		if !strings.HasSuffix(l, ":"+path) {
			return false
		}
	}
	return len(lines) > 0
}
