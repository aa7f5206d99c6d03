package cgroup

// Real cgroup v2 tests. On a hybrid host they use the controller-less
// cgroup2 hierarchy at /sys/fs/cgroup/unified, which still has the core
// files (cgroup.procs, cgroup.freeze, cgroup.events) and takes eBPF device
// filters.

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// restoreSubtreeControl undoes, at cleanup, controllers that the test's
// Apply enabled in the hierarchy root.
func restoreSubtreeControl(t *testing.T, root string) {
	t.Helper()
	before, err := readFile(root, "cgroup.subtree_control")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		after, _ := readFile(root, "cgroup.subtree_control")
		for _, c := range strings.Fields(after) {
			if !slices.Contains(strings.Fields(before), c) {
				if err := writeFile(root, "cgroup.subtree_control", "-"+c); err != nil {
					t.Logf("restore %s/cgroup.subtree_control: %v", root, err)
				}
			}
		}
	})
}

func TestRealV2HybridLifecycle(t *testing.T) {
	needRootHybridV2(t)
	restoreSubtreeControl(t, hybridRoot)
	m, err := NewAt(hybridRoot, Unified, "/"+testCgroupName()+"/ctr", "ignored")
	if err != nil {
		t.Fatal(err)
	}
	parent := m.Paths()[""][:strings.LastIndexByte(m.Paths()[""], '/')]
	child := startGated(t, "exec sleep 60")
	t.Cleanup(func() {
		_ = m.Thaw()
		child.stop()
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		_ = unix.Rmdir(parent)
	})
	pid := child.cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	child.open(t)
	waitFor(t, "sleep to start", func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		return strings.TrimSpace(string(b)) == "sleep"
	})
	f, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own, err := ParseProcCgroup(strings.NewReader(string(f)))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(m.Paths()[""], hybridRoot); own[""] != want {
		t.Errorf("child's cgroup2 path = %q, want %q", own[""], want)
	}
	if pids, err := m.Pids(); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids() = %v, %v; want [%d]", pids, err, pid)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Errorf("Frozen() = %v, %v after Freeze", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Errorf("Frozen() = %v, %v after Thaw", frozen, err)
	}
	if _, err := m.Stats(); err != nil {
		t.Errorf("Stats(): %v", err)
	}
	child.stop()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Error("Exists() after Destroy")
	}
}

// loadable skips the test when this kernel or process cannot load a
// cgroup device program at all.
func loadable(t *testing.T) {
	t.Helper()
	insts, err := deviceFilter(nil)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.CGroupDevice, Instructions: insts, License: "Apache"})
	if err != nil {
		t.Skipf("cannot load a cgroup device program here: %v", err)
	}
	prog.Close()
}

// TestDeviceFilterLoads has the kernel verifier check programs for many
// rule sets.
func TestDeviceFilterLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load eBPF programs")
	}
	loadable(t)
	rng := rand.New(rand.NewPCG(3, 4))
	majors := []int64{wildcard, 1, 4095}
	minors := []int64{wildcard, 3, 1<<20 - 1}
	loaded := 0
	for range 60 {
		var rules []specs.LinuxDeviceCgroup
		for range rng.IntN(12) {
			rules = append(rules, dev(rng.IntN(2) == 0, []string{"a", "b", "c"}[rng.IntN(3)],
				majors[rng.IntN(3)], minors[rng.IntN(3)], access(1+rng.IntN(7)).String()))
		}
		insts, err := deviceFilter(rules)
		if err != nil {
			continue
		}
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.CGroupDevice, Instructions: insts, License: "Apache"})
		if err != nil {
			t.Fatalf("rules %v: load: %v\n%v", rules, err, insts)
		}
		prog.Close()
		loaded++
	}
	if loaded < 20 {
		t.Errorf("only %d programs loaded", loaded)
	}
}

func TestRealV2DeviceFilter(t *testing.T) {
	needRootHybridV2(t)
	loadable(t)
	restoreSubtreeControl(t, hybridRoot)
	m, err := NewAt(hybridRoot, Unified, "/"+testCgroupName(), "ignored")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	run := func(rules []specs.LinuxDeviceCgroup) string {
		t.Helper()
		if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
			t.Fatal(err)
		}
		child := startGated(t, "exec 3</dev/null && echo null-ok; exec 4</dev/zero && echo zero-ok")
		defer child.stop()
		if err := m.Apply(child.cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		child.open(t)
		child.wait(t)
		return child.out.String()
	}
	nullOnly := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
	}
	if out := run(nullOnly); !strings.Contains(out, "null-ok") || strings.Contains(out, "zero-ok") {
		t.Errorf("child output %q: want /dev/null allowed and /dev/zero denied", out)
	}
	// An update replaces the filter instead of stacking another one.
	both := append(slices.Clone(nullOnly), specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](5), Access: "r"})
	if out := run(both); !strings.Contains(out, "null-ok") || !strings.Contains(out, "zero-ok") {
		t.Errorf("child output %q after update: want /dev/null and /dev/zero allowed", out)
	}
	fd, err := unix.Open(m.Paths()[""], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	res, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Programs) != 1 {
		t.Errorf("%d device programs attached after an update, want 1", len(res.Programs))
	}
}
