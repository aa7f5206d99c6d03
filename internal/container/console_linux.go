package container

import (
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// openPty opens a new pty pair on the devpts mounted at /dev/pts of the
// current mount namespace.
func openPty() (master *os.File, slaveName string, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, "", fmt.Errorf("get pty number: %w", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, "", fmt.Errorf("unlock pty: %w", err)
	}
	return master, "/dev/pts/" + strconv.Itoa(n), nil
}

// setupConsole gives the process a terminal: it opens a pty inside the
// container, sends the master to the caller over the console socket (as
// runc does: the pty's name as payload, the fd as SCM_RIGHTS), and makes
// the slave the controlling terminal and stdio.
func setupConsole(sockFD int, size *specs.Box) error {
	if sockFD < 0 {
		return fmt.Errorf("process asks for a terminal but there is no console socket")
	}
	master, name, err := openPty()
	if err != nil {
		return err
	}
	defer master.Close()
	slave, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	if size != nil {
		unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)})
	}
	if err := sendFd(sockFD, name, int(master.Fd())); err != nil {
		return fmt.Errorf("send pty master over console socket: %w", err)
	}
	unix.Close(sockFD)
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	if slave > 2 {
		unix.Close(slave)
	}
	return nil
}

func sendFd(sock int, name string, fd int) error {
	return unix.Sendmsg(sock, []byte(name), unix.UnixRights(fd), nil, 0)
}

// RecvFd receives one descriptor sent the way the init sends a pty
// master: the name as payload, the fd as SCM_RIGHTS.
func RecvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, 0)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("expected one control message, got %d (%v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("expected one descriptor (%v)", err)
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}
