package engine

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ttyCmd is a berth command on a terminal of the test's: the test types
// into the master and reads what the command shows.
type ttyCmd struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{} // the command has exited
	err    error
}

// startTTY runs berth args with stdio on a new terminal of rows x cols,
// which is its controlling terminal.
func (c *cli) startTTY(rows, cols uint16, args ...string) *ttyCmd {
	c.t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0)
	}
	if err == nil {
		err = unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
	var slave *os.File
	if err == nil {
		slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	}
	if err != nil {
		master.Close()
		c.t.Fatal(err)
	}
	p := &ttyCmd{t: c.t, master: master, done: make(chan struct{})}
	p.cmd = exec.Command(c.bin, append([]string{"--root", c.root}, args...)...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = p.cmd.Start()
	slave.Close() // the command's copy is the one that counts
	if err != nil {
		master.Close()
		c.t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return // EIO once no process has the terminal open
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	c.t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		master.Close()
	})
	return p
}

func (p *ttyCmd) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *ttyCmd) typeIn(s string) {
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// waitFor waits until the terminal has shown s.
func (p *ttyCmd) waitFor(s string) {
	p.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.output(), s) {
			return
		}
	}
	p.t.Fatalf("the terminal did not show %q; it shows:\n%q", s, p.output())
}

// exitCode waits for the command to exit and returns its status.
func (p *ttyCmd) exitCode() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.t.Fatalf("the command did not exit; the terminal shows:\n%q", p.output())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// resize changes the terminal's size, which signals SIGWINCH to the
// command.
func (p *ttyCmd) resize(rows, cols uint16) {
	if err := unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		p.t.Fatal(err)
	}
}

func (c *cli) state(name string) string {
	c.t.Helper()
	return strings.TrimSpace(c.run("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name))
}

// A detached container with a terminal: attach types into it, the size
// follows the client's, and the detach keys leave it running.
func TestAttachTerminal(t *testing.T) {
	c := newCLI(t)
	c.run("run", "-dit", "--name", "tty", "busybox:test", "sh")
	p := c.startTTY(24, 80, "attach", "tty")
	p.typeIn("echo hi\r")
	p.waitFor("\r\nhi\r\n")
	p.typeIn("stty size\r")
	p.waitFor("24 80\r\n")
	p.resize(40, 120)
	eventually(t, "the new size", func() bool {
		p.typeIn("stty size\r")
		time.Sleep(100 * time.Millisecond)
		return strings.Contains(p.output(), "40 120\r\n")
	})
	// ctrl-c reaches the shell through its terminal: the line is dropped
	p.typeIn("sleep 100\r")
	time.Sleep(200 * time.Millisecond)
	p.typeIn("\x03")
	p.typeIn("echo after\r")
	p.waitFor("\r\nafter\r\n")
	time.Sleep(200 * time.Millisecond) // the prompt
	before := p.output()
	p.typeIn("\x10\x11")
	if code := p.exitCode(); code != 0 {
		t.Errorf("attach exited %d after the detach keys, want 0", code)
	}
	if after := p.output(); after != before {
		t.Errorf("after the detach keys, attach printed %q", after[len(before):])
	}
	if got := c.state("tty"); got != "running 0" {
		t.Errorf("after the detach, the container is %q", got)
	}
	if logs := c.run("logs", "tty"); !strings.Contains(logs, "hi\r\n") || !strings.Contains(logs, "40 120\r\n") {
		t.Errorf("logs of the terminal = %q", logs)
	}

	// Other detach keys: a key that begins them reaches the container
	// when the next one does not go on with them.
	p = c.startTTY(30, 90, "attach", "--detach-keys", "ctrl-a,x", "tty")
	p.typeIn("stty size\r")
	p.waitFor("30 90\r\n")
	p.typeIn("echo two\x01\x05\r") // ctrl-a, ctrl-e: to the line's start and back
	p.waitFor("\r\ntwo\r\n")
	p.typeIn("\x01x")
	if code := p.exitCode(); code != 0 {
		t.Errorf("attach exited %d after ctrl-a x, want 0", code)
	}
	// An attachment ends with the container's exit, and its code.
	p = c.startTTY(30, 90, "attach", "tty")
	p.typeIn("exit 3\r")
	if code := p.exitCode(); code != 3 {
		t.Errorf("attach exited %d when the container exited 3", code)
	}
	eventually(t, "the exit", func() bool { return c.state("tty") == "exited 3" })
	if _, err := c.runErr(nil, "attach", "tty"); err == nil {
		t.Error("attach to a stopped container succeeded")
	}
}

// Without a terminal, attach streams stdout and stderr apart and exits
// with the container's code.
func TestAttachStreams(t *testing.T) {
	c := newCLI(t)
	c.run("run", "-d", "--name", "lines", "busybox:test", "sh", "-c",
		"i=0; while [ $i -lt 20 ]; do echo line $i; echo err $i >&2; i=$((i+1)); sleep 0.1; done; exit 3")
	cmd := exec.Command(c.bin, "--root", c.root, "attach", "lines")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("attach: %v, want exit status 3; stderr %q", err, errb.String())
	}
	if !strings.HasSuffix(out.String(), "line 19\n") || strings.Contains(out.String(), "err") {
		t.Errorf("stdout = %q", out.String())
	}
	if !strings.HasSuffix(errb.String(), "err 19\n") || strings.Contains(errb.String(), "line") {
		t.Errorf("stderr = %q", errb.String())
	}
}

// attach's stdin reaches a container run with -i, and its signals are
// forwarded (--sig-proxy, the default).
func TestAttachStdinAndSignals(t *testing.T) {
	c := newCLI(t)
	c.run("run", "-di", "--name", "echo", "busybox:test", "sh", "-c",
		`trap "echo got-int; exit 4" INT; while read l; do echo "<$l>"; done`)
	cmd := exec.Command(c.bin, "--root", c.root, "attach", "echo")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	eventually(t, "the echo", func() bool {
		in.Write([]byte("x\n"))
		time.Sleep(50 * time.Millisecond)
		return strings.Contains(out.String(), "<x>\n")
	})
	cmd.Process.Signal(syscall.SIGINT)
	eventually(t, "the trap", func() bool {
		in.Write([]byte("y\n")) // the trap runs once read returns
		time.Sleep(50 * time.Millisecond)
		return strings.Contains(out.String(), "got-int\n")
	})
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(out.String(), "got-int\n") {
		t.Errorf("attach: %v, output %q; want exit 4 after got-int", err, out.String())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run -it runs under a monitor, attached: the exit code is the
// container's, the detach keys leave it running, the output is logged.
func TestRunInteractive(t *testing.T) {
	c := newCLI(t)
	p := c.startTTY(33, 99, "run", "-it", "--name", "it", "busybox:test", "sh", "-c", "stty size; read x; echo got $x; exit 7")
	p.waitFor("33 99\r\n") // the size is there before the process starts
	p.typeIn("abc\r")
	p.waitFor("got abc")
	if code := p.exitCode(); code != 7 {
		t.Errorf("run -it exited %d, want 7; terminal:\n%q", code, p.output())
	}
	eventually(t, "the exit", func() bool { return c.state("it") == "exited 7" })
	if logs := c.run("logs", "it"); !strings.Contains(logs, "got abc") {
		t.Errorf("logs = %q", logs)
	}

	p = c.startTTY(24, 80, "run", "-it", "--rm", "--name", "bg", "busybox:test", "sh")
	p.typeIn("echo one\r")
	p.waitFor("\r\none\r\n")
	p.typeIn("\x10\x11")
	if code := p.exitCode(); code != 0 {
		t.Errorf("run -it exited %d after the detach keys, want 0", code)
	}
	if got := c.state("bg"); got != "running 0" {
		t.Errorf("after the detach, the container is %q", got)
	}
	p = c.startTTY(24, 80, "attach", "bg")
	p.typeIn("exit 5\r")
	if code := p.exitCode(); code != 5 {
		t.Errorf("attach exited %d, want 5", code)
	}
	// --rm: gone by the time the attachment ends
	if out, err := c.runErr(nil, "inspect", "bg"); err == nil {
		t.Errorf("the --rm container is still there: %s", out)
	}

	// Without a terminal: stdin ends, and so does the container's.
	if out := c.runIn([]byte("hello\n"), "run", "-i", "--rm", "busybox:test", "cat"); out != "hello\n" {
		t.Errorf("run -i cat = %q", out)
	}
	if _, err := c.runErr(nil, "run", "-i", "busybox:test", "sh", "-c", "exit 6"); exitStatus(err) != 6 {
		t.Errorf("run -i exited %v, want 6", err)
	}
	if _, err := c.runErr(nil, "run", "-t", "busybox:test", "/nope"); exitStatus(err) != 127 {
		t.Errorf("run -t of a missing command: %v, want 127", err)
	}
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// start -a attaches before the container runs; start -ai gives it stdin.
func TestStartAttach(t *testing.T) {
	c := newCLI(t)
	c.run("create", "--name", "sa", "busybox:test", "sh", "-c", "echo started; echo oops >&2; exit 2")
	out, err := c.runErr(nil, "start", "-a", "sa")
	if exitStatus(err) != 2 || out != "started\noops\n" {
		t.Errorf("start -a: %q, %v; want both lines and exit status 2", out, err)
	}
	c.run("create", "-i", "--name", "sai", "busybox:test", "cat")
	if out := c.runIn([]byte("data\n"), "start", "-ai", "sai"); out != "data\n" {
		t.Errorf("start -ai = %q", out)
	}
	if got := c.state("sai"); got != "exited 0" {
		t.Errorf("after start -ai, the container is %q", got)
	}
}
