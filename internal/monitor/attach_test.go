package monitor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// envTTY makes this test binary a start command that gives its container
// a terminal (ttyStart): the script to run on it; envConsole is the
// console socket.
const (
	envTTY     = "MONITOR_TEST_TTY"
	envConsole = "MONITOR_TEST_CONSOLE"
)

func TestMain(m *testing.M) {
	if script := os.Getenv(envTTY); script != "" {
		os.Exit(ttyStart(script))
	}
	os.Exit(m.Run())
}

// ttyStart stands in for berth __start with a terminal, as berth's
// runtime does it: it opens a pty, sends the master to the console socket
// (the name as payload, the descriptor as SCM_RIGHTS), and runs script on
// the slave, in a session of its own with the slave as its controlling
// terminal; it reports that pid on fd 3 and exits without reaping it.
func ttyStart(script string) int {
	report := os.NewFile(3, "report")
	unix.CloseOnExec(3)
	fail := func(err error) int {
		fmt.Fprintf(report, "%v\n", err)
		return 1
	}
	master, slave, err := openPTY()
	if err != nil {
		return fail(err)
	}
	conn, err := dialUnix(os.Getenv(envConsole))
	if err != nil {
		return fail(err)
	}
	if _, _, err := conn.WriteMsgUnix([]byte(slave.Name()), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fail(err)
	}
	conn.Close()
	master.Close()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	fmt.Fprintf(report, "%d\n", cmd.Process.Pid)
	return 0
}

func openPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)
	}
	if err == nil {
		slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	}
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// ttyOpts returns Options for a container with a terminal that runs
// script, and an attach socket.
func ttyOpts(t *testing.T, script string) Options {
	t.Helper()
	dir := t.TempDir()
	return Options{
		ID: "c1", LogPath: filepath.Join(dir, "log"), ExitFile: filepath.Join(dir, "exit"),
		Start:         []string{"/proc/self/exe"},
		Env:           append(os.Environ(), envTTY+"="+script, envConsole+"="+filepath.Join(dir, "console.sock")),
		ConsoleSocket: filepath.Join(dir, "console.sock"),
		AttachSocket:  filepath.Join(dir, "attach.sock"),
		OpenStdin:     true,
	}
}

// syncBuffer collects output written from another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until cond holds, for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

type sessionEnd struct {
	res AttachResult
	err error
}

// goSession runs an attachment in the background.
func goSession(run func() (AttachResult, error)) chan sessionEnd {
	ch := make(chan sessionEnd, 1)
	go func() {
		r, err := run()
		ch <- sessionEnd{r, err}
	}()
	return ch
}

func endOf(t *testing.T, ch chan sessionEnd) sessionEnd {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("the attachment did not end")
	}
	return sessionEnd{}
}

// A client attached at the start gets everything, both streams apart,
// and the exit code; the log has it all too.
func TestAttachFromStart(t *testing.T) {
	t.Parallel()
	o := opts(t, `echo first; gate sh -c 'echo second; echo err >&2; exit 4'`)
	o.AttachSocket = filepath.Join(dirOf(o), "attach.sock")
	o.Attach = true
	p := start(t, o)
	var out, errb syncBuffer
	e := endOf(t, goSession(func() (AttachResult, error) {
		return Session(p.Attached, Stdio{Out: &out, Err: &errb}, AttachOptions{})
	}))
	if e.err != nil || e.res.Detached || e.res.ExitCode != 4 {
		t.Errorf("attachment ended with %+v, %v; want exit code 4", e.res, e.err)
	}
	if out.String() != "first\nsecond\n" || errb.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
	finish(t, o, p)
	if got := byStream(readLog(t, o.LogPath), "stdout"); len(got) != 2 {
		t.Errorf("log's stdout = %q", got)
	}
	if _, err := os.Stat(o.AttachSocket); !os.IsNotExist(err) {
		t.Errorf("the attach socket is left after the monitor: %v", err)
	}
}

// A client that attaches later gets the output from then on, and its
// stdin reaches a container started with OpenStdin.
func TestAttachLater(t *testing.T) {
	t.Parallel()
	o := opts(t, `gate sh -c 'while read l; do echo "got $l"; [ "$l" = end ] && exit 3; done'`)
	o.AttachSocket = filepath.Join(dirOf(o), "attach.sock")
	o.OpenStdin = true
	p := start(t, o)
	if fi, err := os.Stat(o.AttachSocket); err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("attach socket: %v, %v; want a socket of mode 0600", fi.Mode(), err)
	}
	inR, inW := io.Pipe()
	var out syncBuffer
	ch := goSession(func() (AttachResult, error) {
		return Attach(o.AttachSocket, Stdio{In: inR, Out: &out}, AttachOptions{Stdin: true})
	})
	fmt.Fprintln(inW, "one")
	waitFor(t, "the first line", func() bool { return out.String() == "got one\n" })
	fmt.Fprintln(inW, "end")
	e := endOf(t, ch)
	if e.err != nil || e.res.ExitCode != 3 || out.String() != "got one\ngot end\n" {
		t.Errorf("attachment ended with %+v, %v, output %q", e.res, e.err, out.String())
	}
	finish(t, o, p)
}

// With CloseStdin, the end of the client's stdin is the end of the
// container's: cat ends.
func TestAttachCloseStdin(t *testing.T) {
	t.Parallel()
	o := opts(t, `gate cat`)
	o.AttachSocket = filepath.Join(dirOf(o), "attach.sock")
	o.OpenStdin, o.Attach = true, true
	p := start(t, o)
	var out syncBuffer
	e := endOf(t, goSession(func() (AttachResult, error) {
		return Session(p.Attached, Stdio{In: strings.NewReader("hello\n"), Out: &out}, AttachOptions{Stdin: true, CloseStdin: true})
	}))
	if e.err != nil || e.res.ExitCode != 0 || out.String() != "hello\n" {
		t.Errorf("attachment ended with %+v, %v, output %q", e.res, e.err, out.String())
	}
	finish(t, o, p)
}

// rawClient is a client that speaks the protocol by hand.
func rawClient(t *testing.T, path string) *os.File {
	t.Helper()
	c, err := dialUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.File()
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func writeFrame(t *testing.T, w io.Writer, typ byte, p []byte) {
	t.Helper()
	var h [frameHeader]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	if _, err := w.Write(append(h[:], p...)); err != nil {
		t.Fatal(err)
	}
}

// A signal frame reaches the container's init; a frame outside the
// protocol ends that client only.
func TestAttachSignal(t *testing.T) {
	t.Parallel()
	o := opts(t, `gate sh -c 'trap "echo usr1; exit 7" USR1; while :; do echo ready; sleep 0.05; done'`)
	o.AttachSocket = filepath.Join(dirOf(o), "attach.sock")
	p := start(t, o)
	bad := rawClient(t, o.AttachSocket)
	writeFrame(t, bad, 99, nil)
	if _, err := io.Copy(io.Discard, bad); err != nil {
		t.Errorf("after a bad frame: %v, want the end of the connection", err)
	}
	// The monitor accepts in order: the session is attached by the time
	// it reads the signal.
	conn, err := dialUnix(o.AttachSocket)
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	ch := goSession(func() (AttachResult, error) { return Session(conn, Stdio{Out: &out}, AttachOptions{}) })
	c := rawClient(t, o.AttachSocket)
	waitFor(t, "the trap", func() bool { return strings.HasPrefix(out.String(), "ready\n") })
	writeFrame(t, c, frameSignal, binary.BigEndian.AppendUint32(nil, uint32(syscall.SIGUSR1)))
	e := endOf(t, ch)
	if e.err != nil || e.res.ExitCode != 7 || !strings.HasSuffix(out.String(), "ready\nusr1\n") {
		t.Errorf("attachment ended with %+v, %v, output %q", e.res, e.err, out.String())
	}
	finish(t, o, p)
}

// A client beyond the few the monitor serves is refused with a reason.
func TestAttachTooMany(t *testing.T) {
	t.Parallel()
	o := opts(t, `sleep 10 & echo $! >&3`)
	o.AttachSocket = filepath.Join(dirOf(o), "attach.sock")
	p := start(t, o)
	for range 4 {
		rawClient(t, o.AttachSocket)
	}
	_, err := Attach(o.AttachSocket, Stdio{}, AttachOptions{})
	if err == nil || !strings.Contains(err.Error(), "too many clients") {
		t.Errorf("a fifth client: %v, want refused", err)
	}
	syscall.Kill(p.ContainerPID, syscall.SIGKILL)
	finish(t, o, p)
	if _, err := Attach(o.AttachSocket, Stdio{}, AttachOptions{}); !errors.Is(err, ErrNoMonitor) {
		t.Errorf("attach after the monitor: %v, want ErrNoMonitor", err)
	}
}

// A client that reads nothing holds the output back for a while, then is
// dropped, and the container's output goes on to the log and the others.
func TestAttachStalledClient(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	o := opts(t, `gate sh -c 'head -c `+strconv.Itoa(size)+` /dev/zero | tr "\0" y'`)
	o.AttachSocket = filepath.Join(dirOf(o), "attach.sock")
	o.Attach = true
	began := time.Now()
	p := start(t, o)
	defer p.Attached.Close() // never read
	finish(t, o, p)
	if d := time.Since(began); d < 4*time.Second {
		t.Errorf("the monitor finished after %v, before dropping the stalled client", d)
	}
	total := 0
	for _, e := range readLog(t, o.LogPath) {
		total += len(e.Log)
	}
	if total != size {
		t.Errorf("the log has %d bytes, want %d", total, size)
	}
}

// containerSize reads the size of the terminal that pid has as stdin.
func containerSize(pid int) (unix.Winsize, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd/0")
	if err != nil {
		return unix.Winsize{}, err
	}
	defer f.Close()
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return unix.Winsize{}, err
	}
	return *ws, nil
}

// A container with a terminal: the monitor holds the master and logs it
// as stdout; a client's terminal size and every change of it reach the
// container; the detach keys end the attachment and not the container;
// ctrl-c from a later client reaches it as SIGINT.
func TestAttachTerminal(t *testing.T) {
	t.Parallel()
	o := ttyOpts(t, `read x; echo "got $x"; read y; exit 5`)
	o.Attach = true
	p := start(t, o)

	// the client's terminal: the test types into m and reads from it
	m, s, err := openPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer s.Close()
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100}); err != nil {
		t.Fatal(err)
	}
	var screen syncBuffer
	go io.Copy(&screen, m)
	ch := goSession(func() (AttachResult, error) {
		return Session(p.Attached, Stdio{In: s, Out: s}, AttachOptions{Tty: true, Stdin: true})
	})
	m.Write([]byte("abc\r"))
	waitFor(t, "the echo", func() bool { return strings.Contains(screen.String(), "got abc\r\n") })
	if ws, err := containerSize(p.ContainerPID); err != nil || ws.Row != 30 || ws.Col != 100 {
		t.Errorf("the container's terminal is %dx%d (%v), want the client's 30x100", ws.Row, ws.Col, err)
	}
	unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
	waitFor(t, "the resize", func() bool {
		ws, err := containerSize(p.ContainerPID)
		return err == nil && ws.Row == 40 && ws.Col == 120
	})
	m.Write([]byte{0x10, 0x11})
	e := endOf(t, ch)
	if e.err != nil || !e.res.Detached {
		t.Errorf("after the detach keys: %+v, %v", e.res, e.err)
	}
	if !alive(p.ContainerPID) {
		t.Fatal("the container ended with the detach")
	}

	var out syncBuffer
	in, inW := io.Pipe()
	ch = goSession(func() (AttachResult, error) {
		return Attach(o.AttachSocket, Stdio{In: in, Out: &out}, AttachOptions{Tty: true, Stdin: true})
	})
	inW.Write([]byte{0x03})
	e = endOf(t, ch)
	if e.err != nil || e.res.ExitCode != 130 {
		t.Errorf("after ctrl-c: %+v, %v; want exit code 130", e.res, e.err)
	}
	finish(t, o, p)
	logged := strings.Join(byStream(readLog(t, o.LogPath), "stdout"), "")
	if !strings.Contains(logged, "abc\r\ngot abc\r\n") {
		t.Errorf("log of the terminal = %q", logged)
	}
	if _, err := os.Stat(o.ConsoleSocket); !os.IsNotExist(err) {
		t.Errorf("the console socket is left: %v", err)
	}
}

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{
		"":              {0x10, 0x11},
		"ctrl-a,x":      {1, 'x'},
		"ctrl-@,ctrl-[": {0, 27},
		"ctrl-_,DEL,,":  nil,
		"ctrl-z,a,b":    {26, 'a', 'b'},
	} {
		got, err := ParseDetachKeys(in)
		if want == nil {
			if err == nil {
				t.Errorf("ParseDetachKeys(%q) = %v, want an error", in, got)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ParseDetachKeys(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "alt-a", "ab"} {
		if _, err := ParseDetachKeys(bad); err == nil {
			t.Errorf("ParseDetachKeys(%q) is no error", bad)
		}
	}
}

func TestDetachScanner(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		out  string
		done bool
	}{
		{[]string{"abc"}, "abc", false},
		{[]string{"a\x10", "\x11b"}, "a", true},
		{[]string{"\x10x"}, "\x10x", false},
		{[]string{"\x10", "\x10", "\x11"}, "\x10", true},
		{[]string{"\x10"}, "", false},
	} {
		d := detachScanner{keys: DefaultDetachKeys}
		var out []byte
		done := false
		for _, p := range tc.in {
			o, hit := d.scan([]byte(p))
			out = append(out, o...)
			if hit {
				done = true
				break
			}
		}
		if string(out) != tc.out || done != tc.done {
			t.Errorf("scan %q = %q, %v; want %q, %v", tc.in, out, done, tc.out, tc.done)
		}
	}
}
