package cgroup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestApplyV2EnablesControllers(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{
		"cgroup.controllers":       "cpuset cpu io memory hugetlb pids rdma misc\n",
		"cgroup.subtree_control":   "cpu memory\n",
		"a/cgroup.controllers":     "cpu io memory pids\n",
		"a/cgroup.subtree_control": "",
		"a/b/cgroup.procs":         "",
	})
	m := newFake(t, root, Unified, "/a/b", nil)
	if err := m.Apply(4321); err != nil {
		t.Fatal(err)
	}
	if got := readFake(t, root, "cgroup.subtree_control"); got != "+cpuset +io +hugetlb +pids +rdma +misc" {
		t.Errorf("root subtree_control = %q", got)
	}
	if got := readFake(t, root, "a/cgroup.subtree_control"); got != "+cpu +io +memory +pids" {
		t.Errorf("a subtree_control = %q", got)
	}
	if got := readFake(t, root, "a/b/cgroup.procs"); got != "4321" {
		t.Errorf("cgroup.procs = %q", got)
	}
	if !m.Exists() {
		t.Error("Exists() = false after Apply")
	}
}

func TestApplyV1CopiesCpuset(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{
		"cpuset/cpuset.cpus":       "0-3\n",
		"cpuset/cpuset.mems":       "0\n",
		"cpuset/x/cpuset.cpus":     "",
		"cpuset/x/cpuset.mems":     "",
		"cpuset/x/y/cpuset.cpus":   "",
		"cpuset/x/y/cpuset.mems":   "",
		"cpuset/x/y/cgroup.procs":  "",
		"memory/x/y/cgroup.procs":  "",
		"systemd/x/y/cgroup.procs": "",
	})
	m := newFake(t, root, Legacy, "/x/y", nil)
	if err := m.Apply(99); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cpuset/x", "cpuset/x/y"} {
		if got := readFake(t, root, p+"/cpuset.cpus"); got != "0-3" {
			t.Errorf("%s/cpuset.cpus = %q", p, got)
		}
		if got := readFake(t, root, p+"/cpuset.mems"); got != "0" {
			t.Errorf("%s/cpuset.mems = %q", p, got)
		}
	}
	for _, p := range []string{"cpuset", "memory", "systemd"} {
		if got := readFake(t, root, p+"/x/y/cgroup.procs"); got != "99" {
			t.Errorf("%s cgroup.procs = %q", p, got)
		}
	}
}

func TestApplyWithoutPidOnlyCreates(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{"memory/": "", "pids/": ""})
	m := newFake(t, root, Legacy, "/a/b", nil)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"memory/a/b", "pids/a/b"} {
		if fi, err := os.Stat(filepath.Join(root, p)); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", p, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Error("Exists() after Destroy")
	}
	if _, err := os.Stat(filepath.Join(root, "memory/a")); err != nil {
		t.Error("Destroy removed the parent cgroup too")
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestDestroyRemovesChildrenAndKeepsRoot(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{"c/sub/deeper/": "", "c/other/": ""})
	if err := newFake(t, root, Unified, "/c", nil).Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "c")); !os.IsNotExist(err) {
		t.Errorf("c still there: %v", err)
	}
	if err := newFake(t, root, Unified, "/", nil).Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("Destroy of cgroupsPath / removed the hierarchy root: %v", err)
	}
}

func TestPidsRecursive(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{
		"c/cgroup.procs":          "30\n10\n",
		"c/sub/cgroup.procs":      "20\n",
		"c/sub/leaf/cgroup.procs": "10\n40\n",
		"c/empty/":                "",
	})
	got, err := newFake(t, root, Unified, "/c", nil).Pids()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{10, 20, 30, 40}) {
		t.Errorf("Pids() = %v", got)
	}
	fakeTree(t, root, map[string]string{"c/bad/cgroup.procs": "x\n"})
	if _, err := newFake(t, root, Unified, "/c", nil).Pids(); err == nil {
		t.Error("Pids() with a malformed cgroup.procs: want error")
	}
}

func TestFreezeV1Fake(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{"freezer/c/freezer.state": "THAWED\n"})
	m := newFake(t, root, Legacy, "/c", nil)
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() = %v, %v after Freeze", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, _ := m.Frozen(); frozen {
		t.Fatal("Frozen() after Thaw")
	}

	noFreezer := t.TempDir()
	fakeTree(t, noFreezer, map[string]string{"memory/c/": ""})
	if err := newFake(t, noFreezer, Legacy, "/c", nil).Freeze(); err == nil || !strings.Contains(err.Error(), "freezer") {
		t.Errorf("Freeze without freezer = %v", err)
	}
}

// TestFreezeV2Fake plays the kernel: it flips cgroup.events a little after
// cgroup.freeze is written, so Freeze and Thaw have to wait for it.
func TestFreezeV2Fake(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{"c/cgroup.freeze": "0\n", "c/cgroup.events": "populated 1\nfrozen 0\n"})
	m := newFake(t, root, Unified, "/c", nil)
	events := filepath.Join(root, "c/cgroup.events")
	flip := func(val string) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(30 * time.Millisecond)
			if err := os.WriteFile(events, []byte("populated 1\nfrozen "+val+"\n"), 0o644); err != nil {
				t.Error(err)
			}
		}()
		return done
	}
	done := flip("1")
	start := time.Now()
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	<-done
	if time.Since(start) < 25*time.Millisecond {
		t.Error("Freeze returned before cgroup.events said frozen")
	}
	if readFake(t, root, "c/cgroup.freeze") != "1" {
		t.Error("cgroup.freeze not written")
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() = %v, %v", frozen, err)
	}
	done = flip("0")
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	<-done
	if frozen, _ := m.Frozen(); frozen {
		t.Error("Frozen() after Thaw")
	}
}

func TestFreezeV2Timeout(t *testing.T) {
	old := freezeTimeout
	freezeTimeout = 50 * time.Millisecond
	t.Cleanup(func() { freezeTimeout = old })
	root := t.TempDir()
	fakeTree(t, root, map[string]string{"c/cgroup.freeze": "0\n", "c/cgroup.events": "frozen 0\n"})
	m := newFake(t, root, Unified, "/c", nil)
	if err := m.Freeze(); err == nil || !strings.Contains(err.Error(), "frozen 0") {
		t.Fatalf("Freeze() = %v, want timeout", err)
	}
	if got := readFake(t, root, "c/cgroup.freeze"); got != "0" {
		t.Errorf("after a failed freeze cgroup.freeze = %q, want 0", got)
	}
}
