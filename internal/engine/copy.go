package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// CopyOptions are cp's flags.
type CopyOptions struct {
	// Archive keeps the owners that the source has. Without it, what is
	// copied belongs to the destination's user, as Docker documents it:
	// root in a container, berth's own user on the host.
	Archive bool
	// FollowLink copies what a symlink at the source path leads to,
	// under the symlink's name.
	FollowLink bool
}

// CopyStats say how much a copy moved, for cp's summary.
type CopyStats struct {
	// Size is what Docker reports as the size copied: the file's size,
	// or the content of the files copied from the host, or else the
	// tar stream's size.
	Size int64
	// Transferred is the size of the tar stream.
	Transferred int64
}

// CopyFromContainer copies srcPath of container c to dstPath on the
// host, or, when dstPath is "-", writes it to out as a tar stream. Paths
// follow Docker's rules: a source ending in "/." is a directory's
// contents, and a directory copied onto an existing directory goes
// inside it. Every path in the container resolves inside its root, so
// no symlink there leads the copy to the host's files.
func (e *Engine) CopyFromContainer(ctx context.Context, c *metadata.Container, srcPath, dstPath string, out io.Writer, opts CopyOptions) (CopyStats, error) {
	var stats CopyStats
	var hostDst string
	if dstPath != "-" {
		var err error
		if hostDst, err = hostPath(dstPath); err != nil {
			return stats, err
		}
	}
	err := e.withContainerFS(c, func(rootfs string) error {
		ct, err := openTree(rootfs, c.Name)
		if err != nil {
			return err
		}
		defer ct.close()
		src, err := ct.source(srcPath, opts.FollowLink)
		if err != nil {
			return err
		}
		defer src.close()
		f := &copyFilter{}
		if dstPath == "-" {
			cw := &countingWriter{w: out}
			tw := tar.NewWriter(cw)
			if err := src.write(ctx, tw, src.name, true, f.fix); err != nil {
				return err
			}
			err = tw.Close()
			stats = CopyStats{Size: src.size(cw.n), Transferred: cw.n}
			return err
		}
		if !opts.Archive {
			f.owner = &[2]int{os.Geteuid(), os.Getegid()}
		}
		host, err := openTree("/", "")
		if err != nil {
			return err
		}
		defer host.close()
		d, err := host.dest(hostDst)
		if err != nil {
			return err
		}
		defer d.close()
		as, top, err := d.place(src, ct.label(srcPath))
		if err != nil {
			return err
		}
		f.into = d
		n, err := extract(ctx, d, func(w io.Writer) error {
			tw := tar.NewWriter(w)
			if err := src.write(ctx, tw, as, top, f.fix); err != nil {
				return err
			}
			return tw.Close()
		})
		stats = CopyStats{Size: src.size(n), Transferred: n}
		return err
	})
	return stats, err
}

// CopyToContainer copies srcPath on the host, or, when srcPath is "-",
// the tar stream in, to dstPath in container c, with Docker's path
// rules (see CopyFromContainer). A tar stream is unpacked as a layer is:
// nothing it holds is written outside the destination directory.
func (e *Engine) CopyToContainer(ctx context.Context, c *metadata.Container, srcPath string, in io.Reader, dstPath string, opts CopyOptions) (CopyStats, error) {
	var stats CopyStats
	if cfg, err := configOf(c); err == nil && cfg.ReadOnly {
		return stats, errdefs.Conflictf("copy to %s:%s: container rootfs is marked read-only", c.Name, dstPath)
	}
	var src *source
	if srcPath != "-" {
		p, err := hostPath(srcPath)
		if err != nil {
			return stats, err
		}
		host, err := openTree("/", "")
		if err != nil {
			return stats, err
		}
		src, err = host.source(p, opts.FollowLink)
		host.close()
		if err != nil {
			return stats, err
		}
		defer src.close()
	}
	err := e.withContainerFS(c, func(rootfs string) error {
		ct, err := openTree(rootfs, c.Name)
		if err != nil {
			return err
		}
		defer ct.close()
		d, err := ct.dest(dstPath)
		if err != nil {
			return err
		}
		defer d.close()
		f := &copyFilter{into: d}
		if !opts.Archive {
			f.owner = &[2]int{0, 0}
		}
		var produce func(w io.Writer) error
		if src == nil {
			if !d.exists || !d.isDir {
				return errdefs.Invalidf("destination %q must be a directory", ct.label(dstPath))
			}
			produce = func(w io.Writer) error {
				// Compressed or not, as Docker takes it.
				r, _, err := archive.Decompress(in)
				if err != nil {
					return fmt.Errorf("the archive on standard input: %w", err)
				}
				defer r.Close()
				tw := tar.NewWriter(w)
				if err := retar(tw, r, f.fix); err != nil {
					return fmt.Errorf("the archive on standard input: %w", err)
				}
				return tw.Close()
			}
		} else {
			as, top, err := d.place(src, src.path)
			if err != nil {
				return err
			}
			produce = func(w io.Writer) error {
				tw := tar.NewWriter(w)
				if err := src.write(ctx, tw, as, top, f.fix); err != nil {
					return err
				}
				return tw.Close()
			}
		}
		n, err := extract(ctx, d, produce)
		stats = CopyStats{Size: n, Transferred: n}
		if src != nil {
			stats.Size = f.size
		}
		return err
	})
	return stats, err
}

// withRootfs runs fn with container c's root filesystem mounted: a
// running container's is, a stopped one's is mounted for the length of
// fn. It is left mounted if the container started meanwhile, since the
// container then runs on that mount.
func (e *Engine) withRootfs(c *metadata.Container, fn func(rootfs string) error) error {
	rootfs := filepath.Join(e.dir(c.ID), "rootfs")
	if mounted(rootfs) {
		return fn(rootfs)
	}
	if _, err := e.mountRootfs(c); err != nil {
		return err
	}
	err := fn(rootfs)
	if st := e.status(c); st != StatusRunning && st != StatusPaused {
		if uerr := e.unmountRootfs(c.ID); err == nil {
			err = uerr
		}
	}
	return err
}

// hostPath makes p absolute against the working directory, keeping a
// trailing "/" or "/." that says what the user meant.
func hostPath(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd + "/" + p, nil
}

// tree is one side of a copy: the root that its paths resolve in, a
// container's root filesystem or the host's "/".
type tree struct {
	fd int
	// container names the container whose root this is, "" for the
	// host. A container's paths are resolved by the kernel inside its
	// root (RESOLVE_IN_ROOT), so that neither ".." nor a symlink, even
	// an absolute one, leads out of it.
	container string
}

func openTree(dir, container string) (*tree, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &tree{fd: fd, container: container}, nil
}

func (t *tree) close() { unix.Close(t.fd) }

// label names path p of the tree in messages: "NAME:/p" in a container.
func (t *tree) label(p string) string {
	if t.container == "" {
		return p
	}
	return t.container + ":" + p
}

// open opens the clean absolute path p of the tree, following symlinks
// (inside the root, for a container).
func (t *tree) open(p string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC)}
	if t.container != "" {
		// An absolute p, too, resolves from the root.
		how.Resolve = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	}
	return openat2(t.fd, p, &how)
}

func openat2(dirfd int, p string, how *unix.OpenHow) (int, error) {
	for range 64 {
		fd, err := unix.Openat2(dirfd, p, how)
		// EAGAIN: a rename raced with a ".." lookup; the kernel asks us
		// to try again rather than risk resolving outside.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
	return -1, unix.EAGAIN
}

// pathError says that path p of the tree could not be resolved.
func (t *tree) pathError(p string, err error) error {
	if t.container != "" && errors.Is(err, unix.ENOENT) {
		return errdefs.NotFoundf("Could not find the file %s in container %s", p, t.container)
	}
	if errors.Is(err, unix.ENOENT) {
		return errdefs.NotFoundf("lstat %s: no such file or directory", p)
	}
	return fmt.Errorf("%s: %w", t.label(p), err)
}

// source is what a copy reads.
type source struct {
	fd   int // O_PATH
	st   unix.Stat_t
	path string // as the user gave it, for messages
	// name is its name in the archive: its base name (the symlink's,
	// when one was followed), or "." for a directory's contents.
	name string
}

// source resolves p, a source path, in the tree. Its last component is
// not followed unless follow is set or p says it is a directory (a
// trailing "/" or "/.").
func (t *tree) source(p string, follow bool) (*source, error) {
	clean := path.Clean("/" + p)
	contents := clean == "/" || p == "." || strings.HasSuffix(p, "/.")
	mustDir := contents || strings.HasSuffix(p, "/")
	var fd int
	var err error
	if follow || mustDir {
		fd, err = t.open(clean, unix.O_PATH)
	} else {
		var dir int
		if dir, err = t.open(path.Dir(clean), unix.O_PATH|unix.O_DIRECTORY); err == nil {
			fd, err = unix.Openat(dir, path.Base(clean), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			unix.Close(dir)
		}
	}
	if err != nil {
		return nil, t.pathError(p, err)
	}
	s := &source{fd: fd, path: t.label(p), name: path.Base(clean)}
	if contents {
		s.name = "."
	}
	if err := unix.Fstat(fd, &s.st); err != nil {
		s.close()
		return nil, t.pathError(p, err)
	}
	if mustDir && !s.isDir() {
		s.close()
		return nil, errdefs.Invalidf("%s: not a directory", s.path)
	}
	return s, nil
}

func (s *source) close()      { unix.Close(s.fd) }
func (s *source) isDir() bool { return s.st.Mode&unix.S_IFMT == unix.S_IFDIR }

// size is the size Docker reports for a copy out of a container: a
// file's own, a directory's tar stream's.
func (s *source) size(transferred int64) int64 {
	if s.isDir() {
		return transferred
	}
	return s.st.Size
}

// write writes the source to tw as an entry named as, and, for a
// directory, what it holds as as/...; top false leaves out the
// directory's own entry. Every header goes through fix first.
func (s *source) write(ctx context.Context, tw *tar.Writer, as string, top bool, fix filterFunc) error {
	if top {
		hdr, err := s.header(as)
		if err != nil {
			return err
		}
		if _, err := fix(hdr); err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := s.content(tw); err != nil {
				return err
			}
		}
	}
	if !s.isDir() {
		return nil
	}
	// What the directory holds is archived as a layer would be, through
	// the fd: nothing in it is followed.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Tar(ctx, pw, procPath(s.fd))) }()
	defer pr.Close()
	prefix := as + "/"
	return retar(tw, pr, func(hdr *tar.Header) (bool, error) {
		hdr.Name = prefix + hdr.Name
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = prefix + hdr.Linkname
		}
		return fix(hdr)
	})
}

// header is the tar header of the source itself, named name.
func (s *source) header(name string) (*tar.Header, error) {
	st := &s.st
	hdr := &tar.Header{
		Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0), Format: tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(s.fd, "", buf)
		if err != nil {
			return nil, fmt.Errorf("readlink %s: %w", s.path, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = string(buf[:n])
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, errdefs.Invalidf("%s: a socket cannot be copied", s.path)
	}
	return hdr, nil
}

// content writes the regular file's bytes, as many as its header said.
func (s *source) content(w io.Writer) error {
	// Through the fd, which is the very file that was resolved.
	fd, err := unix.Open(procPath(s.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	f := os.NewFile(uintptr(fd), s.path)
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, s.st.Size))
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	if n < s.st.Size {
		return fmt.Errorf("%s shrank from %d to %d bytes while it was copied", s.path, s.st.Size, n)
	}
	return nil
}

// dest is where a copy goes.
type dest struct {
	t *tree
	// dir is an O_PATH fd of the directory the archive is unpacked in:
	// the destination itself when it is a directory, else the one that
	// holds it.
	dir  int
	path string // dir's path, for messages
	// base is the destination's name in dir, when dir is its parent.
	base          string
	exists, isDir bool
	// asserted: the path ends in "/" or "/.", so it must be a directory.
	asserted bool
}

// dest resolves p, a destination path, in the tree as Docker does: a
// symlink at p is followed (at most 10 in a row), and a p that does not
// exist is created, in a directory that must.
func (t *tree) dest(p string) (*dest, error) {
	d := &dest{t: t, dir: -1, asserted: p == "." || strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")}
	cur := path.Clean("/" + p)
	for range 11 {
		if cur == "/" {
			fd, err := t.open("/", unix.O_PATH|unix.O_DIRECTORY)
			if err != nil {
				return nil, t.pathError(p, err)
			}
			d.dir, d.path, d.exists, d.isDir = fd, "/", true, true
			return d, nil
		}
		parent, base := path.Dir(cur), path.Base(cur)
		pfd, err := t.open(parent, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			if t.container == "" && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) {
				return nil, errdefs.Invalidf("invalid output path: directory %q does not exist", parent)
			}
			return nil, t.pathError(parent, err)
		}
		var st unix.Stat_t
		err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
		switch {
		case errors.Is(err, unix.ENOENT):
			d.dir, d.path, d.base = pfd, parent, base
			return d, nil
		case err != nil:
			unix.Close(pfd)
			return nil, t.pathError(cur, err)
		case st.Mode&unix.S_IFMT == unix.S_IFLNK:
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(pfd, base, buf)
			unix.Close(pfd)
			if err != nil {
				return nil, t.pathError(cur, err)
			}
			target := string(buf[:n])
			if !path.IsAbs(target) {
				target = path.Join(parent, target)
			}
			cur = path.Clean(target)
			continue
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			unix.Close(pfd)
			if err != nil {
				return nil, t.pathError(cur, err)
			}
			d.dir, d.path, d.exists, d.isDir = fd, cur, true, true
			return d, nil
		case st.Mode&unix.S_IFMT == unix.S_IFREG:
			d.dir, d.path, d.base, d.exists = pfd, parent, base, true
			return d, nil
		}
		unix.Close(pfd)
		if t.container == "" {
			return nil, errdefs.Invalidf("invalid output path: %q must be a directory or a regular file", p)
		}
		return nil, errdefs.Invalidf("destination %q must be a directory or a regular file", t.label(p))
	}
	return nil, errdefs.Invalidf("too many symlinks in %s", t.label(p))
}

func (d *dest) close() {
	if d.dir >= 0 {
		unix.Close(d.dir)
	}
}

// place decides, as Docker does, how src (named what in messages) lands
// in d: the name its entry takes in d.dir, and whether that entry is
// written at all (a directory's contents copied into an existing
// directory leave that directory's own mode and times alone).
func (d *dest) place(src *source, what string) (as string, top bool, err error) {
	switch {
	case d.exists && d.isDir:
		return src.name, src.name != ".", nil
	case d.exists && src.isDir():
		return "", false, errdefs.Invalidf("cannot copy directory %s to %s: it is a file", what, d.t.label(path.Join(d.path, d.base)))
	case !d.exists && !src.isDir() && d.asserted:
		return "", false, errdefs.Invalidf("cannot copy %s to %s: no such directory", what, d.t.label(path.Join(d.path, d.base)+"/"))
	}
	return d.base, true, nil
}

// extract unpacks into d.dir the tar stream that produce writes, as a
// layer is unpacked: every entry resolves inside that directory. It
// returns the stream's size.
func extract(ctx context.Context, d *dest, produce func(io.Writer) error) (int64, error) {
	pr, pw := io.Pipe()
	cw := &countingWriter{w: pw}
	done := make(chan error, 1)
	go func() {
		err := produce(cw)
		pw.CloseWithError(err)
		done <- err
	}()
	_, err := archive.Apply(ctx, procPath(d.dir), pr, archive.Limits{})
	// Should Apply stop early, the producer must not wait for it.
	pr.CloseWithError(errCopyStopped)
	if perr := <-done; perr != nil && !errors.Is(perr, errCopyStopped) {
		return cw.n, perr
	}
	if err != nil {
		return cw.n, fmt.Errorf("copy to %s: %w", d.t.label(d.path), err)
	}
	return cw.n, nil
}

var errCopyStopped = errors.New("the copy's destination stopped reading")

// filterFunc sees each header of a tar stream before it is written: it
// may change it, drop it (false), or stop the stream with an error.
type filterFunc func(hdr *tar.Header) (bool, error)

// retar copies the tar stream r to tw, each entry through fix.
func retar(tw *tar.Writer, r io.Reader, fix filterFunc) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		// Names that leave the root are the unpacking's to refuse.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return err
		}
		keep, err := fix(hdr)
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%q: %w", hdr.Name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("%q: %w", hdr.Name, err)
		}
	}
}

// copyFilter is what a copy does to each entry.
type copyFilter struct {
	// owner, when set, is the uid and gid every entry gets.
	owner *[2]int
	// into is the destination, whose existing directories an entry may
	// not replace with a file, nor its files with a directory.
	into *dest
	// size adds up the regular files' sizes.
	size int64
}

func (f *copyFilter) fix(hdr *tar.Header) (bool, error) {
	if f.owner != nil {
		hdr.Uid, hdr.Gid = f.owner[0], f.owner[1]
		hdr.Uname, hdr.Gname = "", ""
	}
	if hdr.Typeflag == tar.TypeReg {
		f.size += hdr.Size
	}
	if f.into != nil {
		name := path.Clean(strings.TrimLeft(hdr.Name, "/"))
		// Unpacking takes such names for whiteouts and deletes what
		// they name; a copy is not a layer.
		if strings.HasPrefix(path.Base(name), ".wh.") {
			return false, errdefs.Invalidf("%q: a name starting with .wh. marks a deletion in an image layer, and cp does not copy one", hdr.Name)
		}
		if err := f.into.conflict(name, hdr.Typeflag == tar.TypeDir); err != nil {
			return false, err
		}
	}
	return true, nil
}

// conflict refuses, as Docker does, an entry that would replace an
// existing directory with something else, or something else with a
// directory: unpacking would remove what was there, whole.
func (d *dest) conflict(name string, isDir bool) error {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := openat2(d.dir, name, &how)
	if err != nil {
		return nil // nothing there (or nothing reachable) to replace
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		return nil
	}
	existing := d.t.label(path.Join(d.path, name))
	switch wasDir := st.Mode&unix.S_IFMT == unix.S_IFDIR; {
	case wasDir && !isDir:
		return errdefs.Invalidf("cannot overwrite directory %q with non-directory %q", existing, name)
	case !wasDir && isDir:
		return errdefs.Invalidf("cannot overwrite non-directory %q with directory %q", existing, name)
	}
	return nil
}

// procPath names what fd refers to by a path that the kernel resolves
// through the fd itself, for the calls that take paths.
func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
