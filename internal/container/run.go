package container

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"berth/internal/signals"

	"berth/internal/errdefs"
)

// Run creates and starts container id. Unless detach is set, it then
// forwards signals to the container, waits for it to exit, deletes it
// (unless keep is set), and returns its exit code (128+N for a death by
// signal N, as shells do).
func (r *Runtime) Run(id string, opts CreateOptions, detach, keep bool) (int, error) {
	if opts.Spec == nil {
		s, b, err := loadSpec(opts.Bundle)
		if err != nil {
			return -1, err
		}
		opts.Spec, opts.SpecJSON = s, b
	}
	terminal := opts.Spec.Process != nil && opts.Spec.Process.Terminal
	var tty *ptyProxy
	if terminal && opts.ConsoleSocket == "" {
		if detach {
			return -1, errdefs.Invalidf("cannot allocate a terminal for a detached container without --console-socket")
		}
		var err error
		if tty, err = newPtyProxy(); err != nil {
			return -1, err
		}
		defer tty.Close()
		opts.consoleConn = tty.remote
	}
	// Signals that arrive between create and wait are queued and
	// forwarded once the init runs.
	var proxy *signals.Proxy
	if !detach {
		proxy = signals.StartProxy()
		defer proxy.Stop()
	}
	rec, err := r.create(id, opts)
	if err != nil {
		return -1, err
	}
	if tty != nil {
		if err := tty.receive(); err != nil {
			r.delete(rec, DeleteOptions{Force: true})
			return -1, err
		}
	}
	if proxy != nil {
		proxy.Ready()
	}
	if err := r.start(rec); err != nil {
		r.delete(rec, DeleteOptions{Force: true})
		return -1, err
	}
	if detach {
		return 0, nil
	}
	code, err := waitSignals(rec.Pid, tty, proxy.C)
	if keep {
		return code, err
	}
	if derr := r.delete(rec, DeleteOptions{Force: true}); err == nil && derr != nil {
		err = derr
	}
	return code, err
}

// waitSignals waits for pid, a child of this process, forwarding to it
// the signals that arrive on sigs.
func waitSignals(pid int, tty *ptyProxy, sigs <-chan os.Signal) (int, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				sig := s.(unix.Signal)
				switch sig {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
					// SIGURG is the Go runtime's own preemption signal.
				case unix.SIGWINCH:
					if tty != nil {
						tty.resize()
					}
				default:
					unix.Kill(pid, sig)
				}
			}
		}
	}()
	if tty != nil {
		tty.copy()
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("wait for container process %d: %w", pid, err)
		}
		break
	}
	if tty != nil {
		tty.drain()
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// ptyProxy lets berth itself hold a container's terminal when no console
// socket was given: the init sends the pty master over a socketpair, and
// berth copies between its own terminal and the master.
type ptyProxy struct {
	local, remote *os.File
	master        *os.File
	restore       *unix.Termios
	out           chan struct{}
}

func newPtyProxy() (*ptyProxy, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &ptyProxy{local: os.NewFile(uintptr(fds[0]), "console"), remote: os.NewFile(uintptr(fds[1]), "console-remote")}, nil
}

func (t *ptyProxy) receive() error {
	t.remote.Close()
	m, err := RecvFd(t.local)
	if err != nil {
		return fmt.Errorf("receive pty master: %w", err)
	}
	t.master = m
	t.resize() // before the process runs, so its first look sees the size
	return nil
}

func (t *ptyProxy) resize() {
	if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil && t.master != nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

func (t *ptyProxy) copy() {
	if t.master == nil {
		return
	}
	if st, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS); err == nil {
		t.restore = st
		raw := *st
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		unix.IoctlSetTermios(int(os.Stdin.Fd()), unix.TCSETS, &raw)
		t.resize()
	}
	go io.Copy(t.master, os.Stdin)
	t.out = make(chan struct{})
	go func() {
		io.Copy(os.Stdout, t.master)
		close(t.out)
	}()
}

// drain waits for the output that the process wrote before exiting.
func (t *ptyProxy) drain() {
	if t.out != nil {
		<-t.out
	}
}

func (t *ptyProxy) Close() {
	if t.restore != nil {
		unix.IoctlSetTermios(int(os.Stdin.Fd()), unix.TCSETS, t.restore)
	}
	t.local.Close()
	t.remote.Close()
	if t.master != nil {
		t.master.Close()
	}
}
