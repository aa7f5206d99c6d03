package archive

import (
	"errors"
	"path"
	"strings"

	"berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// OCI whiteouts, as layers carry them
// (https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts).
const (
	whiteoutPrefix = ".wh."
	// whiteoutMetaPrefix names AUFS bookkeeping (".wh..wh.plnk" and the
	// like) that some old layers still hold; it means nothing here.
	whiteoutMetaPrefix = ".wh..wh."
	// opaqueWhiteout in a directory hides what lower layers hold in it.
	opaqueWhiteout = ".wh..wh..opq"
)

// overlayfs's own forms of the same
// (https://docs.kernel.org/filesystems/overlayfs.html#whiteouts-and-opaque-directories):
// a whiteout is a character device 0/0, an opaque directory has this
// xattr set to "y".
const opaqueXattr = "trusted.overlay.opaque"

// whiteout applies the whiteout entry base in directory parentPath.
func (a *applier) whiteout(parentPath, base string) error {
	switch {
	case base == opaqueWhiteout:
		dir, err := a.root.dir(parentPath)
		if err != nil {
			return err
		}
		// Through the fd, following it: the xattr goes on the directory.
		return unix.Setxattr(procPath(dir.fd, ""), opaqueXattr, []byte("y"), 0)
	case strings.HasPrefix(base, whiteoutMetaPrefix):
		return nil
	}
	name := base[len(whiteoutPrefix):]
	if name == "." || name == ".." || name == "" {
		return errdefs.Invalidf("whiteout of %q", name)
	}
	parent, err := a.root.dir(parentPath)
	if err != nil {
		return err
	}
	delete(a.dirs, path.Join(parentPath, name))
	// Mode 0 and owned by root, as overlayfs makes its own whiteouts.
	err = unix.Mknodat(parent.fd, name, unix.S_IFCHR, 0)
	if errors.Is(err, unix.EEXIST) {
		if err = a.root.removeAll(parent.fd, name); err == nil {
			err = unix.Mknodat(parent.fd, name, unix.S_IFCHR, 0)
		}
	}
	return err
}

// isWhiteout says whether st is an overlayfs whiteout.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}
