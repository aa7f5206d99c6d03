package container

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/cgroup"
	"berth/internal/rootfs"
	"berth/internal/testfixture"
)

// runCaptured runs bundle dir as container id with its output in a
// file, through the create plan or, with goInit, the Go init.
func runCaptured(t *testing.T, dir, id string, goInit bool) (string, int, error) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	r := &Runtime{Root: filepath.Join(dir, "state"), GoInit: goInit}
	code, err := r.Run(id, CreateOptions{Bundle: dir, Stdout: out, Stderr: out}, false, false)
	b, _ := os.ReadFile(out.Name())
	return string(b), code, err
}

// planBundle is a busybox bundle that uses most of what a create plan
// carries: binds of a directory and a file with per-mount flags, a
// read-only tmpfs, recursive and propagation options, devices of its
// own, a hostname and a domain name, a sysctl, masked and read-only
// paths and a read-only root.
func planBundle(t *testing.T, cgroupNS bool, script string) (string, *specs.Spec) {
	t.Helper()
	dir := t.TempDir()
	s, err := testfixture.Bundle(dir, "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("file contents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/mnt/dir", Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid", "rprivate"}},
		specs.Mount{Destination: "/mnt/file", Source: "file", Options: []string{"bind", "noexec"}},
		specs.Mount{Destination: "/mnt/rotmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "mode=700", "size=1m"}},
		specs.Mount{Destination: "/mnt/rtmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"rnodev", "rnoexec"}},
	)
	mode := os.FileMode(0o640)
	uid, gid := uint32(1000), uint32(1001)
	s.Linux.Devices = append(s.Linux.Devices,
		specs.LinuxDevice{Path: "/dev/mine", Type: "c", Major: 1, Minor: 7, FileMode: &mode, UID: &uid, GID: &gid},
		specs.LinuxDevice{Path: "/dev/sub/fifo", Type: "p"},
	)
	s.Hostname, s.Domainname = "planhost", "plandomain"
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Root.Readonly = true
	if !cgroupNS {
		var kept []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.CgroupNamespace {
				kept = append(kept, ns)
			}
		}
		s.Linux.Namespaces = kept
	}
	if err := testfixture.WriteSpec(dir, s); err != nil {
		t.Fatal(err)
	}
	return dir, s
}

// runDetails are the parts of a container's view that differ from one
// run to the next: mount ids, device numbers, peer groups and file times.
var runDetails = regexp.MustCompile(`(?m)^\d+ \d+ \d+:\d+ |(shared|master):\d+|[A-Z][a-z]{2} +\d+ +\d+:\d+`)

// TestCreatePlanMatchesGoInit checks that a container prepared by the
// create plan, in C, looks from inside exactly as one prepared by the Go
// init: the same mounts with the same options, devices, names, limits
// and capabilities.
func TestCreatePlanMatchesGoInit(t *testing.T) {
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	const script = `cat /proc/self/mountinfo; ls -ln /dev /dev/sub /mnt /mnt/dir /sys/fs/cgroup
cat /mnt/file /proc/sys/kernel/hostname /proc/sys/kernel/domainname /proc/sys/net/ipv4/ip_forward
grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; ulimit -a; umask; pwd; id
touch /x /mnt/rotmp/x /mnt/dir/x 2>&1; echo end`
	for _, cgroupNS := range []bool{true, false} {
		t.Run("cgroupns="+strconv.FormatBool(cgroupNS), func(t *testing.T) {
			dir, s := planBundle(t, cgroupNS, script)
			if !createPlanFits(s, nil, CreateOptions{}) {
				t.Fatal("the bundle does not fit a create plan")
			}
			paths, err := cgroup.OwnCgroups()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rootfs.Plan(s, filepath.Join(dir, "rootfs"), rootfs.PlanOptions{CgroupNS: cgroupNS, CgroupPaths: paths}); err != nil {
				t.Fatalf("rootfs.Plan: %v", err)
			}
			name := "plan-" + strconv.Itoa(os.Getpid())
			var outs [2]string
			for i, goInit := range []bool{false, true} {
				out, code, err := runCaptured(t, dir, name, goInit)
				if err != nil || code != 0 {
					t.Fatalf("run (Go init %v): exit %d, %v\n%s", goInit, code, err, out)
				}
				outs[i] = runDetails.ReplaceAllString(out, "")
			}
			if outs[0] != outs[1] {
				t.Errorf("the container differs:\n--- create plan\n%s\n--- Go init\n%s", outs[0], outs[1])
			}
			for _, want := range []string{"planhost", "plandomain", "file contents", "/mnt/rotmp ro,", `crw-r----- +1 1000 +1001 +1, +7 +mine`, "/mnt/dir/x: Read-only file system", "end"} {
				if !regexp.MustCompile(want).MatchString(outs[0]) {
					t.Errorf("output lacks %q:\n%s", want, outs[0])
				}
			}
		})
	}
}

// TestCreatePlanStaysInRoot checks the create plan's path handling
// against a hostile root filesystem: a mount destination through a
// symlink that points out of the root lands inside it, and one that leads
// into /proc is refused, as with the Go init.
func TestCreatePlanStaysInRoot(t *testing.T) {
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	host := t.TempDir()
	for _, goInit := range []bool{false, true} {
		t.Run("goinit="+strconv.FormatBool(goInit), func(t *testing.T) {
			dir := t.TempDir()
			s, err := testfixture.Bundle(dir, "sh", "-c", "ls /escape/made")
			if err != nil {
				t.Fatal(err)
			}
			// Absolute and relative links that climb out of the root.
			root := filepath.Join(dir, "rootfs")
			if err := os.Symlink("/../../../../../../"+host, filepath.Join(root, "escape")); err != nil {
				t.Fatal(err)
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/escape/made", Type: "tmpfs", Source: "tmpfs"})
			if err := testfixture.WriteSpec(dir, s); err != nil {
				t.Fatal(err)
			}
			out, code, err := runCaptured(t, dir, "escape-"+strconv.Itoa(os.Getpid()), goInit)
			if err != nil || code != 0 {
				t.Fatalf("run: exit %d, %v\n%s", code, err, out)
			}
			if _, err := os.Stat(filepath.Join(host, "made")); err == nil {
				t.Fatalf("the mount point was made on the host, in %s", host)
			}
			if _, err := os.Stat(filepath.Join(root, host, "made")); err != nil {
				t.Errorf("the mount point is not inside the root: %v", err)
			}

			if err := os.Symlink("/proc/sys/kernel", filepath.Join(root, "toproc")); err != nil {
				t.Fatal(err)
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/toproc", Type: "tmpfs", Source: "tmpfs"})
			if err := testfixture.WriteSpec(dir, s); err != nil {
				t.Fatal(err)
			}
			out, code, err = runCaptured(t, dir, "proc-"+strconv.Itoa(os.Getpid()), goInit)
			if err == nil || !strings.Contains(err.Error(), "inside /proc") {
				t.Errorf("a mount into /proc through a symlink: exit %d, %v\n%s; want it refused", code, err, out)
			}
		})
	}
}

// TestCreatePlanDeepPath makes a mount point a thousand directories
// deep, through a dangling symlink: the plan's init creates them one by
// one, as the Go init does, without running out of stack.
func TestCreatePlanDeepPath(t *testing.T) {
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	deep := strings.Repeat("/d", 1000)
	dir := t.TempDir()
	s, err := testfixture.Bundle(dir, "sh", "-c", "test -d /deep"+deep+"/m && echo made")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/deep"+deep, filepath.Join(dir, "rootfs", "link")); err != nil {
		t.Fatal(err)
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/link/m", Type: "tmpfs", Source: "tmpfs"})
	if err := testfixture.WriteSpec(dir, s); err != nil {
		t.Fatal(err)
	}
	out, code, err := runCaptured(t, dir, "deep-"+strconv.Itoa(os.Getpid()), false)
	if err != nil || code != 0 || !strings.Contains(out, "made") {
		t.Fatalf("run: exit %d, %v\n%s", code, err, out)
	}
}
