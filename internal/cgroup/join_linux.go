package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Join is what a new process needs to start inside a container's cgroup
// without another process moving it there.
//
// Moving a process by pid (a write to cgroup.procs) takes the kernel's
// global threadgroup lock for writing, and that waits for an RCU grace
// period: 10 ms and more, most of a container's start. Two moves avoid
// it. On cgroup2, clone3's CLONE_INTO_CGROUP creates the process in its
// cgroup (Dir). On v1 hierarchies, a thread that moves only itself, by
// writing "0" to the hierarchy's tasks file, needs no such lock; while a
// process is still single-threaded that moves all of it (Tasks).
type Join struct {
	// Dir is the cgroup2 directory, nil when there is no cgroup2
	// hierarchy.
	Dir *os.File
	// Tasks are the v1 hierarchies' tasks files, opened for writing.
	Tasks []*os.File
	// Memory is the tasks file of the v1 hierarchy that has the memory
	// controller, kept apart from Tasks: the init joins it only once its
	// own Go runtime is running, so that the runtime's few megabytes are
	// not charged to the container. Under a small limit (Docker's minimum
	// is 6 MiB) they would get the init killed before it starts the
	// container's process. Charges made before a v1 move stay where they
	// were made.
	Memory *os.File
}

// OpenJoin opens the container's cgroup directories, which must exist,
// for a new process to join. The caller closes the result.
func (m *Manager) OpenJoin() (*Join, error) {
	j := &Join{}
	for _, d := range m.dirs {
		if d.unified() {
			f, err := os.OpenFile(d.dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				j.Close()
				return nil, fmt.Errorf("open cgroup: %w", err)
			}
			j.Dir = f
			continue
		}
		f, err := os.OpenFile(filepath.Join(d.dir, "tasks"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			j.Close()
			return nil, fmt.Errorf("open cgroup: %w", err)
		}
		if d.has("memory") {
			j.Memory = f
			continue
		}
		j.Tasks = append(j.Tasks, f)
	}
	if j.Dir == nil && len(j.Tasks) == 0 && j.Memory == nil {
		return nil, errors.New("open cgroup: no cgroup hierarchy is mounted")
	}
	return j, nil
}

// Close closes every file of j.
func (j *Join) Close() {
	if j.Dir != nil {
		j.Dir.Close()
	}
	for _, f := range j.Tasks {
		f.Close()
	}
	if j.Memory != nil {
		j.Memory.Close()
	}
}
