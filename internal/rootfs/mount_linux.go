package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Options describe the init process's situation, which the spec alone
// does not tell.
type Options struct {
	// InUserNS is set when the process runs in a user namespace, where
	// mknod(2) of devices is not allowed: host device nodes are
	// bind-mounted instead, as runc does.
	InUserNS bool
	// CgroupPaths maps a cgroup v1 hierarchy, named as in
	// /proc/self/cgroup ("memory", "cpu,cpuacct", "name=systemd"), to the
	// container's cgroup in it. The key "" is the cgroup v2 path. They are
	// used to bind the container's own cgroups when it has no cgroup
	// namespace.
	CgroupPaths map[string]string
	// CgroupNS is set when the container has its own cgroup namespace, so
	// cgroup filesystems can be mounted directly.
	CgroupNS bool
	// Unified is set when the host uses cgroup v2 only.
	Unified bool
	// JoinCgroup, when set, is called once, just before the first cgroup
	// mount, and returns the CgroupPaths to use. It lets the caller finish
	// joining its cgroup (and make its cgroup namespace) while the mounts
	// before that one are made.
	JoinCgroup func() (map[string]string, error)
}

// preparer carries the state of one Prepare call.
type preparer struct {
	spec *specs.Spec
	root *root
	opts Options
}

// Prepare runs in the container's new mount namespace, before Pivot.
// rootfs is the host path of the root filesystem.
//
// It makes "/" rslave (or what spec.Linux.RootfsPropagation says) so that
// nothing done here reaches the host, bind-mounts rootfs onto itself so it
// is a mount point pivot_root(2) accepts, mounts every spec mount in order
// with its destination resolved inside rootfs, then creates the default
// and spec devices and the usual /dev symlinks. The propagation asked for
// the new root is set by Finalize: pivot_root(2) refuses a shared root.
//
// Relative bind sources are taken relative to the working directory, which
// the caller sets to the bundle.
func Prepare(s *specs.Spec, rootfs string, opts Options) error {
	if s == nil {
		return errors.New("prepare rootfs: no spec")
	}
	if !filepath.IsAbs(rootfs) {
		return fmt.Errorf("prepare rootfs %s: path is not absolute", rootfs)
	}
	dir, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("prepare rootfs: %w", err)
	}
	if err := checkProcfs(); err != nil {
		return fmt.Errorf("prepare rootfs %s: %w", dir, err)
	}
	prop, err := parsePropagation(rootfsPropagation(s), unix.MS_SLAVE|unix.MS_REC)
	if err != nil {
		return fmt.Errorf("prepare rootfs %s: %w", dir, err)
	}
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("set propagation of /: %w", err)
	}
	if err := makeParentPrivate(dir); err != nil {
		return err
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount rootfs %s onto itself: %w", dir, err)
	}
	r, err := openRoot(dir)
	if err != nil {
		return fmt.Errorf("prepare rootfs: %w", err)
	}
	defer r.close()
	p := &preparer{spec: s, root: r, opts: opts}
	for _, m := range s.Mounts {
		if err := p.mount(m); err != nil {
			return err
		}
	}
	if !needsDevSetup(s) {
		return nil
	}
	if err := p.createDevices(); err != nil {
		return err
	}
	return p.createDevSymlinks()
}

func rootfsPropagation(s *specs.Spec) string {
	if s.Linux == nil {
		return ""
	}
	return s.Linux.RootfsPropagation
}

// makeParentPrivate makes the mount that holds dir private if it is
// shared: pivot_root(2) fails when the new root's parent is shared, and a
// bind from a shared mount would join its peer group.
func makeParentPrivate(dir string) error {
	infos, err := readMountInfo()
	if err != nil {
		return err
	}
	var parent *mountInfo
	for i, mi := range infos {
		if mi.mountPoint == "/" || dir == mi.mountPoint || strings.HasPrefix(dir, mi.mountPoint+"/") {
			if parent == nil || len(mi.mountPoint) >= len(parent.mountPoint) {
				parent = &infos[i]
			}
		}
	}
	if parent == nil || !parent.shared() {
		return nil
	}
	if err := unix.Mount("", parent.mountPoint, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s, the mount holding the rootfs, private: %w", parent.mountPoint, err)
	}
	return nil
}

// describe names a mount for messages: its type, and for binds the source.
func describe(m specs.Mount) string {
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return o + " " + m.Source
		}
	}
	if m.Type == "bind" {
		return "bind " + m.Source
	}
	if m.Type == "" {
		return "none"
	}
	return m.Type
}

// mount makes one spec mount.
func (p *preparer) mount(m specs.Mount) error {
	dest := cleanPath(m.Destination)
	wrap := func(err error) error {
		return fmt.Errorf("mount %s on %s: %w", describe(m), m.Destination, err)
	}
	if dest == "/" {
		return wrap(errors.New("mounting over the root filesystem is not supported"))
	}
	c, err := parseMountOptions(m.Type, m.Options)
	if err != nil {
		return wrap(err)
	}
	switch {
	case c.flags&unix.MS_REMOUNT != 0:
		err = p.remount(m, c, dest)
	case c.bind:
		err = p.bindMount(m, c, dest)
	case m.Type == "cgroup":
		if p.opts.JoinCgroup != nil {
			join := p.opts.JoinCgroup
			p.opts.JoinCgroup = nil
			if p.opts.CgroupPaths, err = join(); err != nil {
				return err
			}
		}
		err = p.mountCgroup(m, c, dest)
	default:
		err = p.mountFS(m, c, dest)
	}
	if err == nil {
		err = p.finishMount(dest, c)
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

// target creates the mount point for m at dest (a directory, or an empty
// file when dir is false) inside the root, checks where it led, and
// returns an O_PATH fd for it.
func (p *preparer) target(m specs.Mount, dest string, dir bool) (int, error) {
	var fd int
	var err error
	if dir {
		fd, err = p.root.mkdirAll(dest, 0o755)
	} else {
		fd, err = p.root.createFile(dest, 0o644)
	}
	if err != nil {
		return -1, fmt.Errorf("create mount point: %w", err)
	}
	resolved, err := p.root.resolved(fd)
	if err == nil {
		err = checkProcMount(m, resolved)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// validProcMounts are the files under /proc that may be covered by other
// mounts, so that tools like lxcfs can emulate them. Mounting anywhere
// else in /proc could hide what Finalize protects.
var validProcMounts = []string{
	"/proc/cpuinfo",
	"/proc/diskstats",
	"/proc/meminfo",
	"/proc/stat",
	"/proc/swaps",
	"/proc/uptime",
	"/proc/loadavg",
	"/proc/slabinfo",
	"/proc/sys/kernel/ns_last_pid",
	"/proc/sys/crypto/fips_enabled",
}

// checkProcMount refuses mounts that would land inside /proc, where the
// destination really led, unless they are procfs or one of the files
// lxcfs emulates.
func checkProcMount(m specs.Mount, resolved string) error {
	if m.Type == "proc" || (resolved != "/proc" && !strings.HasPrefix(resolved, "/proc/")) {
		return nil
	}
	if resolved == "/proc" {
		var st unix.Statfs_t
		if m.Source != "" && unix.Statfs(m.Source, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC {
			return nil
		}
		return errors.New("only procfs may be mounted on /proc")
	}
	for _, v := range validProcMounts {
		if resolved == v {
			return nil
		}
	}
	return fmt.Errorf("destination resolves to %s, inside /proc", resolved)
}

// mountFS mounts a filesystem (proc, sysfs, tmpfs, devpts, overlay...).
func (p *preparer) mountFS(m specs.Mount, c mountConfig, dest string) error {
	fd, err := p.target(m, dest, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Mount(m.Source, fdPath(fd), m.Type, mountFlags(m, c, dest), c.data)
}

// filledFirst reports whether mount m at dest gets files made in it
// (devices, nested mount points) after it is mounted: a tmpfs or /dev.
// It is mounted writable, and Finalize makes it read-only if asked.
func filledFirst(m specs.Mount, dest string) bool {
	return m.Type == "tmpfs" || dest == "/dev"
}

// mountFlags are the mount(2) flags of filesystem mount m at dest.
func mountFlags(m specs.Mount, c mountConfig, dest string) uintptr {
	if filledFirst(m, dest) {
		return c.flags &^ unix.MS_RDONLY
	}
	return c.flags
}

// lateReadonly returns the options of m when Finalize makes it
// read-only: a filled-first mount whose options say "ro".
func lateReadonly(m specs.Mount) (mountConfig, bool) {
	if !filledFirst(m, cleanPath(m.Destination)) {
		return mountConfig{}, false
	}
	c, err := parseMountOptions(m.Type, m.Options)
	if err != nil || c.bind || c.flags&unix.MS_REMOUNT != 0 || c.flags&unix.MS_RDONLY == 0 {
		return mountConfig{}, false
	}
	return c, true
}

// bindMount binds m.Source (a host path) onto dest, creating dest as a
// directory or an empty file to match the source.
func (p *preparer) bindMount(m specs.Mount, c mountConfig, dest string) error {
	var st unix.Stat_t
	if err := unix.Stat(m.Source, &st); err != nil {
		return fmt.Errorf("stat source: %w", err)
	}
	fd, err := p.target(m, dest, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return p.bindAt(m.Source, fd, dest, c.flags, c.cleared)
}

// bindAt binds src onto the mount point fd (which is dest in the root) and,
// because the kernel ignores per-mount flags on a new bind, applies them
// with a second MS_REMOUNT|MS_BIND pass.
func (p *preparer) bindAt(src string, fd int, dest string, flags, cleared uintptr) error {
	if err := unix.Mount(src, fdPath(fd), "", unix.MS_BIND|flags&unix.MS_REC, ""); err != nil {
		return err
	}
	if flags&bindRemountFlags == 0 {
		return nil
	}
	mfd, err := p.root.openPath(dest)
	if err != nil {
		return fmt.Errorf("reopen after bind: %w", err)
	}
	defer unix.Close(mfd)
	if err := remountBind(fdPath(mfd), flags, cleared); err != nil {
		return fmt.Errorf("remount with flags: %w", err)
	}
	return nil
}

// remount changes an existing mount at dest ("remount" in the options).
func (p *preparer) remount(m specs.Mount, c mountConfig, dest string) error {
	fd, err := p.root.openPath(dest)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if c.bind {
		return remountBind(fdPath(fd), c.flags, c.cleared)
	}
	return unix.Mount("", fdPath(fd), m.Type, c.flags, c.data)
}

// remountBind sets the per-mount flags of the mount at target. In a user
// namespace the flags of a mount inherited from the host are locked and a
// remount that would drop them fails with EPERM; then it is tried again
// keeping them, unless the options explicitly asked for one to be off.
func remountBind(target string, flags, cleared uintptr) error {
	fl := unix.MS_BIND | unix.MS_REMOUNT | flags&bindRemountFlags
	err := unix.Mount("", target, "", fl, "")
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	var st unix.Statfs_t
	if serr := unix.Statfs(target, &st); serr != nil {
		return err
	}
	locked := statfsFlags(st) & (unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if locked&cleared != 0 || locked&^fl == 0 {
		return err
	}
	return unix.Mount("", target, "", fl|locked, "")
}

// stNoSymfollow is ST_NOSYMFOLLOW, which x/sys/unix lacks.
const stNoSymfollow = 0x2000

// statfsFlags turns statfs(2) mount flags into mount(2) flags.
func statfsFlags(st unix.Statfs_t) uintptr {
	pairs := []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
		{stNoSymfollow, unix.MS_NOSYMFOLLOW},
	}
	var fl uintptr
	for _, p := range pairs {
		if st.Flags&p.st != 0 {
			fl |= p.ms
		}
	}
	return fl
}

// finishMount applies what has to be done to the new mount itself: its
// propagation and recursive attributes. It reopens dest so the fd names
// the new mount, not the directory under it, and checks that it does.
func (p *preparer) finishMount(dest string, c mountConfig) error {
	if c.flags&unix.MS_REMOUNT == 0 || len(c.propagation) > 0 || c.recursive() {
		fd, err := p.root.openPath(dest)
		if err != nil {
			return fmt.Errorf("reopen after mount: %w", err)
		}
		defer unix.Close(fd)
		if c.flags&unix.MS_REMOUNT == 0 {
			if err := checkMountRoot(fd); err != nil {
				return err
			}
		}
		for _, pf := range c.propagation {
			if err := unix.Mount("", fdPath(fd), "", pf, ""); err != nil {
				return fmt.Errorf("set propagation: %w", err)
			}
		}
		if c.recursive() {
			return setRecursiveAttr(fd, c.attrSet, c.attrClr)
		}
	}
	return nil
}

// checkMountRoot fails if fd is not the root of a mount: the destination
// changed under the mount, and whatever it resolves to now is not what was
// mounted.
func checkMountRoot(fd int) error {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, &stx); err != nil {
		return fmt.Errorf("statx after mount: %w", err)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return errors.New("destination is not the new mount after mounting")
	}
	return nil
}

// setRecursiveAttr applies mount_setattr(2) to the mount at fd and every
// mount under it.
func setRecursiveAttr(fd int, set, clr uint64) error {
	attr := unix.MountAttr{Attr_set: set, Attr_clr: clr}
	err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("recursive mount options need mount_setattr (linux 5.12): %w", err)
	}
	if err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	return nil
}

// needsDevSetup reports whether Prepare makes devices and /dev symlinks:
// not when /dev is a bind mount, whose contents are the caller's.
func needsDevSetup(s *specs.Spec) bool {
	for _, m := range s.Mounts {
		if cleanPath(m.Destination) != "/dev" {
			continue
		}
		if c, err := parseMountOptions(m.Type, m.Options); err == nil && c.bind {
			return false
		}
	}
	return true
}

// hasProc reports whether the spec mounts procfs on /proc.
func hasProc(s *specs.Spec) bool {
	for _, m := range s.Mounts {
		if m.Type == "proc" && cleanPath(m.Destination) == "/proc" {
			return true
		}
	}
	return false
}
