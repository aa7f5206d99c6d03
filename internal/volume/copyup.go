package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CopyUp fills the directory dst, if it is empty, with what the
// container's root filesystem rootfs has at ctrPath, as Docker fills a
// new volume: directories, files, symlinks and hard links, with their
// owners, modes and times, and dst itself takes the owner and mode of
// the image's directory. ctrPath is resolved inside rootfs, so a symlink
// in the image cannot make it read the host; dst is written through a
// root of its own, so nothing lands outside it. A missing ctrPath, or
// one that is not a directory, leaves dst as it is.
func CopyUp(rootfs, ctrPath, dst string) error {
	entries, err := os.ReadDir(dst)
	if err != nil || len(entries) > 0 {
		return err
	}
	src, err := openDirInRoot(rootfs, ctrPath)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s in the image: %w", ctrPath, err)
	}
	defer src.Close()
	out, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	c := &copier{src: src, dst: out, links: map[[2]uint64]string{}}
	if err := fs.WalkDir(src.FS(), ".", c.entry); err != nil {
		return err
	}
	// Directories last, deepest first: writing into a directory changes
	// its times, and a read-only one would refuse its children.
	for i := len(c.dirs) - 1; i >= 0; i-- {
		if err := c.attrs(c.dirs[i].path, c.dirs[i].info, true); err != nil {
			return err
		}
	}
	return nil
}

// openDirInRoot opens directory p as the container sees it: resolved
// by the kernel with rootfs as "/" (openat2 RESOLVE_IN_ROOT), as the
// mount itself is, so that ".." and symlinks, absolute ones too, stay
// inside. The walk below p goes through an os.Root, which refuses to
// leave it should the tree change meanwhile.
func openDirInRoot(rootfs, p string) (*os.Root, error) {
	rfd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, strings.TrimLeft(p, "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return os.OpenRoot(fmt.Sprintf("/proc/self/fd/%d", fd))
}

type copier struct {
	src, dst *os.Root
	// links maps a (device, inode) with more than one link to the first
	// path copied, so that hard links stay links.
	links map[[2]uint64]string
	dirs  []dirAttrs
}

type dirAttrs struct {
	path string
	info fs.FileInfo
}

func (c *copier) entry(p string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	fi, err := d.Info()
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.IsDir():
		if p != "." {
			if err := c.dst.Mkdir(p, 0o700); err != nil {
				return err
			}
		}
		c.dirs = append(c.dirs, dirAttrs{p, fi})
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := c.src.Readlink(p)
		if err != nil {
			return err
		}
		if err := c.dst.Symlink(target, p); err != nil {
			return err
		}
		if st != nil {
			return c.dst.Lchown(p, int(st.Uid), int(st.Gid))
		}
		return nil
	case fi.Mode().IsRegular():
		if st != nil && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := c.links[key]; ok {
				return c.dst.Link(first, p)
			}
			c.links[key] = p
		}
		if err := c.copyFile(p); err != nil {
			return err
		}
		return c.attrs(p, fi, false)
	}
	// Devices, fifos and sockets are not copied: a volume holds data.
	return nil
}

func (c *copier) copyFile(p string) error {
	in, err := c.src.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := c.dst.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// attrs gives p the owner, mode and times of fi; chown comes first, as
// it clears set-id bits.
func (c *copier) attrs(p string, fi fs.FileInfo, dir bool) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := c.dst.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		if err := c.dst.Chmod(p, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
		atime := time.Unix(st.Atim.Sec, st.Atim.Nsec)
		return c.dst.Chtimes(p, atime, fi.ModTime())
	}
	return nil
}

// Chown gives dir and everything under it to uid and gid, for a mount
// with :U. It walks through a root, so a symlink under dir is changed
// itself and never followed.
func Chown(dir string, uid, gid int) error {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	return fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return r.Lchown(p, uid, gid)
	})
}

// DiskUsage is the space the files under dir take, in allocated blocks,
// as du counts it.
func DiskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}
