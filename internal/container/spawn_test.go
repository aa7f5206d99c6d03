package container

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// startAgent runs this test binary as the spawn agent (spawn.c), as a
// monitor runs its first start command: fd 3 the report pipe, fd 4 the
// caller's socket. It returns the agent, its command and the report.
func startAgent(t *testing.T) (*SpawnAgent, *exec.Cmd, *os.File) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "spawn"), os.NewFile(uintptr(fds[1]), "agent")
	report, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "_BERTH_SPAWN=4")
	cmd.ExtraFiles = []*os.File{w, theirs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	theirs.Close()
	t.Cleanup(func() { ours.Close(); report.Close() })
	return NewSpawnAgent(ours), cmd, report
}

func TestSpawnAgent(t *testing.T) {
	for _, started := range []bool{true, false} {
		agent, cmd, report := startAgent(t)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		pid, err := agent.Spawn(&SpawnRequest{
			Path: "/bin/sh", Args: []string{"sh", "-c", `echo "$GREETING from $PWD" >&3; exec sleep 60`},
			Env: []string{"GREETING=hello"}, Dir: "/tmp", Files: []*os.File{w},
		})
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Kill(pid, unix.SIGKILL)
		line, _ := bufio.NewReader(r).ReadString('\n')
		r.Close()
		if line != "hello from /tmp\n" {
			t.Errorf("the spawned process wrote %q on its fd 3", line)
		}
		if agent.Monitor != os.Getpid() {
			t.Errorf("the agent names %d its parent, not %d", agent.Monitor, os.Getpid())
		}
		if started {
			agent.Verdict(nil)
		} else {
			agent.Verdict(errors.New("the mount failed"))
		}
		b, _ := io.ReadAll(report)
		werr := cmd.Wait()
		if started {
			if string(b) != strconv.Itoa(pid)+"\n" || werr != nil {
				t.Errorf("after ok: report %q, exit %v; want the pid and 0", b, werr)
			}
			if err := unix.Kill(pid, 0); err != nil {
				t.Errorf("the started process is gone: %v", err)
			}
		} else {
			if string(b) != "the mount failed\n" || werr == nil {
				t.Errorf("after a failure: report %q, exit %v; want the message and 1", b, werr)
			}
			if err := unix.Kill(pid, 0); err == nil {
				t.Errorf("the process of a failed start still runs")
			}
		}
	}
}

func TestSpawnAgentFailures(t *testing.T) {
	agent, cmd, report := startAgent(t)
	_, err := agent.Spawn(&SpawnRequest{Path: "/no/such/program", Args: []string{"x"}})
	if err == nil || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("spawn of a missing program: %v", err)
	}
	b, _ := io.ReadAll(report)
	if cmd.Wait() == nil || !strings.Contains(string(b), "No such file") {
		t.Errorf("the agent reported %q", b)
	}

	// A caller that gives up before asking.
	agent, cmd, report = startAgent(t)
	agent.Verdict(errors.New("no image"))
	b, _ = io.ReadAll(report)
	if cmd.Wait() == nil || !strings.Contains(string(b), "given up") {
		t.Errorf("the agent reported %q", b)
	}
}
