package spec_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/container"
	"berth/internal/spec"
	"berth/internal/testfixture"
)

// probe is testdata/probe built static, so that it runs in a busybox
// root filesystem; it makes the syscalls busybox has no applet for.
var probe struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func buildProbe(t *testing.T) string {
	t.Helper()
	probe.once.Do(func() {
		if probe.dir, probe.err = os.MkdirTemp("", "berth-spec-probe-"); probe.err != nil {
			return
		}
		probe.path = filepath.Join(probe.dir, "probe")
		cmd := exec.Command("go", "build", "-o", probe.path, "./testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probe.err = fmt.Errorf("go build ./testdata/probe: %v\n%s", err, out)
		}
	})
	if probe.err != nil {
		t.Fatal(probe.err)
	}
	return probe.path
}

func removeProbe() {
	if probe.dir != "" {
		os.RemoveAll(probe.dir)
	}
}

// runContainer runs script with sh in a busybox container whose spec is
// ForContainer's for opts, changed by edit, through the container
// runtime, and returns what it wrote to stdout and stderr.
func runContainer(t *testing.T, opts spec.Options, edit func(*specs.Spec), script string) string {
	t.Helper()
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	bundle := t.TempDir()
	if _, err := testfixture.Bundle(bundle); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(buildProbe(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "rootfs/bin/probe"), bin, 0o755); err != nil {
		t.Fatal(err)
	}

	opts.Args = []string{"sh", "-c", script}
	opts.Env = []string{spec.DefaultPath}
	s := spec.ForContainer(opts)
	if edit != nil {
		edit(s)
	}
	if err := testfixture.WriteSpec(bundle, s); err != nil {
		t.Fatal(err)
	}

	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	id := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()) + "-" + strconv.Itoa(os.Getpid())
	rt := &container.Runtime{Root: t.TempDir()}
	code, err := rt.Run(id, container.CreateOptions{Bundle: bundle, Stdin: null, Stdout: out, Stderr: out}, false, false)
	b, _ := os.ReadFile(out.Name())
	if err != nil || code != 0 {
		t.Fatalf("run: exit %d, %v; output:\n%s", code, err, b)
	}
	return string(b)
}

// expectLines checks that each of want is a line of out.
func expectLines(t *testing.T, out string, want ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("no line %q in the container's output:\n%s", w, out)
		}
	}
}

// errnos as the probe prints them.
const (
	eperm  = "1"
	enoent = "2"
	einval = "22"
	enosys = "38"
)

// An engine container, with the default profile for the default
// capabilities, is denied what Docker's profile denies and does ordinary
// work.
func TestDefaultProfileInContainer(t *testing.T) {
	out := runContainer(t, spec.Options{}, nil, `
		unshare -U true; echo unshare-user=$?
		unshare -n true; echo unshare-net=$?
		probe keyctl add_key request_key clone3 clone clone-newuser personality-query personality-noaslr \
			socket-vsock socket-unix io_uring_setup mount chroot
		ls / >/dev/null && echo ls=ok
		cat /etc/passwd >/dev/null && echo cat=ok
		ps -o pid,comm | grep -q ps && echo ps=ok
		sh -c 'exit 3'; echo fork=$?
		sleep 0 & wait $!; echo background=$?
		echo pids.max=$(cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max)
		echo interrupts=$(wc -c </proc/interrupts)
	`)
	expectLines(t, out,
		"unshare-user=1", "unshare-net=1",
		"keyctl="+eperm, "add_key="+eperm, "request_key="+eperm,
		"clone3="+enosys, "clone=0", "clone-newuser="+eperm,
		"personality-query=0", "personality-noaslr="+eperm,
		"socket-vsock="+eperm, "socket-unix=0", "io_uring_setup="+eperm,
		"mount="+eperm, "chroot=0",
		"ls=ok", "cat=ok", "ps=ok", "fork=3", "background=0",
		"pids.max="+strconv.Itoa(spec.DefaultPidsLimit), "interrupts=0")
	if !strings.Contains(out, "Operation not permitted") {
		t.Errorf("unshare did not say EPERM:\n%s", out)
	}
}

// With CAP_SYS_ADMIN the profile lets through what that capability is
// for, and still not the keyring.
func TestSysAdminProfileInContainer(t *testing.T) {
	out := runContainer(t, spec.Options{}, func(s *specs.Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN")
		c.Effective = append(c.Effective, "CAP_SYS_ADMIN")
		c.Permitted = append(c.Permitted, "CAP_SYS_ADMIN")
		s.Linux.Seccomp = spec.SeccompFor(c.Bounding)
	}, `
		unshare -n true; echo unshare-net=$?
		probe clone3 mount keyctl
	`)
	expectLines(t, out, "unshare-net=0", "clone3="+einval, "mount="+enoent, "keyctl="+eperm)
}

// Without a profile the same calls succeed: the profile is what denies
// them.
func TestUnconfinedContainer(t *testing.T) {
	out := runContainer(t, spec.Options{SeccompUnconfined: true}, func(s *specs.Spec) {
		if s.Linux.Seccomp != nil {
			t.Error("an unconfined container has a seccomp profile")
		}
	}, `probe keyctl personality-noaslr clone3 socket-unix`)
	expectLines(t, out, "keyctl=0", "personality-noaslr=0", "clone3="+einval, "socket-unix=0")
}
