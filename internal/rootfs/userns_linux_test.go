package rootfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A real user namespace, as a rootless container has: mknod is refused,
// procfs needs the pid namespace, and mounts copied from the host carry
// locked flags that a remount must keep.

func TestRootUserNamespace(t *testing.T) { runScenario(t, "userns", nil) }

// scenarioUserNS runs as real root in its own mount namespace: it mounts
// a read-only, nosuid, nodev tmpfs at base/locked, whose flags are locked
// once the mount is copied into a less privileged namespace, and re-runs
// the test binary in new user, mount, pid and ipc namespaces.
func scenarioUserNS(c *checker, e env) {
	locked := e.base + "/locked"
	if !c.noErr(os.MkdirAll(locked, 0o755), "mkdir locked") ||
		!c.noErr(unix.Mount("tmpfs", locked, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"), "mount locked tmpfs") ||
		!c.noErr(os.WriteFile(locked+"/file", []byte("locked"), 0o644), "write in locked tmpfs") ||
		!c.noErr(unix.Mount("", locked, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""), "remount locked tmpfs ro") {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=userns-inner")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
	}
	out, err := cmd.CombinedOutput()
	fmt.Printf("--- in the user namespace:\n%s---\n", out)
	var ee *exec.ExitError
	if (errors.As(err, &ee) && ee.ExitCode() == childSkip) || (err != nil && ee == nil) {
		c.skip(fmt.Sprintf("user namespaces unavailable: %v", err))
		return
	}
	c.check(err == nil && strings.Contains(string(out), childPass), "scenario in the user namespace: %v", err)
}

func scenarioUserNSInner(c *checker, e env) {
	if !c.check(os.Getpid() == 1 && os.Geteuid() == 0, "root and pid 1 in the new namespaces (pid %d, euid %d)", os.Getpid(), os.Geteuid()) {
		return
	}
	locked := e.base + "/locked"
	// Asking for a locked flag to be off must fail, not be ignored.
	neg := e.base + "/neg"
	c.noErr(os.MkdirAll(neg, 0o755), "mkdir")
	err := Prepare(&specs.Spec{Mounts: []specs.Mount{{Destination: "/locked", Type: "bind", Source: locked, Options: []string{"rw", "nosuid"}}}},
		neg, Options{InUserNS: true})
	want := "mount bind " + locked + " on /locked: remount with flags: operation not permitted"
	c.check(err != nil && err.Error() == want, "clearing a locked flag: %v (want %q)", err, want)

	// The rootless default: /sys bound from the host, devpts without gid=5.
	s := defaultSpec(true)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/locked", Type: "bind", Source: locked, Options: []string{"bind", "noexec"}})
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/proc/version")
	opts, err := cgroupOptions()
	if !c.noErr(err, "read /proc/self/cgroup") {
		return
	}
	opts.InUserNS = true
	if !prepare(c, s, e.rootfs, opts) || !pivotAndFinalize(c, s, e.rootfs, false) {
		return
	}
	table := mountTable(c)
	for _, d := range []string{"/dev/null", "/dev/zero", "/dev/tty"} {
		_, ok := table[d]
		c.check(ok, "%s is bound from the host", d)
	}
	var st unix.Stat_t
	if c.noErr(unix.Stat("/dev/null", &st), "stat /dev/null") {
		c.check(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3), "/dev/null is 1:3")
	}
	c.noErr(os.WriteFile("/dev/null", []byte("x"), 0), "write /dev/null")
	checkLink(c, "/dev/ptmx", "pts/ptmx")
	_, err = os.ReadFile("/proc/self/stat")
	c.noErr(err, "read /proc/self/stat")
	checkMaskedFile(c, "/proc/version")
	writeFails(c, "/proc/sys/kernel/hostname")
	checkReadOnly(c, "/sys/kernel")
	checkReadOnly(c, "/sys/fs/cgroup")
	_, err = os.Create("/newfile")
	c.errIs(err, unix.EROFS, "create /newfile")
	lockedOpts := table["/locked"].opts
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		c.check(slices.Contains(lockedOpts, o), "/locked keeps locked flags and adds noexec: %s has %s", lockedOpts, o)
	}
	got, err := os.ReadFile("/locked/file")
	c.check(err == nil && string(got) == "locked", "read /locked/file: %q %v", got, err)
	out := busybox(c, "cat /proc/version | wc -c; echo userns-busybox-ok")
	c.check(strings.Contains(out, "userns-busybox-ok"), "busybox in the user namespace")
}
