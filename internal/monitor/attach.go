package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"berth/internal/errdefs"
	"berth/internal/signals"
)

// Frame types of the attach protocol; see the package doc.
const (
	frameStdin  = 0
	frameStdout = 1
	frameStderr = 2
	frameError  = 3
	frameExit   = 4
	frameEOF    = 5
	frameResize = 6
	frameSignal = 7

	frameHeader = 8
	// maxFrame bounds what a client accepts from a monitor, which sends
	// at most a log line's worth (16 KiB) at once.
	maxFrame = 1 << 20
)

// DefaultDetachKeys is Docker's default detach sequence, ctrl-p ctrl-q.
var DefaultDetachKeys = []byte{0x10, 0x11}

// ParseDetachKeys reads a detach sequence in Docker's syntax: keys
// separated by commas, each a single character, "ctrl-X" for X a letter
// or one of @[\]^_, or "DEL". The empty string is DefaultDetachKeys.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return DefaultDetachKeys, nil
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case k == "DEL":
			keys = append(keys, 0x7f)
		case len(k) == 6 && strings.HasPrefix(k, "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c == '@' || (c >= '[' && c <= '_'):
				keys = append(keys, c-'@')
			default:
				return nil, errdefs.Invalidf("invalid detach keys (%s) provided: unknown character %q", s, k)
			}
		default:
			return nil, errdefs.Invalidf("invalid detach keys (%s) provided: unknown character %q", s, k)
		}
	}
	return keys, nil
}

// AttachOptions say what an attached client does.
type AttachOptions struct {
	// Tty says the container has a terminal: its output is one stream;
	// while stdin is sent, a stdin that is a terminal is put in raw mode,
	// so that every key (ctrl-c too) reaches the container; and the
	// container's terminal takes the size of the client's, now and on
	// each SIGWINCH.
	Tty bool
	// Stdin sends Stdio.In to the container. It arrives only when the
	// container was started with OpenStdin; otherwise the monitor drops
	// it.
	Stdin bool
	// CloseStdin closes the container's stdin when Stdio.In ends (docker
	// run -i). It does nothing with a terminal.
	CloseStdin bool
	// DetachKeys, typed in stdin with a terminal, end the attachment and
	// leave the container running. Nil means DefaultDetachKeys; empty,
	// none.
	DetachKeys []byte
	// SigProxy sends the signals this process receives to the
	// container's init (but for SIGCHLD, SIGPIPE, SIGURG and SIGWINCH).
	// Not with a terminal, where ctrl-c is a key like any other.
	SigProxy bool
}

// Stdio is an attached client's end.
type Stdio struct {
	In       io.Reader // read when AttachOptions.Stdin
	Out, Err io.Writer // nil: the output is dropped
}

// AttachResult says how an attachment ended: the container exited with
// ExitCode, or the client detached (Detached) and the container runs on.
type AttachResult struct {
	Detached bool
	ExitCode int
}

// ErrNoMonitor is returned by Attach when nothing listens on the
// attach socket: the monitor has exited, or was killed.
var ErrNoMonitor = errors.New("no monitor listens on the attach socket")

// Attach connects to the attach socket at path and runs a Session.
func Attach(path string, stdio Stdio, opts AttachOptions) (AttachResult, error) {
	conn, err := dialUnix(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return AttachResult{}, ErrNoMonitor
		}
		return AttachResult{}, fmt.Errorf("attach: %w", err)
	}
	return Session(conn, stdio, opts)
}

// dialUnix connects to a unix socket; a path too long for a socket
// address is reached through its directory, opened, in /proc/self/fd.
func dialUnix(path string) (*net.UnixConn, error) {
	if len(path) < len(unix.RawSockaddrUnix{}.Path) {
		return net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	}
	dir, err := os.OpenFile(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	name := "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + filepath.Base(path)
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: name, Net: "unix"})
}

// Session is an attachment on conn, a connection to a monitor's attach
// socket (Attach) or Process.Attached: it copies the container's output
// to stdio and, as opts say, stdin, the terminal's size and signals to
// the container, until the container exits or the client detaches. It
// closes conn.
func Session(conn *net.UnixConn, stdio Stdio, opts AttachOptions) (AttachResult, error) {
	s := &session{conn: conn}
	defer conn.Close()
	done := make(chan struct{})
	defer close(done)

	if opts.Tty {
		if opts.Stdin {
			if fd, ok := terminalFd(stdio.In); ok {
				st, err := term.MakeRaw(fd)
				if err != nil {
					return AttachResult{}, fmt.Errorf("attach: raw mode: %w", err)
				}
				defer term.Restore(fd, st)
			}
		}
		if fd, ok := terminalFd(stdio.Out); ok {
			s.sizeFd = fd
		} else if fd, ok := terminalFd(stdio.In); ok {
			s.sizeFd = fd
		} else {
			s.sizeFd = -1
		}
		if s.sizeFd >= 0 {
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, unix.SIGWINCH)
			defer signal.Stop(winch)
			s.resize()
			go func() {
				for {
					select {
					case <-winch:
						s.resize()
					case <-done:
						return
					}
				}
			}()
		}
	} else if opts.SigProxy {
		// Caught while the output starts to flow, and let go while the
		// caller goes on.
		proxy := signals.StartProxy()
		defer proxy.Stop()
		go func() {
			for {
				var sig os.Signal
				select {
				case sig = <-proxy.C:
				case <-done:
					return
				}
				n, ok := sig.(unix.Signal)
				if !ok {
					continue
				}
				switch n {
				case unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG, unix.SIGWINCH:
					continue
				}
				var v [4]byte
				binary.BigEndian.PutUint32(v[:], uint32(n))
				s.send(frameSignal, v[:])
			}
		}()
	}

	detached := make(chan struct{})
	if opts.Stdin && stdio.In != nil {
		keys := opts.DetachKeys
		if keys == nil {
			keys = DefaultDetachKeys
		}
		if !opts.Tty {
			keys = nil // as Docker: detach keys need a terminal
		}
		go s.copyIn(stdio.In, keys, opts.CloseStdin && !opts.Tty, detached)
	}

	type end struct {
		code int
		err  error
	}
	out := make(chan end, 1)
	go func() {
		code, err := s.copyOut(stdio.Out, stdio.Err)
		out <- end{code, err}
	}()
	select {
	case e := <-out:
		return AttachResult{ExitCode: e.code}, e.err
	case <-detached:
		// The monitor drops a client that has gone; output already read
		// is written before the terminal is restored.
		conn.Close()
		<-out
		return AttachResult{Detached: true}, nil
	}
}

type session struct {
	conn   *net.UnixConn
	mu     sync.Mutex // one frame at a time
	sizeFd int
}

func terminalFd(v any) (int, bool) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return -1, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

func (s *session) send(typ byte, p []byte) error {
	var h [frameHeader]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := (&net.Buffers{h[:], p}).WriteTo(s.conn)
	return err
}

// resize sends the client terminal's size.
func (s *session) resize() {
	ws, err := unix.IoctlGetWinsize(s.sizeFd, unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 || ws.Col == 0 {
		return
	}
	var v [4]byte
	binary.BigEndian.PutUint16(v[:2], ws.Row)
	binary.BigEndian.PutUint16(v[2:], ws.Col)
	s.send(frameResize, v[:])
}

// copyIn sends in to the container until it ends or keys are typed, which
// close detached.
func (s *session) copyIn(in io.Reader, keys []byte, closeStdin bool, detached chan struct{}) {
	d := detachScanner{keys: keys}
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			p, hit := d.scan(buf[:n])
			if len(p) > 0 && s.send(frameStdin, p) != nil {
				return
			}
			if hit {
				close(detached)
				return
			}
		}
		if err != nil {
			if closeStdin {
				s.send(frameEOF, nil)
			}
			return
		}
	}
}

// copyOut writes the container's output until the exit frame, and
// returns the exit code.
func (s *session) copyOut(out, errw io.Writer) (int, error) {
	if out == nil {
		out = io.Discard
	}
	if errw == nil {
		errw = io.Discard
	}
	var h [frameHeader]byte
	buf := make([]byte, 32<<10)
	for {
		if _, err := io.ReadFull(s.conn, h[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return -1, errors.New("attach: the monitor closed the connection before the container exited")
			}
			return -1, fmt.Errorf("attach: %w", err)
		}
		n := binary.BigEndian.Uint32(h[4:])
		if n > maxFrame {
			return -1, fmt.Errorf("attach: a frame of %d bytes from the monitor", n)
		}
		if int(n) > len(buf) {
			buf = make([]byte, n)
		}
		p := buf[:n]
		if _, err := io.ReadFull(s.conn, p); err != nil {
			return -1, fmt.Errorf("attach: %w", err)
		}
		switch h[0] {
		case frameStdout:
			out.Write(p)
		case frameStderr:
			errw.Write(p)
		case frameError:
			return -1, fmt.Errorf("attach: %s", p)
		case frameExit:
			if n != 4 {
				return -1, fmt.Errorf("attach: an exit frame of %d bytes", n)
			}
			return int(int32(binary.BigEndian.Uint32(p))), nil
		default:
			return -1, fmt.Errorf("attach: a frame of unknown type %d from the monitor", h[0])
		}
	}
}

// detachScanner finds the detach keys in what a terminal sends. Bytes
// that could begin the sequence are held back until the next one shows
// whether they do, and then sent.
type detachScanner struct {
	keys []byte
	pos  int
}

// scan returns what of p is to be sent, and whether the keys were typed
// (what follows them is dropped).
func (d *detachScanner) scan(p []byte) ([]byte, bool) {
	if len(d.keys) == 0 {
		return p, false
	}
	out := make([]byte, 0, len(p)+d.pos)
	for _, b := range p {
		if b == d.keys[d.pos] {
			d.pos++
			if d.pos == len(d.keys) {
				d.pos = 0
				return out, true
			}
			continue
		}
		if d.pos > 0 {
			out = append(out, d.keys[:d.pos]...)
			d.pos = 0
			if b == d.keys[0] {
				d.pos = 1
				continue
			}
		}
		out = append(out, b)
	}
	return out, false
}
