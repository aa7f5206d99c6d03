package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"berth/internal/archive"
	"berth/internal/monitor"
	"berth/internal/testfixture"
)

// cli runs the berth binary under root; detached containers need it, as
// their monitors run berth's hidden commands.
type cli struct {
	t    *testing.T
	bin  string
	root string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	c := &cli{t: t, bin: testfixture.BuildBerth(t), root: t.TempDir()}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := testfixture.BusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	os.Chmod(rootfs, 0o755)
	var layer bytes.Buffer
	if err := archive.Tar(context.Background(), &layer, rootfs); err != nil {
		t.Fatal(err)
	}
	c.runIn(layer.Bytes(), "import", "-", "busybox:test")
	t.Cleanup(func() {
		ids := strings.Fields(c.run("ps", "-aq", "--no-trunc"))
		if len(ids) > 0 {
			c.runErr(nil, append([]string{"rm", "-f", "--purge"}, ids...)...)
		}
		// The monitors, and the cleanup commands they run, still write
		// under the root for a moment after rm (removed containers
		// included); the temp dir goes once they are done.
		ids = append(ids, strings.Fields(c.run("container", "trash", "--format", "{{.ID}}"))...)
		for _, id := range ids {
			for i := 0; i < 100 && exec.Command("pgrep", "-f", "(berth-monitor|__cleanup) "+id).Run() == nil; i++ {
				time.Sleep(50 * time.Millisecond)
			}
		}
		// The root's bridges would outlive its temp dir.
		if e, err := Open(c.root, filepath.Join(c.root, "runtime")); err == nil {
			e.ReleaseNetworks()
		}
	})
	return c
}

func (c *cli) runErr(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(c.bin, append([]string{"--root", c.root}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func (c *cli) runIn(stdin []byte, args ...string) string {
	c.t.Helper()
	out, err := c.runErr(stdin, args...)
	if err != nil {
		c.t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cli) run(args ...string) string {
	c.t.Helper()
	return c.runIn(nil, args...)
}

// eventually polls cond for a few seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestDetached(t *testing.T) {
	c := newCLI(t)
	id := strings.TrimSpace(c.run("run", "-d", "--name", "bg", "busybox:test", "sh", "-c", "echo up; echo warn >&2; trap 'echo bye; exit 5' TERM; while true; do sleep 0.1; done"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	eventually(t, "the log", func() bool { return strings.Contains(c.run("logs", "bg"), "up") })
	if got := c.run("ps", "--format", "{{.Names}} {{.State}}"); got != "bg running\n" {
		t.Errorf("ps = %q", got)
	}
	// The monitor's child, though run started it (through the spawn agent).
	if ppid := parentOf(t, strings.TrimSpace(c.run("inspect", "-f", "{{.State.Pid}}", "bg"))); !monitor.Running(ppid, id) {
		t.Errorf("the container's parent, %d, is not its monitor", ppid)
	}
	if got := c.run("exec", "bg", "echo", "inside"); got != "inside\n" {
		t.Errorf("exec = %q", got)
	}
	c.run("stop", "bg")
	if got := strings.TrimSpace(c.run("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "bg")); got != "exited 5" {
		t.Errorf("after stop: %q, want exited 5 (the trap's exit)", got)
	}
	logs := c.run("logs", "bg")
	if !strings.Contains(logs, "up\n") || !strings.Contains(logs, "bye\n") {
		t.Errorf("logs = %q", logs)
	}
	// A stopped container starts again.
	c.run("start", "bg")
	eventually(t, "the second start", func() bool {
		return strings.Count(c.run("logs", "bg"), "up\n") == 2
	})
	c.run("rm", "-f", "bg")
	if got := c.run("ps", "-aq"); got != "" {
		t.Errorf("ps -aq after rm = %q", got)
	}
}

// TestDetachedStartFails: a start that fails before the container's init
// is started, or when its command is missing, ends with the reason, and
// leaves no monitor behind.
func TestDetachedStartFails(t *testing.T) {
	c := newCLI(t)
	for i, tc := range []struct {
		args  []string
		want  string
		state string // inspect's status, exit code and whether it has an error
	}{
		{[]string{"-u", "nosuchuser", "busybox:test", "true"}, "unable to find user nosuchuser", "created 128 true"},
		{[]string{"busybox:test", "nosuchcommand"}, "nosuchcommand", "created 127 true"},
	} {
		name := fmt.Sprintf("fails%d", i)
		out, err := c.runErr(nil, append([]string{"run", "-d", "--name", name, "--network", "none"}, tc.args...)...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("run -d %v: %v, %q; want a failure naming %q", tc.args, err, out, tc.want)
		}
		// As Docker: the container was never started.
		if got := strings.TrimSpace(c.run("inspect", "-f", `{{.State.Status}} {{.State.ExitCode}} {{ne .State.Error ""}}`, name)); got != tc.state {
			t.Errorf("run -d %v: inspect says %q, want %q", tc.args, got, tc.state)
		}
		if got := c.run("ps", "-a", "--filter", "name="+name, "--format", "{{.Status}}"); strings.TrimSpace(got) != "Created" {
			t.Errorf("run -d %v: ps -a says %q, want Created", tc.args, got)
		}
	}
	// A start that fails after a run keeps the container exited, with the
	// failure's code; the next good start clears the error.
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c.run("run", "--name", "ranonce", "--network", "none", "-v", dir+":/x", "busybox:test", "/x/prog")
	os.Remove(prog)
	if out, err := c.runErr(nil, "start", "ranonce"); err == nil {
		t.Errorf("start without the program: no error: %q", out)
	}
	if got := strings.TrimSpace(c.run("inspect", "-f", `{{.State.Status}} {{.State.ExitCode}} {{ne .State.Error ""}}`, "ranonce")); got != "exited 127 true" {
		t.Errorf("a failed start after a run: inspect says %q, want exited 127 true", got)
	}
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c.run("start", "-a", "ranonce")
	if got := strings.TrimSpace(c.run("inspect", "-f", `{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}`, "ranonce")); got != "exited 0" {
		t.Errorf("a good start after a failed one: inspect says %q, want exited 0 and no error", got)
	}
	for _, id := range strings.Fields(c.run("ps", "-aq", "--no-trunc")) {
		eventually(t, "the monitor to end", func() bool {
			return exec.Command("pgrep", "-f", "berth-monitor "+id).Run() != nil
		})
	}
}

// parentOf returns the parent of process pid.
func parentOf(t *testing.T, pid string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

func TestRestartPolicyAndAutoRemove(t *testing.T) {
	c := newCLI(t)
	c.run("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox:test", "sh", "-c", "echo try; exit 3")
	eventually(t, "the restarts to end", func() bool {
		return strings.TrimSpace(c.run("inspect", "-f", "{{.State.Status}}", "flaky")) == "exited"
	})
	if got := strings.TrimSpace(c.run("inspect", "-f", "{{.RestartCount}} {{.State.ExitCode}}", "flaky")); got != "2 3" {
		t.Errorf("restart count and code = %q, want 2 3", got)
	}
	if n := strings.Count(c.run("logs", "flaky"), "try"); n != 3 {
		t.Errorf("%d runs logged, want 3", n)
	}
	c.run("run", "-d", "--rm", "--name", "gone", "busybox:test", "true")
	eventually(t, "--rm", func() bool { return !strings.Contains(c.run("ps", "-a"), "gone") })
	if _, err := c.runErr(nil, "run", "-d", "--restart", "sometimes", "busybox:test", "true"); err == nil {
		t.Error("a bad --restart was accepted")
	}
}

// After a host restart (simulated: every process killed, the runtime's
// state directory gone), ps shows the containers as exited, and boot
// starts those whose policy says so.
func TestBoot(t *testing.T) {
	c := newCLI(t)
	c.run("run", "-d", "--name", "always", "--restart", "always", "busybox:test", "sleep", "1000")
	c.run("run", "-d", "--name", "once", "busybox:test", "sleep", "1000")
	c.run("run", "-d", "--name", "stopped", "--restart", "unless-stopped", "busybox:test", "sleep", "1000")
	c.run("stop", "-t", "0", "stopped")
	// The reboot: monitors and containers die at once, mounts and the
	// runtime's tmpfs go.
	for _, name := range []string{"always", "once"} {
		id := strings.TrimSpace(c.run("inspect", "-f", "{{.Id}}", name))
		pid := strings.TrimSpace(c.run("inspect", "-f", "{{.State.Pid}}", name))
		exec.Command("pkill", "-9", "-f", "^berth-monitor "+id).Run()
		exec.Command("kill", "-9", pid).Run()
	}
	for _, name := range []string{"always", "once"} {
		id := strings.TrimSpace(c.run("inspect", "-f", "{{.Id}}", name))
		eventually(t, name+" to die", func() bool {
			_, err := os.Stat("/proc/" + strings.TrimSpace(c.run("inspect", "-f", "{{.State.Pid}}", name)))
			return err != nil || !strings.Contains(c.run("ps"), name)
		})
		exec.Command("umount", "-l", filepath.Join(c.root, "containers", id, "rootfs")).Run()
	}
	os.RemoveAll(filepath.Join(c.root, "runtime"))
	if got := c.run("ps", "-a", "--format", "{{.Names}} {{.State}}"); strings.Contains(got, "running") {
		t.Fatalf("after the reboot, ps says:\n%s", got)
	}
	if got := c.run("boot"); got != "always\n" {
		t.Errorf("boot started %q, want only always", got)
	}
	if got := strings.TrimSpace(c.run("inspect", "-f", "{{.State.Status}}", "always")); got != "running" {
		t.Errorf("always is %s after boot", got)
	}
}

// rm -f of a running detached container waits for its monitor, which
// still writes the exit file and runs its cleanup once the container
// dies: rm must neither fail on a directory being written nor leave it.
func TestRemoveForceRunning(t *testing.T) {
	c := newCLI(t)
	for i := 0; i < 8; i++ {
		// A chatty container keeps its monitor writing the log to the end.
		id := strings.TrimSpace(c.run("run", "-d", "busybox:test", "sh", "-c", "while :; do echo output; done"))
		if out, err := c.runErr(nil, "rm", "-f", "--purge", id); err != nil {
			t.Fatalf("rm -f, round %d: %v\n%s", i, err, out)
		}
		if exec.Command("pgrep", "-f", "(berth-monitor|__cleanup) "+id).Run() == nil {
			t.Fatalf("round %d: rm returned while the monitor still ran", i)
		}
		if _, err := os.Stat(filepath.Join(c.root, "containers", id)); !os.IsNotExist(err) {
			t.Fatalf("round %d: the container's directory is still there (%v)", i, err)
		}
		if out := c.run("ps", "-aq"); strings.TrimSpace(out) != "" {
			t.Fatalf("round %d: ps -a still lists %q", i, out)
		}
	}
}

// With --sig-proxy=false a signal to a foreground run ends berth, not the
// container, which runs on under its monitor.
func TestRunNoSigProxy(t *testing.T) {
	c := newCLI(t)
	cmd := exec.Command(c.bin, "--root", c.root, "run", "--name", "sp", "--sig-proxy=false", "busybox:test",
		"sh", "-c", `trap "echo got-term" TERM; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.1; done; echo finished`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the container running", func() bool {
		return strings.Contains(c.run("ps", "--format", "{{.Names}}"), "sp")
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	eventually(t, "the container exited by itself", func() bool {
		return strings.Contains(c.run("ps", "-a", "--format", "{{.Names}} {{.Status}}"), "sp Exited (0)")
	})
	if logs := c.run("logs", "sp"); logs != "finished\n" {
		t.Errorf("logs = %q: the signal reached the container, or its output was lost", logs)
	}
}
