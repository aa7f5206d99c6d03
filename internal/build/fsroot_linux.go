package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// fsRoot is a directory that paths are resolved inside, as in a chroot:
// "..", absolute symlinks and symlinks that climb out all stay inside
// (openat2 with RESOLVE_IN_ROOT). Layers and build contexts are
// untrusted, so every path the build writes to or reads from goes
// through one.
type fsRoot struct {
	fd  int
	dir string
}

func openRoot(dir string) (*fsRoot, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &fsRoot{fd: fd, dir: dir}, nil
}

func (r *fsRoot) Close() { unix.Close(r.fd) }

// rel is p, a path in the root, as openat2 takes it.
func rel(p string) string {
	p = strings.TrimLeft(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// open opens p inside the root.
func (r *fsRoot) open(p string, flags int) (int, error) {
	for {
		fd, err := unix.Openat2(r.fd, rel(p), &unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC),
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: p, Err: err}
		}
		return fd, nil
	}
}

// stat is p's metadata; a symlink in its last component is not followed.
func (r *fsRoot) stat(p string) (unix.Stat_t, error) {
	var st unix.Stat_t
	dir, base := path.Split(path.Clean("/" + p))
	if base == "" {
		return st, unix.Fstat(r.fd, &st)
	}
	fd, err := r.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	if err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	return st, nil
}

// isDir says whether p, followed, is a directory.
func (r *fsRoot) isDir(p string) bool {
	fd, err := r.open(p, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// mkdirAll makes directory p and the missing ones above it, mode 0755,
// owned by uid:gid, and returns it open.
func (r *fsRoot) mkdirAll(p string, uid, gid int) (int, error) {
	p = path.Clean("/" + p)
	if fd, err := r.open(p, unix.O_RDONLY|unix.O_DIRECTORY); err == nil {
		return fd, nil
	}
	parent, err := r.mkdirAll(path.Dir(p), uid, gid)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	base := path.Base(p)
	if err := unix.Mkdirat(parent, base, 0o755); err != nil && err != unix.EEXIST {
		return -1, &os.PathError{Op: "mkdir", Path: p, Err: err}
	}
	// Only root can give a directory away; anyone else builds (in tests)
	// with their own ids.
	if os.Geteuid() == 0 {
		if err := unix.Fchownat(parent, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return -1, err
		}
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w (not a directory)", err)}
	}
	return fd, nil
}

// readFile reads p inside the root, up to limit bytes.
func (r *fsRoot) readFile(p string, limit int64) ([]byte, error) {
	fd, err := r.open(p, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// copyOpts say how copied entries are owned and moded.
type copyOpts struct {
	uid, gid int // -1: keep the source's
	mode     *uint32
	// skip, when set, leaves out a source entry by its path relative
	// to the copy's source root ("dir/file").
	skip func(rel string, isDir bool) (skip, descend bool)
}

// copyEntry copies entry name of source directory sdir (rel is its path
// for skip) to name dname in destination directory ddir. A directory is
// merged into an existing one; anything else replaces what is there.
func copyEntry(sdir int, name string, ddir int, dname, relPath string, o *copyOpts) error {
	var st unix.Stat_t
	if err := unix.Fstatat(sdir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "stat", Path: relPath, Err: err}
	}
	typ := st.Mode & unix.S_IFMT
	uid, gid := int(st.Uid), int(st.Gid)
	if o.uid >= 0 {
		uid, gid = o.uid, o.gid
	}
	mode := st.Mode & 0o7777
	if o.mode != nil {
		mode = *o.mode
	}
	switch typ {
	case unix.S_IFDIR:
		return copyDir(sdir, name, ddir, dname, relPath, uid, gid, mode, o)
	case unix.S_IFREG:
		src, err := unix.Openat(sdir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: relPath, Err: err}
		}
		sf := os.NewFile(uintptr(src), relPath)
		defer sf.Close()
		if err := replace(ddir, dname); err != nil {
			return err
		}
		dst, err := unix.Openat(ddir, dname, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "create", Path: dname, Err: err}
		}
		df := os.NewFile(uintptr(dst), dname)
		defer df.Close()
		if _, err := io.Copy(df, sf); err != nil {
			return fmt.Errorf("copy %s: %w", relPath, err)
		}
		if err := lchown(unix.Fchownat(dst, "", uid, gid, unix.AT_EMPTY_PATH)); err != nil {
			return err
		}
		return unix.Fchmod(dst, mode)
	case unix.S_IFLNK:
		target, err := readlinkat(sdir, name)
		if err != nil {
			return err
		}
		if err := replace(ddir, dname); err != nil {
			return err
		}
		if err := unix.Symlinkat(target, ddir, dname); err != nil {
			return &os.PathError{Op: "symlink", Path: dname, Err: err}
		}
		return lchown(unix.Fchownat(ddir, dname, uid, gid, unix.AT_SYMLINK_NOFOLLOW))
	case unix.S_IFIFO:
		if err := replace(ddir, dname); err != nil {
			return err
		}
		if err := unix.Mkfifoat(ddir, dname, mode); err != nil {
			return err
		}
		return lchown(unix.Fchownat(ddir, dname, uid, gid, unix.AT_SYMLINK_NOFOLLOW))
	}
	// Sockets and device nodes are not copied, as tar would not carry
	// them either.
	return nil
}

func copyDir(sdir int, name string, ddir int, dname, relPath string, uid, gid int, mode uint32, o *copyOpts) error {
	var st unix.Stat_t
	if err := unix.Fstatat(ddir, dname, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := unix.Unlinkat(ddir, dname, 0); err != nil {
			return err
		}
	}
	if err := unix.Mkdirat(ddir, dname, 0o700); err != nil && err != unix.EEXIST {
		return &os.PathError{Op: "mkdir", Path: dname, Err: err}
	}
	s, err := unix.Openat(sdir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: relPath, Err: err}
	}
	sf := os.NewFile(uintptr(s), relPath)
	defer sf.Close()
	d, err := unix.Openat(ddir, dname, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dname, Err: err}
	}
	defer unix.Close(d)
	names, err := sf.Readdirnames(-1)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		childRel := path.Join(relPath, n)
		if o.skip != nil {
			var cst unix.Stat_t
			isDir := unix.Fstatat(s, n, &cst, unix.AT_SYMLINK_NOFOLLOW) == nil && cst.Mode&unix.S_IFMT == unix.S_IFDIR
			if skip, descend := o.skip(childRel, isDir); skip && !descend {
				continue
			}
		}
		if err := copyEntry(s, n, d, n, childRel, o); err != nil {
			return err
		}
	}
	if err := lchown(unix.Fchown(d, uid, gid)); err != nil {
		return err
	}
	return unix.Fchmod(d, mode)
}

// replace clears the way for a new non-directory entry name in dir; an
// existing directory is an error, as in Docker.
func replace(dir int, name string) error {
	var st unix.Stat_t
	err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("cannot replace directory %s with a file", name)
	}
	return unix.Unlinkat(dir, name, 0)
}

func readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(buf[:n]), nil
}

// lchown passes a chown's error on, unless the build runs without
// root (as unit tests do), where files keep the builder's ids.
func lchown(err error) error {
	if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
		return nil
	}
	return err
}
