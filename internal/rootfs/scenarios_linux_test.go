package rootfs

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/spec"
)

// scenarios run in the child; see runChild.
var scenarios = map[string]func(c *checker, e env){
	"full":           scenarioFull,
	"escape":         scenarioEscape,
	"devices":        scenarioDevices,
	"userns-devices": scenarioUserNSDevices,
	"nopivot":        scenarioNoPivot,
	"cgroupns":       scenarioCgroupNS,
	"cgroup2-bind":   scenarioCgroup2Bind,
	"errors":         scenarioErrors,
	"userns":         scenarioUserNS,
	"userns-inner":   scenarioUserNSInner,
	"swap":           scenarioSwap,
}

// defaultSpec is berth's default spec, as the engine hands it over.
func defaultSpec(rootless bool) *specs.Spec {
	s := spec.Default(rootless, 0, 0)
	s.Process = nil
	return s
}

// defaultMounts returns the default spec's mounts at dests, in that order.
func defaultMounts(rootless bool, dests ...string) []specs.Mount {
	var out []specs.Mount
	for _, d := range dests {
		for _, m := range defaultSpec(rootless).Mounts {
			if m.Destination == d {
				out = append(out, m)
			}
		}
	}
	return out
}

func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, "/") {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRootFullSpec(t *testing.T) {
	var upper string
	runScenario(t, "full", func(t *testing.T, e env) {
		upper = e.base + "/ovl/upper"
		writeFiles(t, map[string]string{
			e.src + "/hello.txt":       "hello",
			e.src + "/dir/file":        "in-dir",
			e.src + "/dir/nested/":     "",
			e.src + "/rec/sub/":        "",
			e.base + "/ovl/lower/file": "from-lower",
			e.base + "/ovl/upper/":     "",
			e.base + "/ovl/work/":      "",
		})
	})
	if got, err := os.ReadFile(upper + "/new"); err != nil || string(got) != "up" {
		t.Errorf("overlay write did not reach the upper dir: %q %v", got, err)
	}
}

func scenarioFull(c *checker, e env) {
	// A mount inside a bind source, to tell rro from ro.
	if !c.noErr(unix.Mount("tmpfs", e.src+"/rec/sub", "tmpfs", 0, ""), "mount tmpfs in bind source") {
		return
	}
	s := defaultSpec(false)
	ovl := e.base + "/ovl"
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/data/hello.txt", Type: "bind", Source: e.src + "/hello.txt", Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/data/dir", Type: "none", Source: e.src + "/dir",
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec", "rshared"}},
		specs.Mount{Destination: "/data/dir/nested", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
		specs.Mount{Destination: "/data/rec", Source: e.src + "/rec", Options: []string{"rbind", "rro"}},
		specs.Mount{Destination: "/data/rec-ro", Source: e.src + "/rec", Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/data/ovl", Type: "overlay", Source: "overlay",
			Options: []string{"lowerdir=" + ovl + "/lower", "upperdir=" + ovl + "/upper", "workdir=" + ovl + "/work"}},
		specs.Mount{Destination: "/data/rotmpfs", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "mode=755"}},
		specs.Mount{Destination: "/data/rotmpfs/inner", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1777"}},
	)
	opts, err := cgroupOptions()
	if !c.noErr(err, "read /proc/self/cgroup") {
		return
	}
	infos, err := readMountInfo()
	if !c.noErr(err, "read host mountinfo") {
		return
	}
	// Not every kernel has kcore or sysrq; /proc/version stands in as a
	// masked file that always exists.
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/proc/version")
	_, kcoreErr := os.Stat("/proc/kcore")
	_, sysrqErr := os.Stat("/proc/sysrq-trigger")
	var cgroupDirs []string
	if !opts.Unified {
		for _, h := range v1Hierarchies(infos, opts.CgroupPaths, opts.CgroupNS) {
			cgroupDirs = append(cgroupDirs, "/sys/fs/cgroup/"+path.Base(h.mount.mountPoint))
		}
	}
	if !prepare(c, s, e.rootfs, opts) || !pivotAndFinalize(c, s, e.rootfs, false) {
		return
	}

	table := mountTable(c)
	for _, p := range []string{"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
		"/sys/fs/cgroup", "/proc/version", "/proc/sys", "/sys/firmware", "/data/hello.txt", "/data/dir",
		"/data/dir/nested", "/data/rec", "/data/rec/sub", "/data/ovl", "/data/rotmpfs/inner"} {
		_, ok := table[p]
		c.check(ok, "%s is a mount point", p)
	}
	for p := range table {
		ok := p == "/"
		for _, under := range []string{"/proc", "/dev", "/sys", "/data"} {
			ok = ok || p == under || strings.HasPrefix(p, under+"/")
		}
		c.check(ok, "mount point %s was asked for (the old root is gone)", p)
	}
	c.check(!table["/"].shared(), "/ is not shared (default propagation)")
	c.check(table["/data/dir"].shared(), "/data/dir is shared (rshared option)")

	// Root and devices.
	c.check(slices.Contains(table["/"].opts, "ro"), "/ mounted ro: %s", table["/"].opts)
	_, err = os.Create("/newfile")
	c.errIs(err, unix.EROFS, "create /newfile")
	checkCharDev(c, "/dev/null", 1, 3, 0o666, 0, 0)
	checkCharDev(c, "/dev/zero", 1, 5, 0o666, 0, 0)
	checkCharDev(c, "/dev/full", 1, 7, 0o666, 0, 0)
	checkCharDev(c, "/dev/random", 1, 8, 0o666, 0, 0)
	checkCharDev(c, "/dev/urandom", 1, 9, 0o666, 0, 0)
	checkCharDev(c, "/dev/tty", 5, 0, 0o666, 0, 0)
	c.noErr(os.WriteFile("/dev/null", []byte("x"), 0), "write /dev/null")
	err = os.WriteFile("/dev/full", []byte("x"), 0)
	c.errIs(err, unix.ENOSPC, "write /dev/full")
	checkLink(c, "/dev/ptmx", "pts/ptmx")
	checkLink(c, "/dev/fd", "/proc/self/fd")
	checkLink(c, "/dev/stdin", "/proc/self/fd/0")
	checkLink(c, "/dev/stdout", "/proc/self/fd/1")
	checkLink(c, "/dev/stderr", "/proc/self/fd/2")
	checkLink(c, "/dev/core", "/proc/kcore")
	_, err = os.Stat("/dev/pts/ptmx")
	c.noErr(err, "stat /dev/pts/ptmx")
	c.noErr(os.WriteFile("/dev/shm/x", []byte("x"), 0o644), "write /dev/shm/x")
	c.check(table["/dev/mqueue"].fstype == "mqueue", "/dev/mqueue is mqueue")

	// Masked and read-only paths.
	checkMaskedFile(c, "/proc/version")
	if kcoreErr == nil {
		checkMaskedFile(c, "/proc/kcore")
	}
	writeFails(c, "/proc/sys/kernel/hostname")
	if sysrqErr == nil {
		writeFails(c, "/proc/sysrq-trigger")
	}
	entries, err := os.ReadDir("/sys/firmware")
	c.check(err == nil && len(entries) == 0, "/sys/firmware is empty (%d, %v)", len(entries), err)
	checkReadOnly(c, "/sys/firmware")
	checkReadOnly(c, "/sys/kernel")

	// cgroups.
	checkReadOnly(c, "/sys/fs/cgroup")
	if opts.Unified {
		c.check(table["/sys/fs/cgroup"].fstype == "cgroup2", "/sys/fs/cgroup is cgroup2")
	}
	for _, d := range cgroupDirs {
		c.check(table[d].fstype == "cgroup", "%s is a cgroup mount", d)
		checkReadOnly(c, d)
	}

	// Binds, nesting, overlay, read-only tmpfs.
	got, err := os.ReadFile("/data/hello.txt")
	c.check(err == nil && string(got) == "hello", "read bound file: %q %v", got, err)
	writeFails(c, "/data/hello.txt")
	got, err = os.ReadFile("/data/dir/file")
	c.check(err == nil && string(got) == "in-dir", "read bound dir: %q %v", got, err)
	checkReadOnly(c, "/data/dir")
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		c.check(slices.Contains(table["/data/dir"].opts, o), "/data/dir has %s: %s", o, table["/data/dir"].opts)
	}
	c.noErr(os.WriteFile("/data/dir/nested/x", nil, 0o644), "write in tmpfs nested in a ro bind")
	checkReadOnly(c, "/data/rec")
	checkReadOnly(c, "/data/rec/sub")
	checkReadOnly(c, "/data/rec-ro")
	c.noErr(unix.Access("/data/rec-ro/sub", unix.W_OK), "ro (not rro) leaves submounts writable")
	got, err = os.ReadFile("/data/ovl/file")
	c.check(err == nil && string(got) == "from-lower", "read overlay: %q %v", got, err)
	c.noErr(os.WriteFile("/data/ovl/new", []byte("up"), 0o644), "write overlay")
	checkReadOnly(c, "/data/rotmpfs")
	c.noErr(unix.Access("/data/rotmpfs/inner", unix.W_OK), "tmpfs inside a ro tmpfs is writable")

	out := busybox(c, `
		test "$(cat /proc/version | wc -c)" = 0 || { echo version not masked; exit 1; }
		if touch /x 2>/dev/null; then echo root writable; exit 1; fi
		test -c /dev/null && test -c /dev/pts/ptmx
		echo hi > /dev/shm/from-busybox
		echo busybox-ok`)
	c.check(strings.Contains(out, "busybox-ok"), "busybox inside the container")
}

func TestRootSymlinkEscape(t *testing.T) {
	runScenario(t, "escape", func(t *testing.T, e env) {
		writeFiles(t, map[string]string{e.src + "/hostfile": "secret"})
		for name, target := range map[string]string{"proc": e.escape, "evil": "../../.."} {
			if err := os.RemoveAll(filepath.Join(e.rootfs, name)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(e.rootfs, name)); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			if entries, _ := os.ReadDir(e.escape); len(entries) != 0 {
				t.Errorf("host %s was written to: %v", e.escape, entries)
			}
			for _, p := range []string{"escaped", "hostfile", "sys"} {
				if _, err := os.Lstat(filepath.Join(e.base, p)); err == nil {
					t.Errorf("%s created outside the rootfs", filepath.Join(e.base, p))
				}
			}
		})
	})
}

func scenarioEscape(c *checker, e env) {
	s := &specs.Spec{
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}},
			{Destination: "/evil/escaped", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/evil/evil/../evil/hostfile", Type: "bind", Source: e.src + "/hostfile"},
			{Destination: "/evil/sys", Type: "sysfs", Source: "sysfs", Options: []string{"ro"}},
		},
		Linux: &specs.Linux{MaskedPaths: []string{"/proc/version"}},
	}
	if !prepare(c, s, e.rootfs, Options{}) {
		return
	}
	table := mountTable(c)
	c.check(table[e.rootfs+e.escape].fstype == "proc", "proc landed at rootfs%s", e.escape)
	c.check(table[e.rootfs+"/escaped"].fstype == "tmpfs", "tmpfs landed at rootfs/escaped")
	c.check(table[e.rootfs+"/sys"].fstype == "sysfs", "sysfs landed at rootfs/sys")
	_, ok := table[e.rootfs+"/hostfile"]
	c.check(ok, "bind landed at rootfs/hostfile")
	for _, p := range []string{e.escape, e.base + "/escaped", e.base + "/hostfile", e.base + "/sys", "/escaped"} {
		_, ok := table[p]
		c.check(!ok, "nothing mounted on host %s", p)
	}
	if !pivotAndFinalize(c, s, e.rootfs, false) {
		return
	}
	_, err := os.ReadFile("/proc/self/stat")
	c.noErr(err, "read /proc/self/stat through the planted symlink")
	checkMaskedFile(c, "/proc/version")
	got, err := os.ReadFile("/hostfile")
	c.check(err == nil && string(got) == "secret", "bound file inside: %q %v", got, err)
}

func TestRootDevices(t *testing.T) { runScenario(t, "devices", nil) }

func scenarioDevices(c *checker, e env) {
	mode := func(m os.FileMode) *os.FileMode { return &m }
	id := func(i uint32) *uint32 { return &i }
	s := &specs.Spec{
		Mounts: defaultMounts(false, "/proc", "/dev", "/dev/pts"),
		Linux: &specs.Linux{
			RootfsPropagation: "rshared",
			UIDMappings:       []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
			GIDMappings:       []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}},
			Devices: []specs.LinuxDevice{
				{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: mode(0o600)},
				{Path: "/dev/myzero", Type: "c", Major: 1, Minor: 5, FileMode: mode(0o640), UID: id(1000), GID: id(2000)},
				{Path: "/dev/sub/dir/null2", Type: "c", Major: 1, Minor: 3},
				{Path: "/dev/myfifo", Type: "p", FileMode: mode(0o620)},
			},
		},
	}
	if !prepare(c, s, e.rootfs, Options{}) || !pivotAndFinalize(c, s, e.rootfs, false) {
		return
	}
	checkCharDev(c, "/dev/null", 1, 3, 0o600, 100000, 200000)
	checkCharDev(c, "/dev/zero", 1, 5, 0o666, 100000, 200000)
	checkCharDev(c, "/dev/myzero", 1, 5, 0o640, 101000, 202000)
	checkCharDev(c, "/dev/sub/dir/null2", 1, 3, 0o666, 100000, 200000)
	var st unix.Stat_t
	if c.noErr(unix.Stat("/dev/myfifo", &st), "stat /dev/myfifo") {
		c.check(st.Mode&unix.S_IFMT == unix.S_IFIFO && st.Mode&0o777 == 0o620, "/dev/myfifo is a fifo 0620 (%o)", st.Mode)
	}
	table := mountTable(c)
	c.check(table["/"].shared(), "/ is shared (rootfsPropagation rshared), after a pivot_root that needs it not to be")
	c.noErr(os.WriteFile("/tmp/x", nil, 0o644), "root is writable when not readonly")
}

func TestRootUserNSDevices(t *testing.T) { runScenario(t, "userns-devices", nil) }

func scenarioUserNSDevices(c *checker, e env) {
	s := &specs.Spec{
		Mounts: defaultMounts(false, "/proc", "/dev", "/dev/pts"),
		Linux:  &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/myfifo", Type: "p"}}},
	}
	if !prepare(c, s, e.rootfs, Options{InUserNS: true}) || !pivotAndFinalize(c, s, e.rootfs, false) {
		return
	}
	table := mountTable(c)
	for _, d := range []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"} {
		_, ok := table[d]
		c.check(ok, "%s is a bind mount of the host node", d)
	}
	var st unix.Stat_t
	if c.noErr(unix.Stat("/dev/null", &st), "stat /dev/null") {
		c.check(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3), "/dev/null is 1:3")
	}
	if c.noErr(unix.Stat("/dev/myfifo", &st), "stat /dev/myfifo") {
		c.check(st.Mode&unix.S_IFMT == unix.S_IFIFO, "/dev/myfifo is made, not bound")
	}
	checkLink(c, "/dev/ptmx", "pts/ptmx")
}

func TestRootNoPivot(t *testing.T) { runScenario(t, "nopivot", nil) }

func scenarioNoPivot(c *checker, e env) {
	s := &specs.Spec{Root: &specs.Root{Readonly: true}, Mounts: defaultMounts(false, "/proc", "/dev", "/dev/pts")}
	if !prepare(c, s, e.rootfs, Options{}) || !pivotAndFinalize(c, s, e.rootfs, true) {
		return
	}
	_, err := os.Stat("/bin/busybox")
	c.noErr(err, "stat /bin/busybox in the new root")
	_, err = os.Create("/newfile")
	c.errIs(err, unix.EROFS, "create /newfile")
	out := busybox(c, "cat /proc/self/stat >/dev/null && echo nopivot-ok")
	c.check(strings.Contains(out, "nopivot-ok"), "busybox after chroot")
}

func TestRootCgroupNS(t *testing.T) { runScenario(t, "cgroupns", nil) }

func scenarioCgroupNS(c *checker, e env) {
	opts, err := cgroupOptions()
	if !c.noErr(err, "read /proc/self/cgroup") {
		return
	}
	opts.CgroupNS = true
	infos, _ := readMountInfo()
	hs := v1Hierarchies(infos, opts.CgroupPaths, opts.CgroupNS)
	s := &specs.Spec{Mounts: defaultMounts(false, "/proc", "/sys", "/sys/fs/cgroup")}
	if !prepare(c, s, e.rootfs, opts) || !pivotAndFinalize(c, s, e.rootfs, false) {
		return
	}
	table := mountTable(c)
	checkReadOnly(c, "/sys/fs/cgroup")
	if opts.Unified {
		c.check(table["/sys/fs/cgroup"].fstype == "cgroup2", "/sys/fs/cgroup is cgroup2")
		return
	}
	for _, h := range hs {
		name := path.Base(h.mount.mountPoint)
		d := "/sys/fs/cgroup/" + name
		c.check(table[d].fstype == "cgroup", "%s is a cgroup mount", d)
		checkReadOnly(c, d)
		if ctrls := strings.Split(h.key, ","); len(ctrls) > 1 {
			for _, ctl := range ctrls {
				if ctl != name {
					checkLink(c, "/sys/fs/cgroup/"+ctl, name)
				}
			}
		}
	}
}

func TestRootCgroup2Bind(t *testing.T) { runScenario(t, "cgroup2-bind", nil) }

// scenarioCgroup2Bind binds the container's cgroup2 directory, as on a
// cgroup v2 host without a cgroup namespace (hybrid hosts have one too).
func scenarioCgroup2Bind(c *checker, e env) {
	opts, err := cgroupOptions()
	if !c.noErr(err, "read /proc/self/cgroup") {
		return
	}
	infos, _ := readMountInfo()
	has2 := false
	for _, mi := range infos {
		has2 = has2 || mi.fstype == "cgroup2"
	}
	if _, ok := opts.CgroupPaths[""]; !ok || !has2 {
		c.skip("no cgroup2 hierarchy on this host")
		return
	}
	opts.Unified = true
	s := &specs.Spec{Mounts: defaultMounts(false, "/proc", "/sys", "/sys/fs/cgroup")}
	if !prepare(c, s, e.rootfs, opts) || !pivotAndFinalize(c, s, e.rootfs, false) {
		return
	}
	c.check(mountTable(c)["/sys/fs/cgroup"].fstype == "cgroup2", "/sys/fs/cgroup is cgroup2")
	_, err = os.Stat("/sys/fs/cgroup/cgroup.procs")
	c.noErr(err, "stat /sys/fs/cgroup/cgroup.procs")
	checkReadOnly(c, "/sys/fs/cgroup")
}
