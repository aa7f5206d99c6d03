package cgroup

// Tests in this file change real cgroups. They run only as root on a host
// with the matching hierarchy mounted, and clean up after themselves.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// isMount reports whether dir is a mount of the filesystem with magic.
func isMount(dir string, magic int64) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && int64(st.Type) == magic
}

func needRootV1(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if Detect() != Legacy || !isMount(filepath.Join(DefaultRoot, "memory"), unix.CGROUP_SUPER_MAGIC) {
		t.Skip("needs a cgroup v1 memory controller at " + DefaultRoot + "/memory")
	}
}

// hybridRoot is the cgroup2 mount of a hybrid host.
var hybridRoot = filepath.Join(DefaultRoot, "unified")

func needRootHybridV2(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if !isMount(hybridRoot, unix.CGROUP2_SUPER_MAGIC) {
		t.Skip("needs a cgroup2 hierarchy at " + hybridRoot)
	}
}

func testCgroupName() string {
	return fmt.Sprintf("berth-test-%d-%d", os.Getpid(), time.Now().UnixNano())
}

// syncBuffer collects a child's output safely while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gatedChild is a shell that waits for a line on stdin before it runs
// script, so the test can move it into a cgroup first.
type gatedChild struct {
	cmd  *exec.Cmd
	gate io.WriteCloser
	out  *syncBuffer
	done chan struct{} // closed when the child has been waited for
}

func startGated(t *testing.T, script string) *gatedChild {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("needs sh:", err)
	}
	c := &gatedChild{cmd: exec.Command(sh, "-c", "read x; "+script), out: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if c.gate, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	return c
}

func (c *gatedChild) open(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(c.gate, "go\n"); err != nil {
		t.Fatal(err)
	}
}

func (c *gatedChild) stop() {
	_ = c.cmd.Process.Kill()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
}

func (c *gatedChild) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("child did not exit; output so far: %s", c.out)
	}
}

// procState returns the state letter of /proc/<pid>/stat.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "?"
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPath(t *testing.T, dir, name string) string {
	t.Helper()
	s, err := readFile(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRealV1Lifecycle(t *testing.T) {
	needRootV1(t)
	m, err := New(testCgroupName(), "ignored")
	if err != nil {
		t.Fatal(err)
	}
	child := startGated(t, "exec sleep 60")
	t.Cleanup(func() {
		_ = m.Thaw()
		child.stop()
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	pid := child.cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	for _, c := range []string{"memory", "pids", "freezer", "cpuset", "devices"} {
		if paths[c] == "" {
			t.Fatalf("Paths() has no %s: %v", c, paths)
		}
	}
	cpuset := paths["cpuset"]
	if readPath(t, cpuset, "cpuset.cpus") == "" || readPath(t, cpuset, "cpuset.mems") == "" {
		t.Error("cpuset.cpus/mems not copied from the parent")
	}
	// Let the shell exec sleep inside the cgroup, so that its memory is
	// charged there.
	child.open(t)
	waitFor(t, "sleep to start", func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		return strings.TrimSpace(string(b)) == "sleep"
	})

	const mib = 1 << 20
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr[int64](8 * mib), Swap: ptr[int64](8 * mib)},
		Pids:   &specs.LinuxPids{Limit: ptr[int64](32)},
		CPU:    &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000)},
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
			{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](5), Access: "rwm"},
		},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	mem := paths["memory"]
	check := func(dir, file, want string) {
		t.Helper()
		if got := readPath(t, dir, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	check(mem, "memory.limit_in_bytes", strconv.Itoa(8*mib))
	if exists(mem, "memory.memsw.limit_in_bytes") {
		check(mem, "memory.memsw.limit_in_bytes", strconv.Itoa(8*mib))
	}
	check(paths["pids"], "pids.max", "32")
	check(paths["cpu"], "cpu.shares", "512")
	check(paths["cpu"], "cpu.cfs_quota_us", "50000")
	check(paths["devices"], "devices.list", "c 1:3 rwm\nc 1:5 rwm")

	// Live updates in both directions exercise the memsw write order.
	for _, limit := range []int64{6 * mib, 16 * mib} {
		up := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(limit), Swap: ptr(2 * limit)}}
		if !exists(mem, "memory.memsw.limit_in_bytes") {
			up.Memory.Swap = ptr(limit)
		}
		if err := m.Set(up); err != nil {
			t.Fatalf("update memory to %d: %v", limit, err)
		}
		check(mem, "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
		if exists(mem, "memory.memsw.limit_in_bytes") {
			check(mem, "memory.memsw.limit_in_bytes", strconv.FormatInt(2*limit, 10))
		}
	}
	// Re-applying the same devices writes nothing that could cut access.
	if err := m.Set(&specs.LinuxResources{Devices: r.Devices}); err != nil {
		t.Fatal(err)
	}
	check(paths["devices"], "devices.list", "c 1:3 rwm\nc 1:5 rwm")

	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, pid) {
		t.Errorf("Pids() = %v, %v; want it to contain %d", pids, err, pid)
	}

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Errorf("Frozen() = %v, %v after Freeze", frozen, err)
	}
	check(paths["freezer"], "freezer.state", "FROZEN")
	t.Logf("state of the frozen child: %s", procState(pid))
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Errorf("Frozen() = %v, %v after Thaw", frozen, err)
	}
	waitFor(t, "the thawed child to sleep", func() bool { return procState(pid) == "S" })

	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Usage == 0 || st.Memory.Usage.Limit != 16*mib {
		t.Errorf("memory stats = %+v", st.Memory.Usage)
	}
	if st.Pids.Current != 1 || st.Pids.Limit != 32 {
		t.Errorf("pids stats = %+v", st.Pids)
	}
	if st.CPU.Usage.Total == 0 {
		t.Errorf("cpu stats = %+v", st.CPU.Usage)
	}

	child.stop()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for c, dir := range paths {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s cgroup %s still exists after Destroy: %v", c, dir, err)
		}
	}
	if m.Exists() {
		t.Error("Exists() after Destroy")
	}
}

// TestRealV1Devices checks that the devices cgroup really stops a process.
func TestRealV1Devices(t *testing.T) {
	needRootV1(t)
	if !isMount(filepath.Join(DefaultRoot, "devices"), unix.CGROUP_SUPER_MAGIC) {
		t.Skip("needs the cgroup v1 devices controller")
	}
	m, err := New("/"+testCgroupName(), "ignored")
	if err != nil {
		t.Fatal(err)
	}
	child := startGated(t, "exec 3</dev/null && echo null-ok; exec 4</dev/zero && echo zero-ok")
	t.Cleanup(func() {
		child.stop()
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	if err := m.Apply(child.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
	}}); err != nil {
		t.Fatal(err)
	}
	child.open(t)
	child.wait(t)
	out := child.out.String()
	if !strings.Contains(out, "null-ok") || strings.Contains(out, "zero-ok") {
		t.Errorf("child output %q: want /dev/null allowed and /dev/zero denied", out)
	}
}
