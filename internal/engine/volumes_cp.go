package engine

import (
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"berth/internal/metadata"
	"berth/internal/volume"
)

// withContainerFS runs fn with container c's root filesystem as the
// container sees it: its volumes and host paths mounted at their
// destinations, so that cp reads and writes them as Docker's does,
// rather than the layer hidden under them.
func (e *Engine) withContainerFS(c *metadata.Container, fn func(rootfs string) error) error {
	return e.withRootfs(c, func(rootfs string) error { return e.inMountNS(c, rootfs, fn) })
}

// inMountNS mounts c's volumes and binds over rootfs in a mount
// namespace of a thread of its own and runs fn there, so that the host's
// mount table never shows them and they go when the thread does. fn's
// paths are resolved through file descriptors it opens on that thread,
// which keep to the namespace's mounts on whichever thread uses them.
func (e *Engine) inMountNS(c *metadata.Container, rootfs string, fn func(string) error) error {
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	var mounts []volume.Mount
	for _, m := range cfg.Binds {
		if m.Kind() != volume.TypeTmpfs {
			mounts = append(mounts, m)
		}
	}
	if len(mounts) == 0 {
		return fn(rootfs)
	}
	slices.SortStableFunc(mounts, func(a, b volume.Mount) int {
		return strings.Count(a.CleanDest(), "/") - strings.Count(b.CleanDest(), "/")
	})
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, and its
		// namespace with it.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("a mount namespace for the container's volumes: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
				return fmt.Errorf("a mount namespace for the container's volumes: %w", err)
			}
			for _, m := range mounts {
				src := m.Source
				if m.Kind() == volume.TypeVolume {
					var err error
					if src, err = e.volumeSource(m.Name); err != nil {
						return err
					}
				}
				if err := bindInRoot(rootfs, src, m.CleanDest(), m.ReadOnly); err != nil {
					return fmt.Errorf("mount %s at %s: %w", src, m.Destination, err)
				}
			}
			return fn(rootfs)
		}()
	}()
	return <-errc
}

// volumeSource is volume name's data directory, its filesystem mounted.
func (e *Engine) volumeSource(name string) (string, error) {
	v, err := e.Volumes.Get(name)
	if err != nil {
		return "", err
	}
	unlock, err := e.Volumes.Lock(name)
	if err != nil {
		return "", err
	}
	defer unlock()
	return e.Volumes.Path(name), e.Volumes.Prepare(v)
}

// bindInRoot binds src onto dest, resolved inside rootfs as the
// container's init resolves it (openat2 RESOLVE_IN_ROOT), and mounted
// through the resolved descriptor so that nothing can redirect it. A
// missing dest is made when no symlink is on its way.
func bindInRoot(rootfs, src, dest string, readOnly bool) error {
	var st unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return err
	}
	rfd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(rfd)
	rel := strings.TrimPrefix(dest, "/")
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := openat2(rfd, rel, how)
	if errors.Is(err, unix.ENOENT) {
		makeMountPoint(rootfs, rel, st.Mode&unix.S_IFMT == unix.S_IFDIR)
		fd, err = openat2(rfd, rel, how)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(src, procPath(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if !readOnly {
		return nil
	}
	mfd, err := openat2(rfd, rel, how)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return unix.MountSetattr(mfd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
}

// makeMountPoint makes rel in rootfs, as a start would, through a root
// that refuses symlinks leading out; where one is in the way it makes
// nothing.
func makeMountPoint(rootfs, rel string, dir bool) {
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return
	}
	defer r.Close()
	if dir {
		r.MkdirAll(rel, 0o755)
		return
	}
	if r.MkdirAll(path.Dir(rel), 0o755) == nil {
		if f, err := r.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
}
