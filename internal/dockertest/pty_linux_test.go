package dockertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal pair from /dev/ptmx. The master
// is non-blocking, so that Close interrupts a Read in progress.
func openPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	if err := unix.IoctlSetWinsize(sfd, unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
		unix.Close(fd)
		unix.Close(sfd)
		return nil, nil, fmt.Errorf("set window size: %w", err)
	}
	return os.NewFile(uintptr(fd), "ptmx"), os.NewFile(uintptr(sfd), name), nil
}

// ptyCmd is a command whose stdin, stdout and stderr are one terminal,
// which it has as its controlling terminal, as a person at a shell would
// run it. Everything it writes is collected.
type ptyCmd struct {
	cmd    *exec.Cmd
	master *os.File
	done   chan struct{} // closed when the reader sees the end of output

	mu  sync.Mutex
	out bytes.Buffer
}

func startPTY(ctx context.Context, env []string, name string, args ...string) (*ptyCmd, error) {
	master, slave, err := openPTY()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Start()
	// The child has its copy; ours would keep the master from seeing the
	// end of output when the child exits.
	slave.Close()
	if err != nil {
		master.Close()
		return nil, err
	}
	p := &ptyCmd{cmd: cmd, master: master, done: make(chan struct{})}
	go p.read()
	return p, nil
}

func (p *ptyCmd) read() {
	defer close(p.done)
	buf := make([]byte, 4096)
	for {
		n, err := p.master.Read(buf)
		p.mu.Lock()
		p.out.Write(buf[:n])
		p.mu.Unlock()
		if err != nil {
			// EIO once no process holds the terminal open.
			return
		}
	}
}

// Output returns what the command has written so far.
func (p *ptyCmd) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitFor waits until the output contains s, the output ends, or timeout
// passes.
func (p *ptyCmd) WaitFor(s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(p.Output(), s) {
			return nil
		}
		select {
		case <-p.done:
			if strings.Contains(p.Output(), s) {
				return nil
			}
			return fmt.Errorf("output ended without %q", s)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %q after %s", s, timeout)
		}
	}
}

// Type writes s to the terminal, as typed.
func (p *ptyCmd) Type(s string) error {
	_, err := p.master.Write([]byte(s))
	return err
}

// Wait waits for the command to exit and returns its exit code; the
// context given to startPTY bounds it.
func (p *ptyCmd) Wait() (int, error) {
	err := p.cmd.Wait()
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
	}
	p.master.Close()
	<-p.done
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), nil
	}
	return -1, err
}
