package archive

import (
	"errors"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxCachedDirs bounds the parent directories root keeps open. Layers list
// a directory's entries together, so a few cover nearly every lookup.
const maxCachedDirs = 32

// root is the layer directory. Every entry's parent is resolved by the
// kernel against its fd with RESOLVE_IN_ROOT, so "..", absolute symlinks
// and symlinks planted by earlier entries all stay inside it.
type root struct {
	fd   int
	self dirFD // the root as a parent: fd and the gid its new entries get

	// dirs caches open parents by their clean relative path. A removal can
	// change what any cached path resolves to, so it marks the cache stale
	// and the next lookup drops it. The fd a lookup returned stays valid
	// until the next lookup.
	dirs  map[string]dirFD
	stale bool
	// removed says that removeAll was called: an entry replaced
	// something.
	removed bool
}

// dirFD is an O_PATH fd of a directory in the layer.
type dirFD struct {
	fd int
	// gid is the group that entries created in the directory get from it
	// when it is setgid, and -1 when they get the creator's.
	gid int
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	self, err := newDirFD(fd)
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: dir, Err: err}
	}
	return &root{fd: fd, self: self, dirs: map[string]dirFD{}}, nil
}

func newDirFD(fd int) (dirFD, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return dirFD{}, err
	}
	d := dirFD{fd: fd, gid: -1}
	if st.Mode&unix.S_ISGID != 0 {
		d.gid = int(st.Gid)
	}
	return d, nil
}

func (r *root) close() {
	r.forget()
	unix.Close(r.fd)
}

// forget closes the cached parents.
func (r *root) forget() {
	for _, d := range r.dirs {
		unix.Close(d.fd)
	}
	clear(r.dirs)
	r.stale = false
}

// dir returns directory p (clean and relative, "." for the root), creating
// it and its missing parents with mode 0755 as tar does. The fd is valid
// until the next call to dir.
func (r *root) dir(p string) (dirFD, error) {
	if p == "." {
		return r.self, nil
	}
	if r.stale || len(r.dirs) >= maxCachedDirs {
		r.forget()
	}
	if d, ok := r.dirs[p]; ok {
		return d, nil
	}
	fd, err := r.resolve(p)
	if errors.Is(err, unix.ENOENT) {
		fd, err = r.mkdir(p)
	}
	if err != nil {
		return dirFD{}, err
	}
	d, err := newDirFD(fd)
	if err != nil {
		unix.Close(fd)
		return dirFD{}, err
	}
	r.dirs[p] = d
	return d, nil
}

// mkdir creates the missing directory p after making sure of its parent.
func (r *root) mkdir(p string) (int, error) {
	parent, err := r.dir(path.Dir(p))
	if err != nil {
		return -1, err
	}
	name := path.Base(p)
	// EEXIST: p did not resolve yet exists, so it is a dangling symlink;
	// opening it below without following says it is not a directory.
	if err := unix.Mkdirat(parent.fd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return unix.Openat(parent.fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// resolve opens directory p inside the root, following symlinks as the
// container would see them. The caller closes the fd.
func (r *root) resolve(p string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 64 {
		fd, err := unix.Openat2(r.fd, p, &how)
		// EAGAIN: a rename raced with a ".." lookup; the kernel asks us
		// to try again rather than risk resolving outside.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
	return -1, unix.EAGAIN
}

// removeAll removes name from directory dirfd, and everything under it
// when it is a directory, without following symlinks. It marks the cache
// of parents stale, since what they resolve to may be gone.
func (r *root) removeAll(dirfd int, name string) error {
	r.stale = true
	r.removed = true
	return removeAllAt(dirfd, name)
}

func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := removeAllAt(fd, n); err != nil {
			return err
		}
	}
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

// procPath names the entry name in directory fd by a path that the kernel
// resolves through the fd itself, for the calls that have no *at form
// (the xattr ones). An empty name means the directory itself.
func procPath(fd int, name string) string {
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	if name != "" {
		p += "/" + name
	}
	return p
}
