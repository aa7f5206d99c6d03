package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Pivot makes rootfs, prepared by Prepare, the root of the mount namespace
// and the working directory "/".
//
// It uses runc's pivot_root(".", ".") sequence, which needs no directory
// for the old root: after the call the old root is stacked on the new one
// at "/", so it is made rslave (its unmount must not reach the host) and
// detached. With noPivot, for roots where pivot_root(2) is not possible
// (an initramfs), rootfs is moved onto "/" and chrooted into instead; the
// old root's mounts then stay in the namespace, under the new root.
func Pivot(rootfs string, noPivot bool) error {
	dir, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("pivot to %s: %w", rootfs, err)
	}
	if noPivot {
		return moveRoot(dir)
	}
	return pivotRoot(dir)
}

func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pivot_root: open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pivot_root: open %s: %w", rootfs, err)
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return fmt.Errorf("pivot_root: chdir to %s: %w", rootfs, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root to %s: %w", rootfs, err)
	}
	// The old root is now mounted over the new one; "." is the old root
	// with the current kernel, but fchdir to it rather than rely on that.
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("pivot_root: chdir to old root: %w", err)
	}
	// rslave, not rprivate: the host may still expect to see unmounts of
	// mounts we hold a reference to.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("pivot_root: make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("pivot_root: detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("pivot_root: chdir to new root: %w", err)
	}
	return nil
}

func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("move root: chdir to %s: %w", rootfs, err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move root: mount %s on /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("move root: chroot to %s: %w", rootfs, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("move root: chdir to new root: %w", err)
	}
	return nil
}

// finalizer carries the state of one Finalize call.
type finalizer struct {
	root  *root
	useFD bool // /proc is procfs, so mounts can target fds
}

// mountPath is the path mount(2) should be given for fd, opened as p.
// Without a procfs there is no /proc/self/fd; after pivot_root the kernel's
// own lookup of p cannot leave the root either, and with no procfs it meets
// no magic links.
func (f *finalizer) mountPath(fd int, p string) string {
	if f.useFD {
		return fdPath(fd)
	}
	return p
}

// Finalize runs after Pivot. In order it sets spec.Linux.RootfsPropagation
// on "/", makes the spec's readonly paths read-only (recursively), masks
// its masked paths (/dev/null bound over files, an empty read-only tmpfs
// over directories), makes read-only the tmpfs mounts that asked for it
// (Prepare left them writable to fill them), and remounts "/" read-only
// when spec.Root.Readonly. Paths that do not exist are skipped.
func Finalize(s *specs.Spec) error {
	if s == nil {
		return errors.New("finalize rootfs: no spec")
	}
	if prop := rootfsPropagation(s); prop != "" {
		flag, err := parsePropagation(prop, 0)
		if err != nil {
			return fmt.Errorf("finalize rootfs: %w", err)
		}
		if err := unix.Mount("", "/", "", flag, ""); err != nil {
			return fmt.Errorf("set rootfs propagation %s on /: %w", prop, err)
		}
	}
	r, err := openRoot("/")
	if err != nil {
		return fmt.Errorf("finalize rootfs: %w", err)
	}
	defer r.close()
	f := &finalizer{root: r, useFD: checkProcfs() == nil}
	if s.Linux != nil {
		for _, p := range s.Linux.ReadonlyPaths {
			if err := f.readonlyPath(p); err != nil {
				return fmt.Errorf("make %s read-only: %w", p, err)
			}
		}
		if len(s.Linux.MaskedPaths) > 0 {
			if err := f.maskPaths(s.Linux.MaskedPaths); err != nil {
				return err
			}
		}
	}
	for _, m := range s.Mounts {
		if err := f.readonlyTmpfs(m); err != nil {
			return fmt.Errorf("remount %s on %s read-only: %w", describe(m), m.Destination, err)
		}
	}
	if s.Root != nil && s.Root.Readonly {
		if err := remountBind("/", unix.MS_RDONLY, 0); err != nil {
			return fmt.Errorf("remount / read-only: %w", err)
		}
	}
	return nil
}

// readonlyPath binds p onto itself and makes it and every mount under it
// read-only.
func (f *finalizer) readonlyPath(p string) error {
	fd, err := f.root.openPath(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	target := f.mountPath(fd, p)
	err = unix.Mount(target, target, "", unix.MS_BIND|unix.MS_REC, "")
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("bind onto itself: %w", err)
	}
	fd, err = f.root.openPath(p)
	if err != nil {
		return fmt.Errorf("reopen after bind: %w", err)
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
	if errors.Is(err, unix.ENOSYS) {
		// Before linux 5.12: only the top mount can be made read-only.
		return remountBind(f.mountPath(fd, p), unix.MS_RDONLY, 0)
	}
	if err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	return nil
}

// maskPaths hides each existing path: /dev/null is bound over files and an
// empty read-only tmpfs is mounted over directories.
func (f *finalizer) maskPaths(paths []string) error {
	null, err := f.root.open("/dev/null", unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("mask paths: open /dev/null: %w", err)
	}
	defer unix.Close(null)
	var st unix.Stat_t
	if err := unix.Fstat(null, &st); err != nil {
		return fmt.Errorf("mask paths: stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return errors.New("mask paths: /dev/null is not the null device")
	}
	for _, p := range paths {
		if err := f.maskPath(p, null); err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

func (f *finalizer) maskPath(p string, null int) error {
	fd, err := f.root.openPath(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	target := f.mountPath(fd, p)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	return unix.Mount(f.mountPath(null, "/dev/null"), target, "", unix.MS_BIND, "")
}

// readonlyTmpfs makes a tmpfs (or /dev) mount read-only if its options
// said "ro"; Prepare mounted it writable so it could be filled.
func (f *finalizer) readonlyTmpfs(m specs.Mount) error {
	c, ok := lateReadonly(m)
	if !ok {
		return nil
	}
	dest := cleanPath(m.Destination)
	fd, err := f.root.openPath(dest)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return remountBind(f.mountPath(fd, dest), c.flags, c.cleared)
}
