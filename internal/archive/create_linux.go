package archive

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"path"

	"berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// The entries other than whiteouts are made here. Each is created new,
// with O_EXCL or its *at call failing on an existing name, which is then
// removed and the call made again: a name in the layer is never followed.

func (a *applier) regular(ctx context.Context, parent dirFD, base string, hdr *tar.Header, r io.Reader) error {
	mode := uint32(hdr.Mode) & 0o7777
	open := func() (int, error) {
		return unix.Openat(parent.fd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	}
	fd, err := open()
	if errors.Is(err, unix.EEXIST) {
		if err = a.root.removeAll(parent.fd, base); err == nil {
			fd, err = open()
		}
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := writeFile(ctx, fd, r, hdr.Size, a.buf); err != nil {
		return err
	}
	// Owner, then mode: chown clears setuid and setgid bits. Then xattrs:
	// chown also clears security.capability.
	if a.needChown(parent, hdr) {
		if err := a.ignoreEPERM(unix.Fchown(fd, hdr.Uid, hdr.Gid)); err != nil {
			return err
		}
	}
	if a.needChmod(mode) {
		if err := unix.Fchmod(fd, mode); err != nil {
			return err
		}
	}
	if err := setXattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) }); err != nil {
		return err
	}
	return unix.UtimesNanoAt(parent.fd, base, entryTimes(hdr), unix.AT_SYMLINK_NOFOLLOW)
}

func (a *applier) directory(parent dirFD, name, base string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode) & 0o7777
	meta := dirMeta{times: entryTimes(hdr)}
	// Root may write in any directory; anyone else gets to write in this
	// one until the end.
	if a.euid != 0 && mode&0o700 != 0o700 {
		meta.mode, meta.setMode = mode, true
		mode |= 0o700
	}
	created := true
	err := unix.Mkdirat(parent.fd, base, mode)
	if errors.Is(err, unix.EEXIST) {
		// An existing directory stays, with what is in it: layers list a
		// directory again to change its metadata. Anything else goes.
		var st unix.Stat_t
		if err = unix.Fstatat(parent.fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				created = false
			} else if err = a.root.removeAll(parent.fd, base); err == nil {
				err = unix.Mkdirat(parent.fd, base, mode)
			}
		}
	}
	if err != nil {
		return err
	}
	if !created || a.needChown(parent, hdr) {
		if err := a.ignoreEPERM(unix.Fchownat(parent.fd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)); err != nil {
			return err
		}
	}
	// A new directory in a setgid one inherits the setgid bit.
	if !created || parent.gid >= 0 || a.needChmod(mode) {
		if err := unix.Fchmodat(parent.fd, base, mode, 0); err != nil {
			return err
		}
	}
	if err := a.setPathXattrs(parent, base, hdr); err != nil {
		return err
	}
	a.dirs[name] = meta
	return nil
}

func (a *applier) symlink(parent dirFD, base string, hdr *tar.Header) error {
	err := unix.Symlinkat(hdr.Linkname, parent.fd, base)
	if errors.Is(err, unix.EEXIST) {
		if err = a.root.removeAll(parent.fd, base); err == nil {
			err = unix.Symlinkat(hdr.Linkname, parent.fd, base)
		}
	}
	if err != nil {
		return err
	}
	return a.finish(parent, base, hdr, false)
}

// hardlink links base to an entry already in the layer. The target is
// resolved inside the root like any entry, and its last component is not
// followed, so a link can neither reach outside the layer nor through a
// symlink.
func (a *applier) hardlink(parent dirFD, name, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return errdefs.Invalidf("hardlink target %q: %w", hdr.Linkname, err)
	}
	switch target {
	case ".":
		return errdefs.Invalidf("hardlink to the layer's root")
	case name:
		return errdefs.Invalidf("hardlink to itself")
	}
	tdir, err := a.root.resolve(path.Dir(target))
	if err != nil {
		return errdefs.Invalidf("hardlink target %q is not in the layer: %w", hdr.Linkname, err)
	}
	defer unix.Close(tdir)
	tbase := path.Base(target)
	err = unix.Linkat(tdir, tbase, parent.fd, base, 0)
	if errors.Is(err, unix.EEXIST) {
		if err = a.root.removeAll(parent.fd, base); err == nil {
			err = unix.Linkat(tdir, tbase, parent.fd, base, 0)
		}
	}
	if errors.Is(err, unix.ENOENT) {
		return errdefs.Invalidf("hardlink target %q is not in the layer", hdr.Linkname)
	}
	// The link shares the target's inode, and so its metadata.
	return err
}

// node makes a device or a fifo.
func (a *applier) node(parent dirFD, base string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err := unix.Mknodat(parent.fd, base, mode, dev)
	if errors.Is(err, unix.EEXIST) {
		if err = a.root.removeAll(parent.fd, base); err == nil {
			err = unix.Mknodat(parent.fd, base, mode, dev)
		}
	}
	if err != nil {
		return err
	}
	return a.finish(parent, base, hdr, true)
}

// finish sets the owner, mode (when chmod is set), xattrs and times of the
// new entry base, which is not a regular file or a directory.
func (a *applier) finish(parent dirFD, base string, hdr *tar.Header, chmod bool) error {
	if a.needChown(parent, hdr) {
		if err := a.ignoreEPERM(unix.Fchownat(parent.fd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)); err != nil {
			return err
		}
	}
	if mode := uint32(hdr.Mode) & 0o7777; chmod && a.needChmod(mode) {
		if err := unix.Fchmodat(parent.fd, base, mode, 0); err != nil {
			return err
		}
	}
	if err := a.setPathXattrs(parent, base, hdr); err != nil {
		return err
	}
	return unix.UtimesNanoAt(parent.fd, base, entryTimes(hdr), unix.AT_SYMLINK_NOFOLLOW)
}

// needChown says whether an entry just created in parent is owned by
// someone else than the header says: it belongs to us, in the group of a
// setgid parent or else our own.
func (a *applier) needChown(parent dirFD, hdr *tar.Header) bool {
	gid := a.egid
	if parent.gid >= 0 {
		gid = parent.gid
	}
	return hdr.Uid != a.euid || hdr.Gid != gid
}

// needChmod says whether an entry just created with mode may lack bits of
// it: the umask took some, or it has setuid, setgid or sticky bits, which
// chown and the setgid rules can take away.
func (a *applier) needChmod(mode uint32) bool {
	return mode&a.umask != 0 || mode&0o7000 != 0
}

// ignoreEPERM drops the EPERM of a chown when not running as root: unit
// tests and unprivileged callers can still unpack a layer, owned by them.
func (a *applier) ignoreEPERM(err error) error {
	if a.euid != 0 && errors.Is(err, unix.EPERM) {
		return nil
	}
	return err
}
