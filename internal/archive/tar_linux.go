package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Tar writes dir, a layer directory or an overlay upper directory, to w as
// a layer tar stream. Overlay whiteouts (character devices 0/0) become
// ".wh.NAME" entries, an opaque directory gets a ".wh..wh..opq" entry,
// files linked more than once within dir become tar hardlinks, and xattrs
// other than overlayfs's own become PAX SCHILY.xattr records. Sockets are
// left out, as tar cannot hold them.
//
// The output depends on dir alone: entries come in name order, each
// directory's before what it holds, mtimes are kept to the second (as
// Docker keeps them, so equal trees give equal digests) and owners are
// numeric. dir itself is not an entry: a layer does not set the root's
// metadata.
func Tar(ctx context.Context, w io.Writer, dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	t := &tarWriter{
		ctx:   ctx,
		tw:    tar.NewWriter(w),
		buf:   make([]byte, copyBufferSize),
		links: map[fileID]string{},
	}
	if err := t.dir(fd, ""); err != nil {
		return err
	}
	return t.tw.Close()
}

type tarWriter struct {
	ctx   context.Context
	tw    *tar.Writer
	buf   []byte
	links map[fileID]string // the first name of each file with several
}

type fileID struct{ dev, ino uint64 }

// dir writes what directory fd, named rel ("" or ending in "/"), holds,
// and closes fd.
func (t *tarWriter) dir(fd int, rel string) error {
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %q: %w", rel, err)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		if err := t.entry(fd, rel, name); err != nil {
			return err
		}
	}
	return nil
}

// entry writes name, in directory dirfd named rel, and what it holds.
func (t *tarWriter) entry(dirfd int, rel, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // removed since the directory was read
		}
		return fmt.Errorf("stat %q: %w", rel+name, err)
	}
	hdr := &tar.Header{
		Name:    rel + name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
	if isWhiteout(&st) {
		// Docker's form: an empty file, keeping the owner and mtime.
		hdr.Name = rel + whiteoutPrefix + name
		hdr.Typeflag = tar.TypeReg
		hdr.Mode = 0o600
		return t.write(hdr)
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFSOCK {
		return nil
	}
	recs, err := listXattrs(procPath(dirfd, name))
	if err != nil {
		return fmt.Errorf("%q: %w", hdr.Name, err)
	}
	hdr.PAXRecords = recs
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		id := fileID{dev: st.Dev, ino: st.Ino}
		if first, ok := t.links[id]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			return t.write(hdr)
		}
		t.links[id] = hdr.Name
	}
	switch typ {
	case unix.S_IFDIR:
		return t.directory(dirfd, name, hdr)
	case unix.S_IFREG:
		return t.regular(dirfd, name, hdr, st.Size)
	case unix.S_IFLNK:
		target, err := readlinkat(dirfd, name)
		if err != nil {
			return fmt.Errorf("readlink %q: %w", hdr.Name, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if typ == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	}
	return t.write(hdr)
}

func (t *tarWriter) directory(dirfd int, name string, hdr *tar.Header) error {
	hdr.Typeflag = tar.TypeDir
	hdr.Name += "/"
	if err := t.write(hdr); err != nil {
		return err
	}
	p := procPath(dirfd, name)
	if string(getXattr(p, opaqueXattr)) == "y" || string(getXattr(p, "user.overlay.opaque")) == "y" {
		opq := &tar.Header{
			Name:     hdr.Name + opaqueWhiteout,
			Typeflag: tar.TypeReg,
			Mode:     hdr.Mode & 0o777,
			Uid:      hdr.Uid,
			Gid:      hdr.Gid,
			ModTime:  hdr.ModTime,
			Format:   tar.FormatPAX,
		}
		if err := t.write(opq); err != nil {
			return err
		}
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", hdr.Name, err)
	}
	return t.dir(fd, hdr.Name)
}

func (t *tarWriter) regular(dirfd int, name string, hdr *tar.Header, size int64) error {
	// O_NONBLOCK: should a running container have put a fifo there since
	// the stat, opening it must not wait for a writer.
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %q: %w", hdr.Name, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %q: %w", hdr.Name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%q stopped being a regular file while it was archived", hdr.Name)
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Size = size
	if err := t.write(hdr); err != nil {
		return err
	}
	n, err := io.CopyBuffer(t.tw, io.LimitReader(fdReader(fd), size), t.buf)
	if err != nil {
		return fmt.Errorf("%q: %w", hdr.Name, err)
	}
	if n < size {
		return fmt.Errorf("%q shrank from %d to %d bytes while it was archived", hdr.Name, size, n)
	}
	return nil
}

func (t *tarWriter) write(hdr *tar.Header) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%q: %w", hdr.Name, err)
	}
	return nil
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

// fdReader reads a file descriptor that os.File would try, and fail, to
// add to the poller, since it was opened O_NONBLOCK.
type fdReader int

func (fd fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), p)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}
