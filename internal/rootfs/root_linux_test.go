package rootfs

// Root tests. Each scenario runs in a child process re-executed from the
// test binary: the child unshares a mount namespace on a locked thread,
// makes every mount private, then runs Prepare, Pivot and Finalize on a
// busybox root filesystem (testfixture.BusyboxRootfs) and checks the result from inside. Nothing it
// mounts can reach the host, and the namespace dies with it.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/testfixture"
)

const (
	childEnv  = "BERTH_ROOTFS_TEST_CHILD"  // scenario name
	baseEnv   = "BERTH_ROOTFS_TEST_BASE"   // the parent's temp dir
	escapeEnv = "BERTH_ROOTFS_TEST_ESCAPE" // host dir a planted symlink points at
	// childSkip is the child's exit code when the host cannot run it.
	childSkip = 77
	childPass = "CHILD PASS"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	os.Exit(m.Run())
}

// env is what a scenario gets: paths laid out by the parent.
type env struct {
	base   string // temp dir
	rootfs string // base/a/b/rootfs, so "../../.." from it is base
	src    string // base/src: bind sources
	escape string // host dir that rootfs/proc points at
}

func envFrom(base, escape string) env {
	return env{
		base:   base,
		rootfs: filepath.Join(base, "a", "b", "rootfs"),
		src:    filepath.Join(base, "src"),
		escape: escape,
	}
}

// checker prints one line per check; the parent shows them on failure.
type checker struct{ failed, skipped bool }

// skip ends the scenario as skipped: the host lacks what it needs.
func (c *checker) skip(why string) {
	fmt.Println("skip:", why)
	c.skipped = true
}

func (c *checker) check(ok bool, format string, args ...any) bool {
	status := "ok"
	if !ok {
		status, c.failed = "FAIL", true
	}
	fmt.Printf("%s: %s\n", status, fmt.Sprintf(format, args...))
	return ok
}

func (c *checker) noErr(err error, what string) bool {
	return c.check(err == nil, "%s: %v", what, err)
}

func (c *checker) errIs(err, want error, what string) bool {
	return c.check(errors.Is(err, want), "%s: got %v, want %v", what, err, want)
}

func runChild(name string) int {
	// The thread is never unlocked, so it is never reused with the
	// namespace and root this changes.
	runtime.LockOSThread()
	sc, ok := scenarios[name]
	if !ok {
		fmt.Println("unknown scenario", name)
		return 2
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		fmt.Println("unshare mount namespace:", err)
		return childSkip
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Println("make / rprivate:", err)
		return childSkip
	}
	c := &checker{}
	sc(c, envFrom(os.Getenv(baseEnv), os.Getenv(escapeEnv)))
	if c.skipped && !c.failed {
		return childSkip
	}
	if c.failed {
		return 1
	}
	fmt.Println(childPass)
	return 0
}

// runScenario runs a scenario in a child and fails the test unless it
// passes. setup lays out the rootfs and sources before.
func runScenario(t *testing.T, name string, setup func(t *testing.T, e env)) {
	t.Helper()
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	testfixture.RequireFeature(t, "procfs on /proc", checkProcfs)
	e := envFrom(t.TempDir(), "")
	var rnd [6]byte
	rand.Read(rnd[:])
	e.escape = filepath.Join(os.TempDir(), "berth-escape-target-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(e.escape, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(e.escape) })
	if err := testfixture.BusyboxRootfs(e.rootfs); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.src, 0o755); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(t, e)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name, baseEnv+"="+e.base, escapeEnv+"="+e.escape)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == childSkip {
		t.Skipf("host cannot run the scenario: %s", out)
	}
	if err != nil || !bytes.Contains(out, []byte(childPass)) {
		t.Fatalf("scenario %s: %v\n%s", name, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}

// cgroupOptions describes the host's cgroups the way the container
// package will: from /proc/self/cgroup.
func cgroupOptions() (Options, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return Options{}, err
	}
	defer f.Close()
	o := Options{CgroupPaths: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 {
			o.CgroupPaths[parts[1]] = parts[2]
		}
	}
	o.Unified = len(o.CgroupPaths) == 1 && o.CgroupPaths[""] != ""
	return o, sc.Err()
}

// mountTable maps mount points to their last (topmost) entry.
func mountTable(c *checker) map[string]mountInfo {
	infos, err := readMountInfo()
	c.noErr(err, "read mountinfo")
	t := map[string]mountInfo{}
	for _, mi := range infos {
		t[mi.mountPoint] = mi
	}
	return t
}

// checkCharDev checks that p is a character device with the given number,
// permissions and owner.
func checkCharDev(c *checker, p string, major, minor uint32, perm uint32, uid, gid uint32) {
	var st unix.Stat_t
	if !c.noErr(unix.Stat(p, &st), "stat "+p) {
		return
	}
	c.check(st.Mode&unix.S_IFMT == unix.S_IFCHR, "%s is a char device (mode %o)", p, st.Mode)
	c.check(unix.Major(st.Rdev) == major && unix.Minor(st.Rdev) == minor,
		"%s is %d:%d (got %d:%d)", p, major, minor, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	c.check(st.Mode&0o7777 == perm, "%s mode %o (want %o)", p, st.Mode&0o7777, perm)
	c.check(st.Uid == uid && st.Gid == gid, "%s owner %d:%d (want %d:%d)", p, st.Uid, st.Gid, uid, gid)
}

// checkMaskedFile checks that p reads empty and is the null device.
func checkMaskedFile(c *checker, p string) {
	data, err := os.ReadFile(p)
	c.check(err == nil && len(data) == 0, "%s reads empty (%d bytes, %v)", p, len(data), err)
	var st unix.Stat_t
	c.check(unix.Stat(p, &st) == nil && st.Rdev == unix.Mkdev(1, 3), "%s is /dev/null", p)
}

// checkLink checks that p is a symlink to target.
func checkLink(c *checker, p, target string) {
	got, err := os.Readlink(p)
	c.check(err == nil && got == target, "%s -> %q (got %q, %v)", p, target, got, err)
}

// checkReadOnly checks that p is on a read-only mount.
func checkReadOnly(c *checker, p string) {
	c.errIs(unix.Access(p, unix.W_OK), unix.EROFS, "access(W_OK) "+p)
}

// writeFails checks that opening p for writing fails with EROFS, without
// writing anything if it unexpectedly opens.
func writeFails(c *checker, p string) {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	c.errIs(err, unix.EROFS, "open for writing "+p)
}

// busybox runs a shell script inside the container root.
func busybox(c *checker, script string) string {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/bin"}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	c.check(err == nil, "busybox script: %v\n%s", err, out)
	return string(out)
}

// prepare runs Prepare and reports its error.
func prepare(c *checker, s *specs.Spec, rootfs string, o Options) bool {
	return c.noErr(Prepare(s, rootfs, o), "Prepare")
}

// pivotAndFinalize runs Pivot then Finalize.
func pivotAndFinalize(c *checker, s *specs.Spec, rootfs string, noPivot bool) bool {
	return c.noErr(Pivot(rootfs, noPivot), "Pivot") && c.noErr(Finalize(s), "Finalize")
}
