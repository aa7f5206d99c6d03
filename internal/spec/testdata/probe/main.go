// Command probe makes the syscalls named on its command line, one at a
// time, and prints "name=errno" for each, 0 for success. The seccomp
// tests copy it, built static, into a container's root filesystem and
// read which calls the container's filter let through.
package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ADDR_NO_RANDOMIZE, a personality flag that turns off ASLR.
const addrNoRandomize = 0x0040000

// Keyring ids are negative; held in variables they convert to uintptr.
var sessionKeyring, processKeyring int64 = unix.KEY_SPEC_SESSION_KEYRING, unix.KEY_SPEC_PROCESS_KEYRING

func main() {
	for _, name := range os.Args[1:] {
		fmt.Printf("%s=%d\n", name, int(probe(name)))
	}
}

// cstr returns s as a C string; callers convert it to uintptr in the
// syscall's argument list, which keeps it alive for the call.
func cstr(s string) unsafe.Pointer {
	p, err := syscall.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return unsafe.Pointer(p)
}

func probe(name string) syscall.Errno {
	var e syscall.Errno
	switch name {
	case "keyctl":
		_, _, e = syscall.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(sessionKeyring), 1)
	case "add_key":
		payload := []byte("x")
		_, _, e = syscall.Syscall6(unix.SYS_ADD_KEY, uintptr(cstr("user")), uintptr(cstr("berth-probe")),
			uintptr(unsafe.Pointer(&payload[0])), 1, uintptr(processKeyring), 0)
	case "request_key":
		_, _, e = syscall.Syscall6(unix.SYS_REQUEST_KEY, uintptr(cstr("user")), uintptr(cstr("berth-probe-none")), 0, 0, 0, 0)
	case "clone3":
		// A size of 0 is invalid: without a filter clone3 says EINVAL.
		_, _, e = syscall.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	case "clone-newuser":
		e = cloneExit(syscall.CLONE_NEWUSER | uintptr(syscall.SIGCHLD))
	case "clone":
		e = cloneExit(uintptr(syscall.SIGCHLD))
	case "personality-query":
		_, _, e = syscall.RawSyscall(syscall.SYS_PERSONALITY, 0xffffffff, 0, 0)
	case "personality-noaslr":
		_, _, e = syscall.RawSyscall(syscall.SYS_PERSONALITY, addrNoRandomize, 0, 0)
	case "socket-vsock":
		fd, _, err := syscall.RawSyscall(syscall.SYS_SOCKET, unix.AF_VSOCK, syscall.SOCK_STREAM, 0)
		if e = err; e == 0 {
			syscall.Close(int(fd))
		}
	case "socket-unix":
		fd, _, err := syscall.RawSyscall(syscall.SYS_SOCKET, syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if e = err; e == 0 {
			syscall.Close(int(fd))
		}
	case "io_uring_setup":
		_, _, e = syscall.RawSyscall(unix.SYS_IO_URING_SETUP, 1, 0, 0)
	case "mount":
		// The target does not exist: where mount is allowed, it fails
		// with ENOENT and changes nothing.
		_, _, e = syscall.RawSyscall6(syscall.SYS_MOUNT, uintptr(cstr("none")), uintptr(cstr("/berth-probe-no-such-dir")),
			uintptr(cstr("tmpfs")), 0, 0, 0)
	case "chroot":
		_, _, e = syscall.RawSyscall(syscall.SYS_CHROOT, uintptr(cstr("/")), 0, 0)
	default:
		fmt.Fprintln(os.Stderr, "probe: unknown probe", name)
		os.Exit(2)
	}
	return e
}

// cloneExit forks with flags; the child exits at once and the parent
// waits for it.
func cloneExit(flags uintptr) syscall.Errno {
	pid, _, e := syscall.RawSyscall(syscall.SYS_CLONE, flags, 0, 0)
	if e != 0 {
		return e
	}
	if pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(int(pid), &ws, 0, nil); err != nil {
		return err.(syscall.Errno)
	}
	return 0
}
