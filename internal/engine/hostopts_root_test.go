package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"berth/internal/testfixture"
)

// runWith runs script in a busybox container with host options h and
// returns its exit code and output.
func runWith(t *testing.T, e *Engine, h HostOptions, script string) (int, string) {
	t.Helper()
	return run(t, e, CreateOptions{Image: "busybox:test", Args: []string{"sh", "-c", script}, Config: Config{HostOptions: h}})
}

func TestCapAddDrop(t *testing.T) {
	e := newEngine(t)
	code, out := runWith(t, e, HostOptions{CapDrop: []string{"ALL"}}, "touch /f && chown 1000 /f")
	if code == 0 || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("--cap-drop ALL: chown exit %d, %q; want it refused", code, out)
	}
	code, out = runWith(t, e, HostOptions{CapDrop: []string{"ALL"}, CapAdd: []string{"chown"}},
		"touch /f && chown 1000 /f && grep CapEff /proc/self/status")
	if code != 0 || !strings.Contains(out, "CapEff:\t0000000000000001") {
		t.Errorf("--cap-drop ALL --cap-add chown: exit %d, %q; want chown to work and CAP_CHOWN alone", code, out)
	}
	// A capability added brings its syscalls into the seccomp profile:
	// CAP_SYS_ADMIN, mount.
	code, out = runWith(t, e, HostOptions{CapAdd: []string{"SYS_ADMIN"}}, "mkdir /m && mount -t tmpfs none /m")
	if code != 0 {
		t.Errorf("--cap-add SYS_ADMIN: mount exit %d, %q", code, out)
	}
}

func TestPrivileged(t *testing.T) {
	e := newEngine(t)
	// Every capability berth holds itself.
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	_, bounding, _ := strings.Cut(string(b), "CapBnd:")
	all := "CapEff:" + strings.SplitN(bounding, "\n", 2)[0]
	// The host's devices are there, and may be opened.
	devices := "echo devices"
	if _, err := os.Stat("/dev/loop-control"); err == nil {
		devices = ": < /dev/loop-control && " + devices
	}
	code, out := runWith(t, e, HostOptions{Privileged: true}, `
		grep -E 'CapEff|Seccomp:' /proc/self/status
		mkdir /m && mount -t tmpfs none /m && echo mounted
		grep -q ' /sys sysfs rw' /proc/mounts && echo sys rw
		grep -qE ' /proc/(keys|kcore) ' /proc/self/mountinfo || echo unmasked
		`+devices)
	for _, want := range []string{all, "Seccomp:\t0", "mounted", "sys rw", "unmasked", "devices"} {
		if !strings.Contains(out, want) {
			t.Errorf("--privileged: no %q in exit %d, %q", want, code, out)
		}
	}
	// Without it, the same container has the defaults.
	_, out = runWith(t, e, HostOptions{}, "grep -E 'CapEff|Seccomp:' /proc/self/status; mkdir /m && mount -t tmpfs none /m || echo refused")
	if !strings.Contains(out, "CapEff:\t00000000a80425fb") || !strings.Contains(out, "Seccomp:\t2") || !strings.Contains(out, "refused") {
		t.Errorf("default: %q", out)
	}
}

func TestSecurityOpt(t *testing.T) {
	e := newEngine(t)
	// unshare is not allowed by the default profile without
	// CAP_SYS_ADMIN; a user namespace needs no capability of its own.
	code, out := runWith(t, e, HostOptions{}, "unshare -Un true")
	if code == 0 {
		t.Errorf("default profile: unshare -Un worked: %q", out)
	}
	code, out = runWith(t, e, HostOptions{SecurityOpt: []string{"seccomp=unconfined"}}, "unshare -Un true && grep Seccomp: /proc/self/status")
	if code != 0 || !strings.Contains(out, "Seccomp:\t0") {
		t.Errorf("seccomp=unconfined: exit %d, %q", code, out)
	}
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`
	code, out = runWith(t, e, HostOptions{SecurityOpt: []string{"seccomp=" + profile}}, "mkdir /d")
	if code == 0 || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("a profile that denies mkdir: exit %d, %q", code, out)
	}
	_, out = runWith(t, e, HostOptions{}, "grep NoNewPrivs /proc/self/status")
	if !strings.Contains(out, "NoNewPrivs:\t1") {
		t.Errorf("default: %q, want no_new_privs", out)
	}
	_, out = runWith(t, e, HostOptions{SecurityOpt: []string{"no-new-privileges=false"}}, "grep NoNewPrivs /proc/self/status")
	if !strings.Contains(out, "NoNewPrivs:\t0") {
		t.Errorf("no-new-privileges=false: %q", out)
	}
}

func TestDeviceFlags(t *testing.T) {
	e := newEngine(t)
	code, out := runWith(t, e, HostOptions{Devices: []DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rwm"}}},
		"echo x > /dev/mynull && stat -c '%t:%T' /dev/mynull")
	if code != 0 || out != "1:3\n" {
		t.Errorf("--device /dev/null:/dev/mynull: exit %d, %q", code, out)
	}
	var st unix.Stat_t
	if err := unix.Stat("/dev/loop-control", &st); err != nil {
		t.Skip("no /dev/loop-control on this host to test a device that is not allowed by default")
	}
	node := fmt.Sprintf("mknod /dev/lc c %d %d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	// A node may be made, but not opened, unless it is allowed.
	code, out = runWith(t, e, HostOptions{}, node+" && cat /dev/lc")
	if code == 0 || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("an undeclared device: exit %d, %q; want it refused", code, out)
	}
	code, out = runWith(t, e, HostOptions{Devices: []DeviceMapping{{PathOnHost: "/dev/loop-control", PathInContainer: "/dev/lc", CgroupPermissions: "r"}}},
		": </dev/lc && echo read; echo -n 2>/dev/null >/dev/lc || echo write refused")
	if out != "read\nwrite refused\n" {
		t.Errorf("--device /dev/loop-control:/dev/lc:r: exit %d, %q", code, out)
	}
	rule := fmt.Sprintf("c %d:%d r", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	code, out = runWith(t, e, HostOptions{DeviceCgroupRules: []string{rule}}, node+" && : < /dev/lc && echo read")
	if code != 0 || out != "read\n" {
		t.Errorf("--device-cgroup-rule %q: exit %d, %q", rule, code, out)
	}
}

func TestUlimitTmpfsAddHost(t *testing.T) {
	e := newEngine(t)
	h := HostOptions{
		Ulimits:    []Ulimit{{Name: "nofile", Soft: 100, Hard: 200}},
		Tmpfs:      map[string]string{"/scratch": "size=1m,mode=700", "/run/x": "exec"},
		ExtraHosts: []string{"db:10.1.2.3", "v6:2001:db8::1"},
	}
	code, out := runWith(t, e, h, "ulimit -n; ulimit -Hn; grep -E ' /(scratch|run/x) ' /proc/mounts; tail -n 2 /etc/hosts")
	want := "100\n200\n" +
		"tmpfs /run/x tmpfs rw,nosuid,nodev,relatime 0 0\n" +
		"tmpfs /scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700 0 0\n" +
		"10.1.2.3\tdb\n2001:db8::1\tv6\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, output\n%s\nwant\n%s", code, out, want)
	}
}

func TestInit(t *testing.T) {
	e := newEngine(t)
	e.InitPath = testfixture.BuildInit(t)
	// The orphan, a sleep whose shell has exited, is reparented to PID
	// 1, which has to reap it; no process may stay a zombie.
	code, out := runWith(t, e, HostOptions{Init: true},
		`tr '\0' ' ' < /proc/1/cmdline; echo; sh -c 'sleep 0.2 &'; sleep 0.6; cat /proc/[0-9]*/stat | awk '$3 == "Z"'; exit 3`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 3 || len(lines) != 1 || !strings.HasPrefix(lines[0], "/sbin/berth-init -- sh -c") {
		t.Errorf("exit %d, %q; want 3, the init as PID 1, and no zombie", code, out)
	}

	// A signal to the container reaches the command through the init,
	// and its exit code comes back: a shell as PID 1 would not die of
	// SIGTERM.
	c, err := e.Create(CreateOptions{Image: "busybox:test", Args: []string{"sleep", "100"}, Config: Config{HostOptions: HostOptions{Init: true}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		code, _ := e.RunAttached(c, Stdio{Out: os.Stderr, Err: os.Stderr})
		done <- code
	}()
	eventually(t, "the container to run", func() bool {
		c, err := e.Lookup(c.ID)
		return err == nil && e.Status(c) == StatusRunning
	})
	time.Sleep(200 * time.Millisecond) // until the init has forked
	if err := e.Kill(c, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 128+int(unix.SIGTERM) {
			t.Errorf("killed with SIGTERM: exit %d, want %d", code, 128+int(unix.SIGTERM))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop the container")
	}
}

// Through the berth binary: the flags are recorded, inspect shows them in
// HostConfig, --cidfile gets the ID, and bad flags create nothing.
func TestHostOptionsCLI(t *testing.T) {
	c := newCLI(t)
	cid := filepath.Join(t.TempDir(), "cid")
	id := strings.TrimSpace(c.run("create", "--name", "opts", "--cidfile", cid, "--cap-add", "net_admin", "--cap-drop", "chown",
		"--device", "/dev/null:/dev/mynull:rw", "--ulimit", "nofile=100:200", "--tmpfs", "/scratch:size=1m",
		"--add-host", "db:10.0.0.1", "--security-opt", "no-new-privileges=false", "busybox:test", "true"))
	if b, err := os.ReadFile(cid); err != nil || string(b) != id {
		t.Errorf("--cidfile holds %q, %v; want %q", b, err, id)
	}
	got := c.run("inspect", "-f", "{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{json .HostConfig.Devices}} "+
		"{{json .HostConfig.Ulimits}} {{json .HostConfig.Tmpfs}} {{json .HostConfig.ExtraHosts}} {{json .HostConfig.SecurityOpt}} "+
		"{{.HostConfig.Privileged}} {{.HostConfig.ContainerIDFile}}", "opts")
	want := `["CAP_NET_ADMIN"] ["CAP_CHOWN"] [{"CgroupPermissions":"rw","PathInContainer":"/dev/mynull","PathOnHost":"/dev/null"}] ` +
		`[{"Hard":200,"Name":"nofile","Soft":100}] {"/scratch":"size=1m"} ["db:10.0.0.1"] ["no-new-privileges=false"] false ` + cid + "\n"
	if got != want {
		t.Errorf("inspect:\n%s\nwant\n%s", got, want)
	}
	// The cidfile exists now: the next create is refused, and makes
	// nothing.
	if out, err := c.runErr(nil, "create", "--cidfile", cid, "busybox:test", "true"); err == nil || !strings.Contains(out, "container ID file found") {
		t.Errorf("a second create with the cidfile: %v, %s", err, out)
	}
	for _, bad := range [][]string{{"--cap-add", "fly"}, {"--device", "/dev/no-such-device"}, {"--ulimit", "nofile=2:1"},
		{"--security-opt", "seccomp=/no/such/file.json"}, {"--tmpfs", "relative"}, {"--add-host", "db"}} {
		out, err := c.runErr(nil, append(append([]string{"create"}, bad...), "busybox:test", "true")...)
		if err == nil || !strings.Contains(out, bad[0]) {
			t.Errorf("create %q: %v, %s; want an error naming the flag", bad, err, out)
		}
	}
	if ids := strings.Fields(c.run("ps", "-aq")); len(ids) != 1 {
		t.Errorf("%d containers, want 1: bad flags created some", len(ids))
	}
}
