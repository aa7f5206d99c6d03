package monitor

// The C constructor in monitor_linux.c runs before the Go runtime in every
// process of a binary that imports this package; it does nothing unless
// the environment carries _BERTH_MONITOR.

/*
#cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// envMonitor carries the number of the config and status socket.
	envMonitor = "_BERTH_MONITOR"
	// argv0 is the monitor's argv[0]; its argv is "berth-monitor ID".
	argv0 = "berth-monitor"
	// maxStatus bounds what Start reads back from the monitor.
	maxStatus = 64 << 10
)

// ErrNotRunning is returned by Stop when no monitor of that container runs
// with that pid.
var ErrNotRunning = errors.New("monitor is not running")

// Process identifies a started monitor and its container.
type Process struct {
	// PID is the monitor's pid. It is not the caller's child.
	PID int
	// ContainerPID is the container's init, as the start command
	// reported it; it is the monitor's child.
	ContainerPID int
	// Attached is the connection of the client that Options.Attach asked
	// for (see Session); nil without it. The caller closes it.
	Attached *net.UnixConn
}

// StartError is the failure of the start command, when it exited with a
// status: berth's __start exits 126 or 127 when the container's command
// cannot be run, as Docker's run does.
type StartError struct {
	Msg string
	// ExitStatus is the start command's exit status.
	ExitStatus int
}

func (e *StartError) Error() string { return e.Msg }

// Start starts a monitor for opts.ID and returns once the start command has
// started the container, with the container's pid, or with the start
// command's error message (what it wrote to fd 3, else how it exited). The
// monitor runs on after the caller exits; see the package doc for what it
// does.
func Start(opts Options) (Process, error) {
	cfg, err := opts.config()
	if err != nil {
		if opts.Spawn != nil {
			opts.Spawn.Close()
		}
		return Process{}, err
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	clean := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "_BERTH_") {
			clean = append(clean, kv)
		}
	}
	return launch(opts.ID, clean, cfg, opts.Attach, opts.Spawn)
}

// launch executes the monitor with cfg as its config and reads its status;
// with attach, it sends a first client's socket along with the config, and
// then spawn, when not nil.
func launch(id string, env []string, cfg []byte, attach bool, spawn *os.File) (Process, error) {
	var client *net.UnixConn
	var clientEnd *os.File
	if attach {
		var err error
		if client, clientEnd, err = socketPair("attach"); err != nil {
			if spawn != nil {
				spawn.Close()
			}
			return Process{}, fmt.Errorf("monitor attach socket: %w", err)
		}
	}
	var pass []*os.File
	if clientEnd != nil {
		pass = append(pass, clientEnd)
	}
	if spawn != nil {
		pass = append(pass, spawn)
	}
	p, err := launchWith(id, env, cfg, pass)
	if err != nil {
		if client != nil {
			client.Close()
		}
		return p, err
	}
	p.Attached = client
	return p, nil
}

// socketPair returns two connected unix stream sockets, ours as a conn.
func socketPair(name string) (*net.UnixConn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	ours := os.NewFile(uintptr(fds[0]), name)
	theirs := os.NewFile(uintptr(fds[1]), name)
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return nil, nil, err
	}
	return conn.(*net.UnixConn), theirs, nil
}

// launchWith is launch with the descriptors to send, pass, which it
// closes: once the monitor has them, or when it fails before that.
func launchWith(id string, env []string, cfg []byte, pass []*os.File) (Process, error) {
	closed := false
	closePass := func() {
		if !closed {
			for _, f := range pass {
				f.Close()
			}
			closed = true
		}
	}
	defer closePass()
	uc, theirs, err := socketPair("monitor")
	if err != nil {
		return Process{}, fmt.Errorf("monitor socket: %w", err)
	}
	defer uc.Close()

	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{argv0, id},
		Env:        append(env, envMonitor+"=3"),
		ExtraFiles: []*os.File{theirs},
	}
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		return Process{}, fmt.Errorf("start monitor: %w", err)
	}
	// The monitor reads the whole config before it answers. If it died
	// first, the write fails and the exit status says why.
	var werr error
	if len(pass) > 0 {
		// the descriptors go with the first byte; the rest follows
		fds := make([]int, len(pass))
		for i, f := range pass {
			fds[i] = int(f.Fd())
		}
		_, _, werr = uc.WriteMsgUnix(cfg[:1], unix.UnixRights(fds...), nil)
		cfg = cfg[1:]
		// The monitor has them now; ours would keep their sockets open.
		closePass()
	}
	if werr == nil {
		_, werr = uc.Write(cfg)
	}
	if werr == nil {
		werr = uc.CloseWrite()
	}
	status, rerr := io.ReadAll(io.LimitReader(uc, maxStatus))
	// The process started is only the monitor's parent, which exits at once.
	waitErr := cmd.Wait()

	if msg, ok := bytes.CutPrefix(status, []byte("error ")); ok {
		return Process{}, errors.New(string(bytes.TrimRight(msg, "\n")))
	}
	if rest, ok := bytes.CutPrefix(status, []byte("fail ")); ok {
		code, msg, _ := strings.Cut(string(bytes.TrimRight(rest, "\n")), " ")
		if n, err := strconv.Atoi(code); err == nil {
			return Process{}, &StartError{Msg: msg, ExitStatus: n}
		}
	}
	if rest, ok := bytes.CutPrefix(status, []byte("ok ")); ok {
		f := strings.Fields(string(rest))
		if len(f) == 2 {
			mon, err1 := strconv.Atoi(f[0])
			ctr, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && mon > 0 && ctr > 0 {
				return Process{PID: mon, ContainerPID: ctr}, nil
			}
		}
	}
	cause := errors.Join(werr, rerr, waitErr)
	if cause == nil {
		cause = fmt.Errorf("bad status %q", status)
	}
	return Process{}, fmt.Errorf("monitor of %s ended without a report: %w", id, cause)
}

// Stop asks the monitor with pid pid, if it is the monitor of container
// id, not to restart the container any more, by sending it SIGTERM. The
// monitor then waits for the container to exit, which the caller brings
// about. It returns ErrNotRunning when that monitor is gone.
func Stop(pid int, id string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrNotRunning
	}
	if err != nil {
		return fmt.Errorf("monitor %d: pidfd_open: %w", pid, err)
	}
	defer unix.Close(fd)
	// The pidfd pins the process that had pid when it was opened, so a
	// pid reused after this check cannot receive the signal.
	if !Running(pid, id) {
		return ErrNotRunning
	}
	err = unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrNotRunning
	}
	if err != nil {
		return fmt.Errorf("monitor %d: signal: %w", pid, err)
	}
	return nil
}

// Running reports whether pid is a live monitor of container id.
func Running(pid int, id string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && string(b) == argv0+"\x00"+id+"\x00"
}
