//go:build cgo

package seccomp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Loading a filter cannot be undone, so the tests that load one re-execute
// the test binary in a child mode, configured through these variables.
const (
	childEnv  = "BERTH_SECCOMP_TEST_CHILD"  // the LinuxSeccomp JSON to load
	probesEnv = "BERTH_SECCOMP_TEST_PROBES" // comma-separated probes to run after Load
	dirEnv    = "BERTH_SECCOMP_TEST_DIR"    // a scratch directory for mkdir
	noNNPEnv  = "BERTH_SECCOMP_TEST_NO_NNP" // "1": do not set no_new_privs first
)

const prSetNoNewPrivs, prGetNoNewPrivs = 38, 39

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain loads the filter and prints one "probe=result" line per probe.
// A result is the errno a syscall failed with (0 for success) or, for the
// value probes, the value.
func childMain() int {
	var s specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &s); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad config:", err)
		return 2
	}
	// The filter belongs to this thread (and, by TSYNC, to all others).
	runtime.LockOSThread()
	// A thread that exists before Load: TSYNC must reach it too.
	other := startThread()
	// KILL_PROCESS tests must not leave core files behind.
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	if os.Getenv(noNNPEnv) != "1" {
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); e != 0 {
			fmt.Fprintln(os.Stderr, "child: set no_new_privs:", e)
			return 2
		}
	}

	fd, err := Load(&s)
	if err != nil {
		fmt.Printf("loaderr=%v\n", err)
		return 3
	}
	fmt.Printf("load=%d\n", fd)
	nnp, _, _ := syscall.RawSyscall(syscall.SYS_PRCTL, prGetNoNewPrivs, 0, 0)
	fmt.Printf("nnp=%d\n", nnp)
	if fd >= 0 {
		link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		fmt.Printf("fdlink=%s%v\n", link, errOrEmpty(err))
		flags, _, _ := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		fmt.Printf("fdcloexec=%d\n", flags&syscall.FD_CLOEXEC)
	}

	for _, p := range strings.Split(os.Getenv(probesEnv), ",") {
		if p == "" {
			continue
		}
		var res string
		if name, ok := strings.CutPrefix(p, "other:"); ok {
			other.run(func() { res = runProbe(name, fd) })
			if other.tid == syscall.Gettid() {
				res = "same thread"
			}
		} else {
			res = runProbe(p, fd)
		}
		fmt.Printf("%s=%s\n", p, res)
	}
	return 0
}

func errOrEmpty(err error) any {
	if err == nil {
		return ""
	}
	return err
}

// runProbe runs one probe; see the cases for the syntax.
func runProbe(p string, listener int) string {
	f := strings.Split(p, ":")
	num := func(i int) uintptr {
		n, _ := strconv.ParseUint(f[i], 0, 64)
		return uintptr(n)
	}
	errno := func(e syscall.Errno) string { return strconv.Itoa(int(e)) }
	switch f[0] {
	case "mkdir":
		return errno(toErrno(syscall.Mkdir(filepath.Join(os.Getenv(dirEnv), "d"), 0o700)))
	case "getcwd":
		_, err := syscall.Getcwd(make([]byte, 4096))
		return errno(toErrno(err))
	case "uname":
		var u syscall.Utsname
		return errno(toErrno(syscall.Uname(&u)))
	case "personality": // personality:PERSONA
		_, _, e := syscall.RawSyscall(syscall.SYS_PERSONALITY, num(1), 0, 0)
		return errno(e)
	case "close": // close:FD
		_, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, num(1), 0, 0)
		return errno(e)
	case "dup3": // dup3:OLDFD:NEWFD
		_, _, e := syscall.RawSyscall(syscall.SYS_DUP3, num(1), num(2), 0)
		return errno(e)
	case "notify-getppid":
		return notifyGetppid(listener)
	}
	return "unknown probe " + p
}

func toErrno(err error) syscall.Errno {
	var e syscall.Errno
	if err == nil || !errors.As(err, &e) {
		return 0
	}
	return e
}

// notifyGetppid calls getppid on one thread and answers the notification
// on another, returning what getppid returned.
func notifyGetppid(listener int) string {
	got := make(chan uintptr, 1)
	go func() {
		runtime.LockOSThread()
		r, _, _ := syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0)
		got <- r
	}()
	req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(listener))
	if err != nil {
		return "receive: " + err.Error()
	}
	if name, _ := req.Data.Syscall.GetName(); name != "getppid" {
		return "notified for " + name
	}
	resp := libseccomp.ScmpNotifResp{ID: req.ID, Val: 4242}
	if err := libseccomp.NotifRespond(libseccomp.ScmpFd(listener), &resp); err != nil {
		return "respond: " + err.Error()
	}
	return strconv.Itoa(int(<-got))
}

// thread is a goroutine locked to its own OS thread, started before Load.
type thread struct {
	work chan func()
	tid  int
}

func startThread() *thread {
	th := &thread{work: make(chan func())}
	ready := make(chan int)
	go func() {
		runtime.LockOSThread()
		ready <- syscall.Gettid()
		for f := range th.work {
			f()
		}
	}()
	th.tid = <-ready
	return th
}

func (th *thread) run(f func()) {
	done := make(chan struct{})
	th.work <- func() { f(); close(done) }
	<-done
}

// child is what a child run left behind.
type child struct {
	out    map[string]string
	stdout string
	stderr string
	status syscall.WaitStatus
}

func runChild(t *testing.T, s specs.LinuxSeccomp, extraEnv []string, probes ...string) child {
	t.Helper()
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), childEnv+"="+string(js), probesEnv+"="+strings.Join(probes, ","), dirEnv+"="+t.TempDir())
	cmd.Env = append(cmd.Env, extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run child: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("child timed out; stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	}
	c := child{out: map[string]string{}, stdout: stdout.String(), stderr: stderr.String(),
		status: cmd.ProcessState.Sys().(syscall.WaitStatus)}
	for _, line := range strings.Split(c.stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			c.out[k] = v
		}
	}
	return c
}

// expect checks the child loaded its filter, exited 0, and that each
// key=value pair in want is in its output.
func (c child) expect(t *testing.T, want ...string) {
	t.Helper()
	if !c.status.Exited() || c.status.ExitStatus() != 0 {
		t.Fatalf("child status %v; stdout:\n%s\nstderr:\n%s", c.status, c.stdout, c.stderr)
	}
	for _, kv := range want {
		k, v, _ := strings.Cut(kv, "=")
		if got, ok := c.out[k]; !ok || got != v {
			t.Errorf("%s = %q, want %q; stdout:\n%s", k, got, v, c.stdout)
		}
	}
}

func errnoStr(e syscall.Errno) string { return strconv.Itoa(int(e)) }
