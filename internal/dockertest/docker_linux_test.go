package dockertest

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"berth/internal/testfixture"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testfixture.RemoveBerth()
	os.Exit(code)
}

// stepTimeout bounds one docker command; a run that hangs fails its step
// instead of the whole test binary.
const stepTimeout = 30 * time.Second

// env is what every scenario shares: one daemon, with berth registered.
type env struct {
	d *daemon
}

// docker runs one docker command under stepTimeout.
func (e *env) docker(args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	return e.d.docker(ctx, nil, args...)
}

// mustDocker runs one docker command and fails t unless it exits 0.
func (e *env) mustDocker(t *testing.T, args ...string) result {
	t.Helper()
	r := e.docker(args...)
	if !r.ok() {
		t.Fatal(r)
	}
	return r
}

// inspect returns docker inspect -f format for container c.
func (e *env) inspect(t *testing.T, c, format string) string {
	t.Helper()
	return strings.TrimSpace(e.mustDocker(t, "inspect", "-f", format, c).stdout)
}

func TestDocker(t *testing.T) {
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	testfixture.RequireFeature(t, "docker.io", haveDocker)

	berthRunc := filepath.Join(filepath.Dir(testfixture.BuildBerth(t)), "berth-runc")
	d, err := startDaemon(t, berthRunc)
	if err != nil {
		t.Skipf("needs a dockerd that starts: %v", err)
	}
	t.Cleanup(func() { d.stop(t) })
	e := &env{d: d}

	if !t.Run("import", e.testImport) {
		return
	}
	t.Run("run", e.testRun)
	t.Run("exit-codes", e.testExitCodes)
	t.Run("run-tty", e.testRunTTY)
	t.Run("detached", e.testDetached)
	t.Run("stop-term", e.testStopTerm)
	t.Run("stop-kill", e.testStopKill)
	t.Run("oom", e.testOOM)
	t.Run("image-archives", e.testImageArchives)
	t.Run("image-registry", e.testImageRegistry)
	t.Run("build", e.testBuild)
}

// testImport imports the busybox root filesystem as image, which the
// other scenarios run.
func (e *env) testImport(t *testing.T) {
	e.d.watchLogs(t)
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := testfixture.BusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	pr, pw := io.Pipe()
	tar := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", rootfs, "-cf", "-", ".")
	tar.Stdout = pw
	var tarErr strings.Builder
	tar.Stderr = &tarErr
	if err := tar.Start(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	go func() { pw.CloseWithError(tar.Wait()) }()
	if r := e.d.docker(ctx, pr, "import", "-", image); !r.ok() {
		t.Fatalf("importing the busybox image: %s\ntar: %s", r, tarErr.String())
	}
}

func (e *env) testRun(t *testing.T) {
	e.d.watchLogs(t)
	r := e.docker("run", "--runtime", "berth", "--rm", "--network", "none", image, "echo", "hi")
	if !r.ok() || r.stdout != "hi\n" {
		t.Errorf("want exit 0 and stdout %q; got %s", "hi\n", r)
	}
}

// testExitCodes checks the container's exit status and Docker's codes for
// commands that cannot run, with runc as the reference.
func (e *env) testExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  []string
		want int
	}{
		{"exit-3", []string{"sh", "-c", "exit 3"}, 3},
		{"missing-command", []string{"no-such-command"}, 127}, // not found
		{"not-executable", []string{"/etc/passwd"}, 126},      // found, cannot run
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.d.watchLogs(t)
			got := map[string]result{}
			for _, rt := range []string{"runc", "berth"} {
				args := append([]string{"run", "--runtime", rt, "--rm", "--network", "none", image}, tc.cmd...)
				r := e.docker(args...)
				got[rt] = r
				if r.err != nil || r.code != tc.want {
					t.Errorf("--runtime %s: want exit %d; got %s", rt, tc.want, r)
				}
			}
			if got["runc"].code != got["berth"].code {
				t.Errorf("berth's exit %d differs from runc's %d", got["berth"].code, got["runc"].code)
			}
		})
	}
}

// checkShell drives an interactive shell on p: it waits for the prompt,
// asks for the terminal's name and a sum, exits, and checks the answers.
func checkShell(t *testing.T, p *ptyCmd, what string) {
	t.Helper()
	if err := p.WaitFor("# ", 30*time.Second); err != nil {
		code, werr := p.Wait()
		t.Fatalf("%s: no shell prompt: %v (exit %d %v); terminal output:\n%s", what, err, code, werr, p.Output())
	}
	if err := p.Type("tty; echo $((6*7)); exit\r"); err != nil {
		t.Fatalf("%s: typing: %v", what, err)
	}
	code, err := p.Wait()
	out := p.Output()
	if err != nil || code != 0 {
		t.Errorf("%s: want exit 0; got %d %v; terminal output:\n%s", what, code, err, out)
	}
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("%s: tty did not print a /dev/pts/ name; terminal output:\n%s", what, out)
	}
	if !hasLine(out, "42") {
		t.Errorf("%s: the shell did not print 42; terminal output:\n%s", what, out)
	}
}

// hasLine reports whether out, as a terminal shows it, has a line s.
func hasLine(out, s string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimRight(l, "\r") == s {
			return true
		}
	}
	return false
}

func (e *env) testRunTTY(t *testing.T) {
	e.d.watchLogs(t)
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	p, err := startPTY(ctx, e.d.env, "docker", "run", "--runtime", "berth", "-it", "--rm", "--network", "none", image, "sh")
	if err != nil {
		t.Fatal(err)
	}
	checkShell(t, p, "docker run -it")
}

// testDetached runs one long-lived container and works on it: exec, exec
// with a terminal, top, pause, update, and finally rm -f, after which
// berth must have left no state.
func (e *env) testDetached(t *testing.T) {
	e.d.watchLogs(t)
	c := strings.TrimSpace(e.mustDocker(t, "run", "-d", "--runtime", "berth", "--network", "none", image, "sleep", "1000").stdout)
	removed := false
	t.Cleanup(func() {
		if !removed {
			e.docker("rm", "-f", c)
		}
	})
	if s := e.inspect(t, c, "{{.State.Status}}"); s != "running" {
		t.Fatalf("want the container running; docker inspect says %q", s)
	}

	t.Run("exec", func(t *testing.T) {
		e.d.watchLogs(t)
		if r := e.docker("exec", c, "echo", "in-exec"); !r.ok() || r.stdout != "in-exec\n" {
			t.Errorf("want exit 0 and stdout %q; got %s", "in-exec\n", r)
		}
		if r := e.docker("exec", c, "sh", "-c", "exit 5"); r.err != nil || r.code != 5 {
			t.Errorf("want exit 5; got %s", r)
		}
	})

	t.Run("exec-missing-command", func(t *testing.T) {
		e.d.watchLogs(t)
		// Docker answers 126, "OCI runtime exec failed", with runc.
		const want = 126
		rc := e.runDetached(t, "--runtime", "runc", image, "sleep", "1000")
		if r := e.docker("exec", rc, "no-such-command"); r.err != nil || r.code != want {
			t.Errorf("with runc: want exit %d; got %s", want, r)
		}
		if r := e.docker("exec", c, "no-such-command"); r.err != nil || r.code != want {
			t.Errorf("want exit %d, as with runc; got %s", want, r)
		}
	})

	t.Run("exec-tty", func(t *testing.T) {
		e.d.watchLogs(t)
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		p, err := startPTY(ctx, e.d.env, "docker", "exec", "-t", c, "tty")
		if err != nil {
			t.Fatal(err)
		}
		code, err := p.Wait()
		if out := p.Output(); err != nil || code != 0 || !strings.Contains(out, "/dev/pts/") {
			t.Errorf("docker exec -t %s tty: want exit 0 and a /dev/pts/ name; got exit %d %v; terminal output:\n%s", c, code, err, out)
		}
	})

	t.Run("exec-interactive-tty", func(t *testing.T) {
		e.d.watchLogs(t)
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		p, err := startPTY(ctx, e.d.env, "docker", "exec", "-it", c, "sh")
		if err != nil {
			t.Fatal(err)
		}
		checkShell(t, p, "docker exec -it")
	})

	t.Run("top", func(t *testing.T) {
		e.d.watchLogs(t)
		r := e.docker("top", c)
		if !r.ok() || !strings.Contains(r.stdout, "sleep 1000") {
			t.Errorf("want a process list with sleep 1000; got %s", r)
		}
	})

	t.Run("pause", func(t *testing.T) {
		e.d.watchLogs(t)
		e.mustDocker(t, "pause", c)
		if s := e.inspect(t, c, "{{.State.Status}}"); s != "paused" {
			t.Errorf("after docker pause: want status paused; got %q", s)
		}
		e.mustDocker(t, "unpause", c)
		if s := e.inspect(t, c, "{{.State.Status}}"); s != "running" {
			t.Errorf("after docker unpause: want status running; got %q", s)
		}
		if r := e.docker("exec", c, "true"); !r.ok() {
			t.Errorf("exec after unpause: %s", r)
		}
	})

	t.Run("update-memory", func(t *testing.T) {
		e.d.watchLogs(t)
		e.mustDocker(t, "update", "--memory", "64m", "--memory-swap", "64m", c)
		pid, err := strconv.Atoi(e.inspect(t, c, "{{.State.Pid}}"))
		if err != nil || pid <= 0 {
			t.Fatalf("docker inspect gave no pid: %v", err)
		}
		got, err := memoryLimit(pid)
		if err != nil {
			t.Fatal(err)
		}
		if want := strconv.Itoa(64 << 20); got != want {
			t.Errorf("memory limit of pid %d's cgroup: want %s; got %s", pid, want, got)
		}
	})

	t.Run("rm-force", func(t *testing.T) {
		e.d.watchLogs(t)
		// The shim runs berth-runc with --root EXEC_ROOT/runtime-NAME/NAMESPACE.
		states, _ := filepath.Glob(filepath.Join(e.d.dir, "exec", "runtime-*", namespace, c))
		if len(states) != 1 {
			t.Fatalf("want one berth state dir for the running container under %s; found %q",
				filepath.Join(e.d.dir, "exec", "runtime-*", namespace), states)
		}
		root := filepath.Dir(states[0])
		if out, err := exec.Command(e.d.runtime, "--root", root, "state", c).CombinedOutput(); err != nil {
			t.Errorf("berth-runc --root %s state %s before rm: %v\n%s", root, c, err, out)
		}
		cg, err := e.d.memoryCgroupDir(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(cg); err != nil {
			t.Errorf("the container's memory cgroup before rm: %v", err)
		}

		r := e.mustDocker(t, "rm", "-f", c)
		removed = true
		if strings.TrimSpace(r.stdout) != c {
			t.Errorf("docker rm -f: want %s on stdout; got %s", c, r)
		}
		if r := e.docker("inspect", c); r.err != nil || r.code == 0 {
			t.Errorf("docker inspect after rm -f: want an error; got %s", r)
		}
		if _, err := os.Lstat(states[0]); err == nil {
			entries, _ := os.ReadDir(states[0])
			var names []string
			for _, en := range entries {
				names = append(names, en.Name())
			}
			t.Errorf("berth state left after docker rm -f: %s holds %q", states[0], names)
		} else if !os.IsNotExist(err) {
			t.Error(err)
		}
		if out, err := exec.Command(e.d.runtime, "--root", root, "list").CombinedOutput(); err != nil || strings.Contains(string(out), c) {
			t.Errorf("berth-runc --root %s list after rm -f: want no %s; got %v\n%s", root, c, err, out)
		}
		if _, err := os.Stat(cg); !os.IsNotExist(err) {
			t.Errorf("the container's memory cgroup %s after rm -f: want it gone; stat: %v", cg, err)
		}
	})
}

// runDetached starts a container with berth, or with the runtime that
// args name first, and removes it when t ends.
func (e *env) runDetached(t *testing.T, args ...string) string {
	t.Helper()
	if len(args) < 2 || args[0] != "--runtime" {
		args = append([]string{"--runtime", "berth"}, args...)
	}
	c := strings.TrimSpace(e.mustDocker(t, append([]string{"run", "-d", "--network", "none"}, args...)...).stdout)
	t.Cleanup(func() { e.docker("rm", "-f", c) })
	return c
}

// waitRunning waits until the container's main process has had time to
// set its traps: its shell has started a child.
func (e *env) waitRunning(t *testing.T, c, child string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r := e.docker("top", c); r.ok() && strings.Contains(r.stdout, child) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("container %s: no %q process within 10s; docker top: %s", c, child, e.docker("top", c))
}

func (e *env) testStopTerm(t *testing.T) {
	e.d.watchLogs(t)
	c := e.runDetached(t, image, "sh", "-c", `trap "echo got term; exit 0" TERM; while true; do sleep 0.1; done`)
	e.waitRunning(t, c, "sleep")
	r := e.mustDocker(t, "stop", c)
	// docker stop waits 10s before SIGKILL; a quick stop means SIGTERM
	// reached the trap.
	if r.elapsed > 5*time.Second {
		t.Errorf("docker stop took %s: SIGTERM did not stop the container", r.elapsed)
	}
	if got := e.inspect(t, c, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 0" {
		t.Errorf("after docker stop: want %q; got %q", "exited 0", got)
	}
	if logs := e.mustDocker(t, "logs", c); !strings.Contains(logs.stdout, "got term") {
		t.Errorf("want the trap's output in the logs; got %s", logs)
	}
}

func (e *env) testStopKill(t *testing.T) {
	e.d.watchLogs(t)
	c := e.runDetached(t, image, "sh", "-c", `trap "" TERM; sleep 1000`)
	e.waitRunning(t, c, "sleep 1000")
	r := e.mustDocker(t, "stop", "-t", "1", c)
	if r.elapsed < 900*time.Millisecond || r.elapsed > 8*time.Second {
		t.Errorf("docker stop -t 1 took %s: want about 1s, the grace before SIGKILL", r.elapsed)
	}
	if got := e.inspect(t, c, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 137" {
		t.Errorf("after docker stop -t 1: want %q; got %q", "exited 137", got)
	}
}

func (e *env) testOOM(t *testing.T) {
	e.d.watchLogs(t)
	name := fmt.Sprintf("berth-oom-%d", os.Getpid())
	t.Cleanup(func() { e.docker("rm", "-f", name) })
	r := e.docker("run", "--name", name, "--runtime", "berth", "--network", "none",
		"--memory", "6m", "--memory-swap", "6m", image, "sh", "-c", "head -c 64m /dev/zero | tail")
	if r.err != nil || r.code != 137 {
		t.Errorf("want exit 137 (killed by the OOM killer); got %s", r)
	}
	if got := e.inspect(t, name, "{{.State.ExitCode}} {{.State.OOMKilled}}"); got != "137 true" {
		t.Errorf("docker inspect: want ExitCode 137 and OOMKilled true; got %q", got)
	}
}
