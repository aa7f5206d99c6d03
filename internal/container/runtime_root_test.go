package container_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/container"
	"berth/internal/testfixture"
)

func TestMain(m *testing.M) {
	// Tests of the package's internals start the test binary itself as
	// a container's init.
	if container.IsInit() {
		container.InitMain()
	}
	code := m.Run()
	testfixture.RemoveBerth()
	os.Exit(code)
}

// rt drives berth-runc with a state root of its own, as a user would.
type rt struct {
	t        *testing.T
	runc     string
	stateDir string
}

func newRT(t *testing.T) *rt {
	t.Helper()
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	berth := testfixture.BuildBerth(t)
	r := &rt{t: t, runc: filepath.Join(filepath.Dir(berth), "berth-runc"), stateDir: t.TempDir()}
	t.Cleanup(func() {
		out, _ := exec.Command(r.runc, "--root", r.stateDir, "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(r.runc, "--root", r.stateDir, "delete", "-f", id).Run()
		}
	})
	return r
}

type result struct {
	stdout, stderr string
	code           int
}

func (r *rt) run(args ...string) result {
	r.t.Helper()
	cmd := exec.Command(r.runc, append([]string{"--root", r.stateDir}, args...)...)
	// Files, not pipes: a detached container keeps its stdio open, and
	// Run would wait for the pipes to close.
	out, errf := r.tempFile(), r.tempFile()
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	res := result{stdout: readAll(r.t, out), stderr: readAll(r.t, errf)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		r.t.Fatalf("berth-runc %v: %v", args, err)
	}
	return res
}

func (r *rt) tempFile() *os.File {
	f, err := os.CreateTemp(r.t.TempDir(), "out")
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { f.Close() })
	return f
}

func readAll(t *testing.T, f *os.File) string {
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (r *rt) must(args ...string) string {
	r.t.Helper()
	res := r.run(args...)
	if res.code != 0 {
		r.t.Fatalf("berth-runc %v: exit %d\nstdout: %s\nstderr: %s", args, res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

func (r *rt) state(id string) map[string]any {
	r.t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(r.must("state", id)), &st); err != nil {
		r.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

func (r *rt) waitStatus(id, want string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.state(id)["status"]
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("container %s is %v, want %s", id, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bundle makes a busybox bundle running args; edit changes its spec.
func bundle(t *testing.T, edit func(*specs.Spec), args ...string) string {
	t.Helper()
	dir := t.TempDir()
	s, err := testfixture.Bundle(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(s)
		if err := testfixture.WriteSpec(dir, s); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func id(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()) + "-" + strconv.Itoa(os.Getpid())
}

func TestRunIsolation(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) { s.Hostname = "box1" },
		"sh", "-c", "hostname; ps -o pid,comm; exit 7")
	res := r.run("run", "--bundle", b, id(t))
	if res.code != 7 {
		t.Fatalf("run: exit %d, want 7; stderr: %s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if lines[0] != "box1" {
		t.Errorf("hostname = %q, want box1", lines[0])
	}
	// Only the container's own processes: sh as PID 1 and ps itself.
	if len(lines) != 4 || !strings.HasPrefix(strings.TrimSpace(lines[2]), "1 ") {
		t.Errorf("ps inside the container shows other processes:\n%s", res.stdout)
	}
	if out := r.must("list", "-q"); out != "" {
		t.Errorf("run left containers behind: %q", out)
	}
	r.run("run", "--keep", "--bundle", b, id(t))
	if st := r.state(id(t))["status"]; st != "stopped" {
		t.Errorf("run --keep: container is %v, want stopped and kept", st)
	}
	r.must("delete", id(t))
}

func TestMemoryLimitEnforced(t *testing.T) {
	r := newRT(t)
	limit := int64(16 << 20)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	}, "sh", "-c", "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "+
		"head -c 64m /dev/zero | tail; echo rc=$?")
	out := r.must("run", "--bundle", b, id(t))
	// The container sees its own cgroup, through its cgroup namespace.
	if !strings.HasPrefix(out, "16777216\n") {
		t.Errorf("the container does not see its memory limit: %q", out)
	}
	if !strings.Contains(out, "rc=137") {
		t.Errorf("a 64 MiB allocation under a 16 MiB limit was not killed: %q", out)
	}
}

func TestMissingExecutable(t *testing.T) {
	r := newRT(t)
	b := bundle(t, nil, "no-such-program")
	res := r.run("run", "--bundle", b, id(t))
	if res.code != 127 || !strings.Contains(res.stderr, `"no-such-program"`) {
		t.Errorf("run of a missing program: exit %d, stderr %q; want 127 naming it", res.code, res.stderr)
	}
	assertNothingLeft(t, r, id(t))
}

func assertNothingLeft(t *testing.T, r *rt, id string) {
	t.Helper()
	if out := r.must("list", "-q"); out != "" {
		t.Errorf("failed create left containers: %q", out)
	}
	if _, err := os.Stat(filepath.Join(r.stateDir, id)); !os.IsNotExist(err) {
		t.Errorf("failed create left its state dir: %v", err)
	}
	for _, c := range []string{"memory", "pids", "unified"} {
		for _, p := range []string{"/sys/fs/cgroup/" + c + "/berth/" + id, "/sys/fs/cgroup/berth/" + id} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("failed create left cgroup %s", p)
			}
		}
	}
}

func TestInitErrorsNameTheCause(t *testing.T) {
	r := newRT(t)
	cases := []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"bad cwd", func(s *specs.Spec) { s.Process.Cwd = "/no/such/dir" }, `cwd ("/no/such/dir")`},
		{"not executable", func(s *specs.Spec) { s.Process.Args = []string{"/etc/passwd"} }, `"/etc/passwd"`},
		{"bad mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "nosuchfs", Source: "x"})
		}, "/mnt"},
		{"bad first mount", func(s *specs.Spec) {
			// It fails while the parent is still moving the init into
			// its cgroup.
			s.Mounts = append([]specs.Mount{{Destination: "/mnt", Type: "nosuchfs", Source: "x"}}, s.Mounts...)
		}, "mount nosuchfs"},
		{"unknown capability", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_NOPE")
		}, "CAP_NOPE"},
		{"host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, "vm.swappiness"},
		{"net sysctl in the host network namespace", func(s *specs.Spec) {
			for i, ns := range s.Linux.Namespaces {
				if ns.Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/proc/self/ns/net"
				}
			}
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "net.ipv4.ip_forward"},
		{"namespace path of another type", func(s *specs.Spec) {
			for i, ns := range s.Linux.Namespaces {
				if ns.Type == specs.CgroupNamespace {
					s.Linux.Namespaces[i].Path = "/proc/self/ns/ipc"
				}
			}
		}, "is not a cgroup namespace"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bundle(t, c.edit, "true")
			res := r.run("create", "--bundle", b, id(t))
			if res.code == 0 || !strings.Contains(res.stderr, c.want) {
				t.Errorf("create: exit %d, stderr %q; want a failure naming %q", res.code, res.stderr, c.want)
			}
			assertNothingLeft(t, r, id(t))
		})
	}
}

func TestLifecycleAndHooks(t *testing.T) {
	r := newRT(t)
	log := filepath.Join(t.TempDir(), "hooks.log")
	hook := func(name string) specs.Hook {
		// A hook reads the state from stdin; it records its name and the
		// status it was given.
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
			`st=$(cat); s=${st#*\"status\":\"}; echo "` + name + ` ${s%%\"*}" >> ` + log}}
	}
	b := bundle(t, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart:      []specs.Hook{hook("prestart")},
			CreateRuntime: []specs.Hook{hook("createRuntime")},
			Poststart:     []specs.Hook{hook("poststart")},
			Poststop:      []specs.Hook{hook("poststop")},
		}
	}, "sleep", "1000")
	c := id(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	r.must("create", "--bundle", b, "--pid-file", pidFile, c)
	st := r.state(c)
	if st["status"] != "created" || st["bundle"] != b {
		t.Errorf("after create: state %v", st)
	}
	pid, _ := os.ReadFile(pidFile)
	if fmt.Sprint(st["pid"]) != string(pid) {
		t.Errorf("pid file %q, state pid %v", pid, st["pid"])
	}
	if res := r.run("create", "--bundle", b, c); res.code == 0 || !strings.Contains(res.stderr, "already exists") {
		t.Errorf("second create with the same id: exit %d, %q", res.code, res.stderr)
	}
	r.must("start", c)
	r.waitStatus(c, "running")
	if res := r.run("delete", c); res.code == 0 || !strings.Contains(res.stderr, "not stopped") {
		t.Errorf("delete of a running container: exit %d, %q", res.code, res.stderr)
	}
	r.must("kill", c, "KILL")
	r.waitStatus(c, "stopped")
	r.must("delete", c)
	if res := r.run("state", c); res.code == 0 || !strings.Contains(res.stderr, "does not exist") {
		t.Errorf("state after delete: exit %d, %q", res.code, res.stderr)
	}
	got, _ := os.ReadFile(log)
	want := "prestart creating\ncreateRuntime creating\npoststart running\npoststop stopped\n"
	if string(got) != want {
		t.Errorf("hooks ran as\n%s\nwant\n%s", got, want)
	}
}

func TestExec(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) { s.Hostname = "exec-box" }, "sleep", "1000")
	c := id(t)
	r.must("run", "-d", "--bundle", b, c)
	out := r.must("exec", c, "sh", "-c", "hostname; ps -o pid,comm | grep -c sleep; cat /proc/1/comm")
	if out != "exec-box\n1\nsleep\n" {
		t.Errorf("exec sees %q; want the container's hostname and its PID 1", out)
	}
	if res := r.run("exec", c, "sh", "-c", "exit 5"); res.code != 5 {
		t.Errorf("exec exit status %d, want 5", res.code)
	}
	if res := r.run("exec", c, "nope"); res.code != 127 {
		t.Errorf("exec of a missing program: exit %d, want 127 (%s)", res.code, res.stderr)
	}
	out = r.must("exec", "--user", "1000:1000", "--cwd", "/tmp", "-e", "FOO=bar", c, "sh", "-c", "id -u; id -g; pwd; echo $FOO")
	if out != "1000\n1000\n/tmp\nbar\n" {
		t.Errorf("exec with user, cwd, env: %q", out)
	}
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.must("exec", "-d", "--pid-file", pidFile, c, "sleep", "999")
	if _, err := os.ReadFile(pidFile); err != nil {
		t.Errorf("exec -d wrote no pid file: %v", err)
	}
	var pids []int
	json.Unmarshal([]byte(r.must("ps", "--format", "json", c)), &pids)
	if len(pids) != 2 {
		t.Errorf("ps --format json lists %v, want the init and the detached exec", pids)
	}
}

// TestExecProcessFile runs, through exec --process, a process that sets
// everything the exec plan carries: user and groups, all five capability
// sets, no_new_privs, rlimits, umask, cwd and env, under the container's
// seccomp filter.
func TestExecProcessFile(t *testing.T) {
	r := newRT(t)
	enosys := uint(38)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &enosys}},
		}
	}, "sleep", "1000")
	c := id(t)
	r.must("run", "-d", "--bundle", b, c)
	caps := []string{"CAP_CHOWN", "CAP_KILL"}
	umask := uint32(0o077)
	p := specs.Process{
		Args: []string{"sh", "-c", "id; ulimit -n; ulimit -Hn; umask; pwd; echo $FOO; grep -E '^(Cap|NoNewPrivs)' /proc/self/status; mkdir /tmp/x 2>&1; true"},
		Env:  []string{"PATH=/bin", "FOO=from the plan"},
		Cwd:  "/tmp",
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: &umask},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: caps, Permitted: caps, Effective: caps, Inheritable: caps, Ambient: caps,
		},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456}},
		NoNewPrivileges: true,
	}
	raw, _ := json.Marshal(p)
	file := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out := r.must("exec", "--process", file, c)
	for _, want := range []string{
		"uid=1000(app) gid=1000(app) groups=10,20", "\n123\n456\n0077\n/tmp\nfrom the plan\n",
		"CapEff:\t0000000000000021", "CapBnd:\t0000000000000021", "CapAmb:\t0000000000000021",
		"NoNewPrivs:\t1", "Function not implemented",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if res := r.run("exec", c, "/etc"); res.code != 126 || !strings.Contains(res.stderr, `exec: "/etc": is a directory`) {
		t.Errorf("exec of a directory: exit %d, %q; want 126 and the reason", res.code, res.stderr)
	}
	if res := r.run("exec", "--cwd", "/nope", c, "true"); res.code == 0 || !strings.Contains(res.stderr, `chdir to the process's cwd ("/nope")`) {
		t.Errorf("exec with a missing cwd: exit %d, %q", res.code, res.stderr)
	}
}

func TestPauseResumeUpdate(t *testing.T) {
	r := newRT(t)
	b := bundle(t, nil, "sleep", "1000")
	c := id(t)
	r.must("run", "-d", "--bundle", b, c)
	r.must("pause", c)
	if st := r.state(c)["status"]; st != "paused" {
		t.Errorf("after pause: %v", st)
	}
	r.must("resume", c)
	if st := r.state(c)["status"]; st != "running" {
		t.Errorf("after resume: %v", st)
	}
	r.must("update", "--memory", "48m", "--pids-limit", "20", c)
	var ev struct {
		Data struct {
			Memory struct {
				Usage struct{ Limit uint64 } `json:"usage"`
			} `json:"memory"`
			Pids struct{ Limit uint64 } `json:"pids"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.must("events", "--stats", c)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Data.Memory.Usage.Limit != 48<<20 || ev.Data.Pids.Limit != 20 {
		t.Errorf("after update: memory limit %d, pids limit %d", ev.Data.Memory.Usage.Limit, ev.Data.Pids.Limit)
	}
	// The recorded spec, which create keeps as config.json was, follows.
	b2, err := os.ReadFile(filepath.Join(r.stateDir, c, "spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b2), `"limit":50331648`) {
		t.Errorf("the recorded spec misses the update: %s", b2)
	}
}

// TestRunForwardsSignals: a signal sent to `run` reaches the container's
// process, which decides what it means.
func TestRunForwardsSignals(t *testing.T) {
	r := newRT(t)
	b := bundle(t, nil, "sh", "-c", "trap 'exit 42' USR1; touch /ready; while :; do sleep 0.05; done")
	cmd := exec.Command(r.runc, "--root", r.stateDir, "run", "--bundle", b, id(t))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(b, "rootfs", "ready")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the container did not start")
		}
	}
	cmd.Process.Signal(unix.SIGUSR1)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 {
		t.Fatalf("run after SIGUSR1: %v, want exit 42 from the container's trap", err)
	}
	if out := r.must("list", "-q"); out != "" {
		t.Errorf("run left containers behind: %q", out)
	}
}

func TestCapabilitiesUserAndNoNewPrivs(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
		caps := []string{"CAP_CHOWN", "CAP_KILL"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Permitted: caps, Effective: caps, Inheritable: caps, Ambient: caps}
	}, "sh", "-c", "id; grep -E '^(Cap|NoNewPrivs)' /proc/self/status")
	out := r.must("run", "--bundle", b, id(t))
	for _, want := range []string{
		"uid=1000(app) gid=1000(app) groups=10,20", "CapEff:\t0000000000000021", "CapBnd:\t0000000000000021",
		"CapAmb:\t0000000000000021", "NoNewPrivs:\t1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestSeccompFilter(t *testing.T) {
	r := newRT(t)
	enosys := uint(38)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &enosys}},
		}
	}, "sh", "-c", "mkdir /tmp/x 2>&1; echo after")
	out := r.must("run", "--bundle", b, id(t))
	if !strings.Contains(out, "Function not implemented") || !strings.Contains(out, "after") {
		t.Errorf("mkdir under a filter returning ENOSYS: %q", out)
	}
}

func TestReadonlyRootMaskedPaths(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) { s.Root.Readonly = true },
		"sh", "-c", "touch /x 2>&1; wc -c < /proc/timer_list; echo 1 > /proc/sys/kernel/domainname 2>&1; echo ok")
	out := r.must("run", "--bundle", b, id(t))
	for _, want := range []string{"Read-only file system", "\n0\n", "ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %q", want, out)
		}
	}
}

func TestUserNamespace(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}, "sh", "-c", "id -u; cat /proc/self/uid_map")
	// The container's root is uid 100000 on the host: it must be able to
	// reach its rootfs through the test's private temp dirs.
	for _, d := range []string{b, filepath.Dir(b)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := r.must("run", "--bundle", b, id(t))
	f := strings.Fields(out)
	if len(f) != 4 || f[0] != "0" || f[1] != "0" || f[2] != "100000" || f[3] != "65536" {
		t.Errorf("in a user namespace: %q, want root mapped to 100000", out)
	}
}

func TestJoinNamespaceByPath(t *testing.T) {
	r := newRT(t)
	a := id(t) + "-a"
	r.must("run", "-d", "--bundle", bundle(t, func(s *specs.Spec) { s.Hostname = "shared-uts" }, "sleep", "1000"), a)
	pid := fmt.Sprint(r.state(a)["pid"])
	b := bundle(t, func(s *specs.Spec) {
		s.Hostname = ""
		for i, ns := range s.Linux.Namespaces {
			switch ns.Type {
			case specs.UTSNamespace, specs.PIDNamespace:
				s.Linux.Namespaces[i].Path = "/proc/" + pid + "/ns/" + map[specs.LinuxNamespaceType]string{
					specs.UTSNamespace: "uts", specs.PIDNamespace: "pid"}[ns.Type]
			}
		}
	}, "sh", "-c", "hostname; cat /proc/1/comm")
	// The joiner's /proc is its own mount of procfs, in the pid namespace
	// it joined, so PID 1 there is the first container's sleep.
	out := r.must("run", "--bundle", b, id(t)+"-b")
	if out != "shared-uts\nsleep\n" {
		t.Errorf("joined namespaces show %q", out)
	}
	// Joining only the UTS namespace, with a new pid namespace.
	b = bundle(t, func(s *specs.Spec) {
		s.Hostname = ""
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.UTSNamespace {
				s.Linux.Namespaces[i].Path = "/proc/" + pid + "/ns/uts"
			}
		}
	}, "sh", "-c", "hostname; cat /proc/1/comm")
	if out := r.must("run", "--bundle", b, id(t)+"-c"); out != "shared-uts\ncat\n" { // sh execs its last command: cat is PID 1
		t.Errorf("joined UTS namespace with a pid namespace of its own shows %q", out)
	}
}

func TestTimeNamespace(t *testing.T) {
	r := newRT(t)
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("needs time namespaces (Linux 5.6)")
	}
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 10 * 86400}}
	}, "cat", "/proc/uptime")
	out := r.must("run", "--bundle", b, id(t))
	up, err := strconv.ParseFloat(strings.Fields(out)[0], 64)
	if err != nil || up < 10*86400 {
		t.Errorf("uptime in a time namespace 10 days ahead: %q", out)
	}
}

func TestNoHostFDLeaks(t *testing.T) {
	r := newRT(t)
	b := bundle(t, nil, "ls", "/proc/self/fd")
	leak, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	cmd := exec.Command(r.runc, "--root", r.stateDir, "run", "--bundle", b, id(t))
	cmd.ExtraFiles = []*os.File{leak} // inherited without close-on-exec, as fd 3
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	// ls itself holds fd 3 for the directory it reads.
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("container sees fds %v, want only stdio and ls's own", got)
	}
}

func TestInitBinaryIsReadOnly(t *testing.T) {
	r := newRT(t)
	c := id(t)
	r.must("create", "--bundle", bundle(t, nil, "true"), c)
	pid := fmt.Sprint(r.state(c)["pid"])
	// While the init runs, writing would fail with ETXTBSY anyway; what
	// protects berth once it stops running is the read-only mount.
	fd, err := unix.Open("/proc/"+pid+"/exe", unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		t.Fatal(err)
	}
	if st.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("the init's binary is on a writable mount (flags %#x)", st.Flags)
	}
}

func TestProcessSettings(t *testing.T) {
	r := newRT(t)
	adj := 500
	umask := uint32(0o077)
	b := bundle(t, func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}}
		s.Process.OOMScoreAdj = &adj
		s.Process.User.Umask = &umask
		s.Linux.Sysctl = map[string]string{"kernel.shmmax": "123456789", "net.ipv4.ip_forward": "1"}
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 3}
	}, "sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; umask; "+
		"cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward; uname -m")
	out := r.must("run", "--bundle", b, id(t))
	want := "512\n1024\n500\n0077\n123456789\n1\ni686\n"
	if out != want {
		t.Errorf("process settings:\n%s\nwant\n%s", out, want)
	}
}

func TestContainerHooksAndNoPivot(t *testing.T) {
	r := newRT(t)
	b := t.TempDir()
	// The createContainer hook runs before pivot_root, in the container's
	// mount namespace, so it reaches the rootfs by its host path; the
	// startContainer hook runs after, with the container's paths.
	s, err := testfixture.Bundle(b, "sh", "-c", "cat /tmp/started; grep -o '\"status\":\"[a-z]*\"' /created")
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(b, "rootfs")
	s.Hooks = &specs.Hooks{
		CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + rootfs + "/created"}}},
		StartContainer:  []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo started > /tmp/started"}}},
	}
	if err := testfixture.WriteSpec(b, s); err != nil {
		t.Fatal(err)
	}
	out := r.must("run", "--no-pivot", "--bundle", b, id(t))
	if out != "started\n\"status\":\"creating\"\n" {
		t.Errorf("hooks in the container's namespaces, with --no-pivot: %q", out)
	}
}

func TestCgroupOfAnotherContainerRefused(t *testing.T) {
	r1, r2 := newRT(t), newRT(t)
	c := id(t)
	b := bundle(t, nil, "sleep", "1000")
	r1.must("run", "-d", "--bundle", b, c)
	// Same id under another state root: same default cgroup path.
	res := r2.run("run", "-d", "--bundle", b, c)
	if res.code == 0 || !strings.Contains(res.stderr, "already holds") {
		t.Fatalf("second container in a busy cgroup: exit %d, %q", res.code, res.stderr)
	}
	// The refusal left the first container's cgroup alone.
	if st := r1.state(c)["status"]; st != "running" {
		t.Errorf("first container is %v after the refused create", st)
	}
	r1.must("delete", "-f", c)
}

func TestSeccompNotifyListener(t *testing.T) {
	r := newRT(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		// The agent: take the listener fd and the state, then close the
		// fd, after which notified syscalls fail with ENOSYS.
		c, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		f, err := c.(*net.UnixConn).File()
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(int(f.Fd()), buf, oob, 0)
		if err != nil {
			got <- err.Error()
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) == 1 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil {
				for _, fd := range fds {
					unix.Close(fd)
				}
			}
		}
		got <- string(buf[:n])
	}()
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction:    specs.ActAllow,
			ListenerPath:     sock,
			ListenerMetadata: "from-test",
			Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
		}
	}, "sh", "-c", "mkdir /tmp/x 2>&1; echo after")
	out := r.must("run", "--bundle", b, id(t))
	if !strings.Contains(out, "Function not implemented") || !strings.Contains(out, "after") {
		t.Errorf("mkdir after the agent closed the listener: %q", out)
	}
	select {
	case state := <-got:
		var cps specs.ContainerProcessState
		if err := json.Unmarshal([]byte(state), &cps); err != nil {
			t.Fatalf("agent got %q: %v", state, err)
		}
		if len(cps.Fds) != 1 || cps.Fds[0] != specs.SeccompFdName || cps.Metadata != "from-test" || cps.State.ID != id(t) {
			t.Errorf("agent got state %+v", cps)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the seccomp agent got nothing")
	}
}

func TestHostNamespaces(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		// No namespace of its own: it shares every one of the host's.
		s.Linux.Namespaces = nil
		s.Hostname = ""
		s.Mounts = nil
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}, "sh", "-c", "echo in-root > /marker")
	c := id(t)
	r.must("create", "--bundle", b, c)
	st := r.state(c)
	if st["status"] != "created" {
		t.Fatalf("after create: %v", st)
	}
	pid := fmt.Sprint(st["pid"])
	for _, ns := range []string{"mnt", "pid", "net", "uts", "ipc"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		got, err := os.Readlink("/proc/" + pid + "/ns/" + ns)
		if err != nil || got != host {
			t.Errorf("%s namespace %q, host's %q (%v)", ns, got, host, err)
		}
	}
	r.must("start", c)
	r.waitStatus(c, "stopped")
	// The process ran chrooted into the bundle's root.
	if b, err := os.ReadFile(filepath.Join(b, "rootfs", "marker")); err != nil || string(b) != "in-root\n" {
		t.Errorf("marker in the rootfs: %q, %v", b, err)
	}
}

func TestRelativeCgroupsPathFromAnotherCgroup(t *testing.T) {
	r := newRT(t)
	if _, err := os.Stat("/sys/fs/cgroup/memory/cgroup.procs"); err != nil {
		t.Skip("needs the cgroup v1 memory controller")
	}
	c := id(t)
	t.Cleanup(func() {
		// delete removes the container's cgroup, not the parent the
		// relative path made (runc leaves it too).
		own, _ := os.ReadFile("/proc/self/cgroup")
		for _, l := range strings.Split(string(own), "\n") {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 {
				name := strings.TrimPrefix(strings.Split(f[1], ",")[0], "name=")
				if name == "" {
					name = "unified"
				}
				os.Remove(filepath.Join("/sys/fs/cgroup", name, f[2], "berth-test-rel"))
			}
		}
	})
	b := bundle(t, func(s *specs.Spec) { s.Linux.CgroupsPath = "berth-test-rel/" + c }, "sleep", "1000")
	r.must("run", "-d", "--bundle", b, c)
	pid := fmt.Sprint(r.state(c)["pid"])
	cg, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var memDir string
	for _, l := range strings.Split(string(cg), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && f[1] == "memory" {
			memDir = "/sys/fs/cgroup/memory" + f[2]
		}
	}
	// Update from a shell in the root memory cgroup: the relative path
	// must still mean what it meant at create.
	script := "echo $$ > /sys/fs/cgroup/memory/cgroup.procs && exec " + r.runc + " --root " + r.stateDir + " update --memory 100m " + c
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("update from another cgroup: %v: %s", err, out)
	}
	if got, _ := os.ReadFile(memDir + "/memory.limit_in_bytes"); strings.TrimSpace(string(got)) != "104857600" {
		t.Errorf("memory limit in %s is %q after update", memDir, got)
	}
	r.must("delete", "-f", c)
	if _, err := os.Stat(memDir); !os.IsNotExist(err) {
		t.Errorf("delete left %s behind (%v)", memDir, err)
	}
}

func TestRelativeBindSourceIsTheBundles(t *testing.T) {
	r := newRT(t)
	b := bundle(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "data", Options: []string{"rbind", "ro"}})
	}, "cat", "/data/hello")
	if err := os.MkdirAll(filepath.Join(b, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "data", "hello"), []byte("from the bundle\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// berth runs elsewhere: the source is still the bundle's.
	cmd := exec.Command(r.runc, "--root", r.stateDir, "run", "--bundle", b, id(t))
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "from the bundle\n" {
		t.Errorf("relative bind source: %q, %v", out, err)
	}
}
