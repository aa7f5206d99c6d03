package container

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// initArg is argv[1] of berth when it runs as a container's init.
const initArg = "__init"

// Environment variables that carry file descriptor numbers to the init.
const (
	envSyncFD    = "_BERTH_SYNC_FD"
	envFifoFD    = "_BERTH_FIFO_FD"
	envConsoleFD = "_BERTH_CONSOLE_FD"
	// envCgroupTasks lists cgroup v1 tasks files for nsenter.c to write
	// "0" to, before the init has a second thread.
	envCgroupTasks = "_BERTH_CGROUP_TASKS"
	// envCgroupMemory is the v1 memory hierarchy's tasks file, which
	// the init writes "0" to itself, late (cgroup.Join.Memory).
	envCgroupMemory = "_BERTH_CGROUP_MEMORY"
)

// IsInit reports whether this process was started as a container's init;
// cmd/berth checks it before anything else.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == initArg && os.Getenv(envSyncFD) != ""
}

// selfExe returns a handle on berth's own binary that no container can
// write through. The init runs inside the container's namespaces, where a
// process of the container can open /proc/PID/exe; if that pointed at the
// writable host binary, root in the container could overwrite berth
// (CVE-2019-5736). So the init is executed from a detached, read-only bind
// mount of the binary (open_tree(2) and mount_setattr(2), Linux 5.12), or,
// where that is refused, from a sealed in-memory copy.
func selfExe() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		if err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err == nil {
			return os.NewFile(uintptr(fd), "berth-init"), nil
		}
		unix.Close(fd)
	}
	return sealedCopy()
}

func sealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("berth-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth-init")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy own binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal copy of own binary: %w", err)
	}
	return f, nil
}

// exeInChild is where the child finds berth's binary: the first of its
// extra files, fd 3. Executing it needs no path on the host, and the
// descriptor cannot be clobbered by the other extra files.
const exeInChild = "/proc/self/fd/3"
