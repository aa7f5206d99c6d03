package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Controllers are the cgroup2 controllers Apply enables for the
// container's cgroup when the parent offers them.
var v2Controllers = []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}

// Apply creates the container's cgroup in every hierarchy and moves pid
// into it. A pid below 1 only creates the cgroup. In v1 the cpuset
// directories get their parent's cpus and mems, which a new cpuset cgroup
// lacks; in v2 the available controllers are enabled in the
// cgroup.subtree_control of every ancestor.
func (m *Manager) Apply(pid int) error {
	for _, d := range m.dirs {
		var err error
		switch {
		case d.unified():
			err = createV2(d.mount, d.dir, m.mode == Unified)
		case d.has("cpuset"):
			err = createCpuset(d.mount, d.dir)
		default:
			err = os.MkdirAll(d.dir, 0o755)
		}
		if err != nil {
			return fmt.Errorf("create cgroup %s: %w", d.dir, err)
		}
		if pid > 0 {
			if err := writeFile(d.dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
				return fmt.Errorf("add pid %d to cgroup: %w", pid, err)
			}
		}
	}
	return nil
}

// createV2 makes dir below mount, enabling controllers on the way down
// when enable is set (the hybrid cgroup2 hierarchy has none to enable).
func createV2(mount, dir string, enable bool) error {
	rel, err := filepath.Rel(mount, dir)
	if err == nil && rel == "." {
		return nil
	}
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("cgroup %s is not below %s", dir, mount)
	}
	cur := mount
	for _, elem := range strings.Split(rel, "/") {
		if enable {
			if err := enableControllers(cur); err != nil {
				return err
			}
		}
		cur = filepath.Join(cur, elem)
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// enableControllers enables in dir's cgroup.subtree_control every
// controller of v2Controllers that dir offers and has not enabled yet.
// When the combined write fails (a controller may refuse, for example
// because dir has processes of its own), each is tried alone and failures
// are left for Set to report against the file that is missing.
func enableControllers(dir string) error {
	avail, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("enable controllers: %w", err)
	}
	enabled, _ := readFile(dir, "cgroup.subtree_control")
	have := strings.Fields(enabled)
	var want []string
	for _, c := range strings.Fields(avail) {
		if slices.Contains(v2Controllers, c) && !slices.Contains(have, c) {
			want = append(want, "+"+c)
		}
	}
	if len(want) == 0 {
		return nil
	}
	if writeFile(dir, "cgroup.subtree_control", strings.Join(want, " ")) == nil {
		return nil
	}
	for _, w := range want {
		_ = writeFile(dir, "cgroup.subtree_control", w)
	}
	return nil
}

// createCpuset makes a v1 cpuset cgroup and every missing ancestor,
// copying cpuset.cpus and cpuset.mems from the parent when they are empty:
// a task cannot join a cpuset cgroup without cpus and mems.
func createCpuset(mount, dir string) error {
	if filepath.Clean(dir) == filepath.Clean(mount) {
		return nil
	}
	if !strings.HasPrefix(dir, mount+"/") {
		return fmt.Errorf("cgroup %s is not below %s", dir, mount)
	}
	parent := filepath.Dir(dir)
	if err := createCpuset(mount, parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, name := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readFile(dir, name)
		if err != nil {
			return fmt.Errorf("copy %s from parent: %w", name, err)
		}
		if cur != "" {
			continue
		}
		val, err := readFile(parent, name)
		if err != nil {
			return fmt.Errorf("copy %s from parent: %w", name, err)
		}
		if err := writeFile(dir, name, val); err != nil {
			return fmt.Errorf("copy %s from parent: %w", name, err)
		}
	}
	return nil
}

// Set applies resource limits. It only writes the fields that are set, so
// it serves both container creation and a live update. A nil r does
// nothing. Devices are applied only when r.Devices is non-nil; then the
// list is the whole policy on top of "deny everything".
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if m.mode == Unified {
		return m.setV2(r)
	}
	return m.setV1(r)
}

// Destroy removes the container's cgroup, and any cgroups below it, from
// every hierarchy. The cgroups must hold no processes; removal is retried
// for a short while as the kernel may report EBUSY just after the last
// process exits. A cgroup that is already gone is not an error.
func (m *Manager) Destroy() error {
	var errs []error
	for _, d := range m.dirs {
		if filepath.Clean(d.dir) == filepath.Clean(d.mount) {
			continue // never remove a hierarchy root
		}
		if err := removeTree(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}

// removeTree removes the cgroup dir after its child cgroups.
func removeTree(dir string) error {
	// Most have none: an rmdir tells, without reading the directory.
	// A cgroup with children, or with processes still on their way
	// out, is busy (a directory that is not a cgroup is not empty).
	switch err := unix.Rmdir(dir); err {
	case nil, unix.ENOENT:
		return nil
	case unix.EBUSY, unix.ENOTEMPTY, unix.EEXIST:
	default:
		return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := time.Millisecond
	for deadline := time.Now().Add(2 * time.Second); ; {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// primaryDir is the directory whose cgroup.procs lists the container's
// processes: the cgroup2 one in Unified mode, else the first mounted of a
// few v1 controllers that every container uses.
func (m *Manager) primaryDir() (string, error) {
	if m.mode == Unified {
		if dir, ok := m.unifiedDir(); ok {
			return dir, nil
		}
	}
	for _, c := range []string{"pids", "freezer", "memory", "devices", "cpu", "name=systemd"} {
		if dir, ok := m.controllerDir(c); ok {
			return dir, nil
		}
	}
	if len(m.dirs) > 0 {
		return m.dirs[0].dir, nil
	}
	return "", errors.New("no cgroup hierarchy")
}

// Pids lists the processes in the container's cgroup and in every cgroup
// below it, sorted.
func (m *Manager) Pids() ([]int, error) {
	dir, err := m.primaryDir()
	if err != nil {
		return nil, fmt.Errorf("list cgroup pids: %w", err)
	}
	var pids []int
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // a child cgroup went away while walking
			}
			return err
		}
		if !e.IsDir() {
			return nil
		}
		s, err := readFile(p, "cgroup.procs")
		if err != nil {
			return optional(err)
		}
		for _, f := range strings.Fields(s) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("parse %s: %w", filepath.Join(p, "cgroup.procs"), err)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cgroup pids: %w", err)
	}
	slices.Sort(pids)
	return slices.Compact(pids), nil
}
