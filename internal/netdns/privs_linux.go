package netdns

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A server needs no privilege once its sockets are bound: it reads the
// records files, which are world-readable in directories its user (root)
// owns, writes its log on a descriptor it inherits, and forwards queries
// through sockets any user may open. So the command that starts it binds
// port 53 itself and hands the sockets over, and the server runs with no
// capability at all and no way to gain one (no_new_privs).
//
// Capabilities belong to threads, and a Go process has many, so a server
// could not drop them from all its threads once running (the runtime's
// way, AllThreadsSyscall, is not there in a binary that uses cgo).
// Instead the server is started from a thread of its own, which gives up
// every capability it could pass on before it executes the server: an
// empty bounding set, no inheritable or ambient capabilities, and
// no_new_privs. A root process that executes a program gets no more
// capabilities than its bounding set, so the server starts with none.
// That thread is never given back to the Go runtime, which ends it.

// startUnprivileged starts cmd from a new thread in the network namespace
// of the calling thread, with no capabilities to pass on.
func startUnprivileged(cmd *exec.Cmd) error {
	netns, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer netns.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if !sameFile(netns, "/proc/thread-self/ns/net") {
			if err := unix.Setns(int(netns.Fd()), unix.CLONE_NEWNET); err != nil {
				errc <- fmt.Errorf("join the network namespace: %w", err)
				return
			}
		}
		if err := dropThreadPrivileges(); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// sameFile says whether f and path are one file.
func sameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat(path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

// dropThreadPrivileges empties the calling thread's bounding, inheritable
// and ambient sets and sets no_new_privs: what a program it executes
// gets. Its own effective and permitted sets stay, which dropping the
// bounding set needs.
func dropThreadPrivileges() error {
	for n := 0; n <= lastCap(); n++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d from the bounding set: %w", n, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear inheritable capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

// lastCap is the highest capability the kernel knows.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 63
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 63
	}
	return n
}
