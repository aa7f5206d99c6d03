package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds how many dangling symlinks one path may lead through
// while its missing parts are created, as the kernel bounds lookups.
const maxSymlinks = 40

// root is an open root filesystem. Paths given to its methods are paths as
// the container sees them; they are resolved by the kernel with the root
// fd as "/", so neither ".." nor an absolute symlink can leave it.
type root struct {
	fd   int
	path string // host path, for messages and for mapping resolved paths back
}

// openRoot opens dir as a root to resolve paths in.
func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &root{fd: fd, path: dir}, nil
}

func (r *root) close() {
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// cleanPath makes p an absolute, lexically clean container path.
func cleanPath(p string) string {
	return path.Clean("/" + p)
}

// open resolves p inside the root and opens it with flags (O_CLOEXEC is
// always added). Magic links such as /proc/self/root are refused, so a
// procfs in the root cannot be used to reach the host.
func (r *root) open(p string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	rel := strings.TrimPrefix(cleanPath(p), "/")
	if rel == "" {
		rel = "."
	}
	for range 64 {
		fd, err := unix.Openat2(r.fd, rel, &how)
		// EAGAIN: a rename or mount raced with a ".." lookup; try again.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
	return -1, unix.EAGAIN
}

// openPath opens p inside the root with O_PATH, following symlinks inside
// the root.
func (r *root) openPath(p string) (int, error) {
	return r.open(p, unix.O_PATH)
}

// mkdirAll makes sure directory p exists inside the root, creating missing
// parts one at a time, and returns an O_PATH fd for it. A missing part that
// is a dangling symlink is followed, and its target created, inside the
// root.
func (r *root) mkdirAll(p string, mode uint32) (int, error) {
	return r.create(p, mode, true, 0)
}

// createFile makes sure p exists inside the root, creating its parents as
// directories and p itself as an empty regular file when missing, and
// returns an O_PATH fd for it. An existing p is returned whatever its type.
func (r *root) createFile(p string, mode uint32) (int, error) {
	return r.create(p, mode, false, 0)
}

func (r *root) create(p string, mode uint32, dir bool, hops int) (int, error) {
	p = cleanPath(p)
	openFlags := unix.O_PATH
	if dir {
		openFlags |= unix.O_DIRECTORY
	}
	fd, err := r.open(p, openFlags)
	if err == nil || !errors.Is(err, unix.ENOENT) || p == "/" {
		return fd, err
	}
	parentPath, name := path.Split(p)
	parent, err := r.create(parentPath, 0o755, true, hops)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	if dir {
		err = unix.Mkdirat(parent, name, mode)
	} else {
		var f int
		f, err = unix.Openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err == nil {
			unix.Close(f)
		}
	}
	if errors.Is(err, unix.EEXIST) {
		// name exists but did not resolve: a dangling symlink (or one
		// that leads to another). Create what it points to, as the
		// container would see it.
		target, lerr := readlinkat(parent, name)
		if lerr != nil {
			return -1, err
		}
		if hops >= maxSymlinks {
			return -1, unix.ELOOP
		}
		if !path.IsAbs(target) {
			target = path.Join(parentPath, target)
		}
		return r.create(target, mode, dir, hops+1)
	}
	if err != nil {
		return -1, err
	}
	openFlags |= unix.O_NOFOLLOW
	return unix.Openat(parent, name, openFlags|unix.O_CLOEXEC, 0)
}

// readlinkat reads the symlink name in directory dirfd.
func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// fdPath is a path the kernel resolves to exactly what fd refers to. mount(2)
// takes paths, not fds, and this is how it is made to act on an fd that was
// resolved safely.
func fdPath(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}

// resolved returns the container path that fd, opened under r, refers to
// now. It lets checks look at where a destination really led, symlinks
// included.
func (r *root) resolved(fd int) (string, error) {
	target, err := os.Readlink(fdPath(fd))
	if err != nil {
		return "", err
	}
	if r.path == "/" {
		return target, nil
	}
	if target == r.path {
		return "/", nil
	}
	rel, ok := strings.CutPrefix(target, r.path+"/")
	if !ok {
		return "", fmt.Errorf("%s resolved outside the root to %s", fdPath(fd), target)
	}
	return "/" + rel, nil
}

// checkProcfs fails unless /proc is a procfs, which fdPath depends on.
func checkProcfs() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc", &st); err != nil {
		return fmt.Errorf("statfs /proc: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return errors.New("/proc is not a procfs")
	}
	return nil
}
