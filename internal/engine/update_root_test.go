package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"berth/internal/cgroup"
)

// cgroupFile reads a control file of the cgroup that the container's
// init is in: v1name in controller ctrl's hierarchy on cgroup v1, v2name
// on cgroup v2.
func (c *cli) cgroupFile(name, ctrl, v1name, v2name string) string {
	c.t.Helper()
	pid := strings.TrimSpace(c.run("inspect", "-f", "{{.State.Pid}}", name))
	f, err := os.Open("/proc/" + pid + "/cgroup")
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	paths, err := cgroup.ParseProcCgroup(f)
	if err != nil {
		c.t.Fatal(err)
	}
	file := filepath.Join(cgroup.DefaultRoot, ctrl, paths[ctrl], v1name)
	if cgroup.Detect() == cgroup.Unified {
		file = filepath.Join(cgroup.DefaultRoot, paths[""], v2name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// memLimit is the memory limit in the container's cgroup.
func (c *cli) memLimit(name string) string {
	c.t.Helper()
	return c.cgroupFile(name, "memory", "memory.limit_in_bytes", "memory.max")
}

// stopAtEnd stops the containers before newCLI's cleanup removes them
// with their root: stop waits for each monitor to finish, which would
// otherwise write under the root while it is being removed.
func (c *cli) stopAtEnd() {
	c.t.Cleanup(func() {
		if ids := strings.Fields(c.run("ps", "-q")); len(ids) > 0 {
			c.runErr(nil, append([]string{"stop", "-t", "0"}, ids...)...)
		}
	})
}

func TestUpdateMemory(t *testing.T) {
	c := newCLI(t)
	c.stopAtEnd()
	c.run("run", "-d", "--name", "mem", "busybox:test", "sleep", "1000")
	unlimited := c.memLimit("mem")

	// A limit below what the container uses comes back as an error that
	// says so, and changes nothing. On cgroup v2 the kernel does not
	// refuse it: it reclaims, then kills.
	if cgroup.Detect() == cgroup.Legacy {
		c.run("exec", "mem", "sh", "-c", "head -c 30000000 /dev/zero > /dev/shm/fill")
		out, err := c.runErr(nil, "update", "--memory", "10m", "mem")
		if err == nil || !strings.Contains(out, "--memory 10MiB is below what it uses now") {
			t.Errorf("update --memory below usage: %v\n%s", err, out)
		}
		if got := c.memLimit("mem"); got != unlimited {
			t.Errorf("after a refused update the limit is %s, want %s", got, unlimited)
		}
		if got := c.run("inspect", "-f", "{{json .HostConfig.Memory}}", "mem"); got != "0\n" {
			t.Errorf("a refused update was recorded: Memory %s", got)
		}
		c.run("exec", "mem", "rm", "/dev/shm/fill")
	}

	if got := c.run("update", "--memory", "20m", "--memory-swap", "20m", "mem"); got != "mem\n" {
		t.Errorf("update printed %q", got)
	}
	if got := c.memLimit("mem"); got != "20971520" {
		t.Errorf("memory limit in the cgroup: %s, want 20971520", got)
	}
	// More than the limit, with no swap allowed: the kernel kills it.
	hog := `x=$(head -c 40000000 /dev/zero | tr "\0" a); echo survived`
	if out, err := c.runErr(nil, "exec", "mem", "sh", "-c", hog); err == nil || strings.Contains(out, "survived") {
		t.Errorf("a process allocating 40 MB under a 20 MiB limit survived: %v\n%s", err, out)
	}
	if out := c.run("exec", "mem", "sh", "-c", `x=$(head -c 4000000 /dev/zero | tr "\0" a); echo survived`); out != "survived\n" {
		t.Errorf("4 MB under a 20 MiB limit: %q", out)
	}
	want := "20971520 20971520"
	if got := strings.TrimSpace(c.run("inspect", "-f", "{{json .HostConfig.Memory}} {{json .HostConfig.MemorySwap}}", "mem")); got != want {
		t.Errorf("inspect: %s, want %s", got, want)
	}
	// A later start keeps the limit.
	c.run("stop", "-t", "0", "mem")
	c.run("start", "mem")
	if got := c.memLimit("mem"); got != "20971520" {
		t.Errorf("memory limit after a restart: %s, want 20971520", got)
	}

	// Docker's rules.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"update", "mem"}, "you must provide one or more flags"},
		{[]string{"update", "--memory", "4m", "mem"}, "the minimum is 6MiB"},
		{[]string{"update", "--memory", "64m", "mem"}, "set --memory-swap too"},
		{[]string{"update", "--memory-swap", "10m", "mem"}, "below the memory limit"},
		{[]string{"update", "--memory-reservation", "30m", "mem"}, "above the memory limit"},
		{[]string{"update", "--memory", "20m", "nope"}, "No such container: nope"},
	} {
		out, err := c.runErr(nil, tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("berth %s: %v, %q; want an error with %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}

func TestUpdatePidsLimit(t *testing.T) {
	c := newCLI(t)
	c.stopAtEnd()
	// The container forks eight children once /go appears.
	script := `while [ ! -e /go ]; do sleep 0.1; done; i=0; while [ $i -lt 8 ]; do sleep 100 & i=$((i+1)); done; echo forked all`
	id := strings.TrimSpace(c.run("run", "-d", "--name", "forks", "busybox:test", "sh", "-c", script))
	c.run("update", "--pids-limit", "5", "forks")
	if got := c.cgroupFile("forks", "pids", "pids.max", "pids.max"); got != "5" {
		t.Errorf("pids.max = %s, want 5", got)
	}
	if got := c.run("inspect", "-f", "{{json .HostConfig.PidsLimit}}", "forks"); got != "5\n" {
		t.Errorf("inspect PidsLimit = %s", got)
	}
	// The host writes /go through the container's root filesystem.
	if err := os.WriteFile(filepath.Join(c.root, "containers", id, "rootfs", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The shell gives up at the first fork that fails.
	eventually(t, "the container to exit", func() bool {
		return strings.TrimSpace(c.run("inspect", "-f", "{{.State.Status}}", "forks")) == "exited"
	})
	logs, _ := os.ReadFile(filepath.Join(c.root, "containers", id, "json.log"))
	if !strings.Contains(string(logs), "can't fork") || strings.Contains(string(logs), "forked all") {
		t.Errorf("forks under --pids-limit 5 did not fail: %s", logs)
	}
}

func TestUpdateStoppedAndRestart(t *testing.T) {
	c := newCLI(t)
	c.stopAtEnd()
	// A stopped container's update is only recorded, and its next start
	// applies it.
	c.run("create", "--name", "idle", "busybox:test", "sleep", "1000")
	c.run("update", "--memory", "32m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "100",
		"--memory-reservation", "16m", "--restart", "on-failure:3", "idle")
	got := c.run("inspect", "-f", "{{json .HostConfig.Memory}} {{json .HostConfig.MemorySwap}} {{json .HostConfig.MemoryReservation}} "+
		"{{json .HostConfig.NanoCpus}} {{json .HostConfig.CpuShares}} {{json .HostConfig.PidsLimit}} {{json .HostConfig.RestartPolicy}}", "idle")
	want := `33554432 67108864 16777216 500000000 512 100 {"MaximumRetryCount":3,"Name":"on-failure"}` + "\n"
	if got != want {
		t.Errorf("inspect after update:\n%s want\n%s", got, want)
	}
	c.run("start", "idle")
	if got := c.memLimit("idle"); got != "33554432" {
		t.Errorf("memory limit after start: %s", got)
	}
	if got := c.cgroupFile("idle", "pids", "pids.max", "pids.max"); got != "100" {
		t.Errorf("pids.max after start: %s", got)
	}
	if got := c.cgroupFile("idle", "cpu", "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
		t.Errorf("cpu quota after start: %s", got)
	}

	// --restart no reaches a running monitor: it restarts no more.
	c.run("run", "-d", "--name", "flappy", "--restart", "always", "busybox:test", "sh", "-c", "sleep 0.2; exit 3")
	eventually(t, "a restart", func() bool {
		return strings.TrimSpace(c.run("inspect", "-f", "{{.RestartCount}}", "flappy")) != "0"
	})
	c.run("update", "--restart", "no", "flappy")
	eventually(t, "the restarts to stop", func() bool {
		return strings.TrimSpace(c.run("inspect", "-f", "{{.State.Status}}", "flappy")) == "exited"
	})
	if got := c.run("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "flappy"); got != "no\n" {
		t.Errorf("restart policy after update: %s", got)
	}

	// A container run with --rm keeps "no".
	c.run("run", "-d", "--rm", "--name", "tmp", "busybox:test", "sleep", "1000")
	if out, err := c.runErr(nil, "update", "--restart", "always", "tmp"); err == nil || !strings.Contains(out, "--rm") {
		t.Errorf("update --restart of a --rm container: %v, %q", err, out)
	}
}
