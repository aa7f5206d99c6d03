package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// paxXattrPrefix starts the PAX records that carry xattrs, as GNU tar,
// bsdtar and Docker write them.
const paxXattrPrefix = "SCHILY.xattr."

// overlayXattr says whether xattr name is overlayfs's own. These are never
// taken from a layer, which could otherwise forge whiteouts, opaque
// directories or redirects for the overlay it joins, and never written to
// one: they describe an upper directory, not its content. The user.overlay
// namespace is what overlayfs uses instead when mounted with userxattr.
func overlayXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

// setXattrs sets the header's xattrs with set.
func setXattrs(hdr *tar.Header, set func(name string, value []byte) error) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattrPrefix)
		if !ok || overlayXattr(name) {
			continue
		}
		if err := set(name, []byte(v)); err != nil {
			// A filesystem that keeps no xattrs can still hold the layer.
			if errors.Is(err, unix.ENOTSUP) {
				continue
			}
			return &xattrError{name: name, err: err}
		}
	}
	return nil
}

// setPathXattrs sets the header's xattrs on base in parent, not following
// it: there is no *at form of lsetxattr(2), so the parent's fd stands in.
func (a *applier) setPathXattrs(parent dirFD, base string, hdr *tar.Header) error {
	if len(hdr.PAXRecords) == 0 {
		return nil
	}
	p := procPath(parent.fd, base)
	return setXattrs(hdr, func(name string, value []byte) error { return unix.Lsetxattr(p, name, value, 0) })
}

type xattrError struct {
	name string
	err  error
}

func (e *xattrError) Error() string { return "xattr " + e.name + ": " + e.err.Error() }
func (e *xattrError) Unwrap() error { return e.err }

// listXattrs returns the xattrs of the file p, not following it, as PAX
// records, leaving out overlayfs's own.
func listXattrs(p string) (map[string]string, error) {
	names, err := readXattr(func(b []byte) (int, error) { return unix.Llistxattr(p, b) })
	if err != nil || len(names) == 0 {
		return nil, err
	}
	var recs map[string]string
	for name := range bytes.SplitSeq(bytes.TrimSuffix(names, []byte{0}), []byte{0}) {
		n := string(name)
		if overlayXattr(n) {
			continue
		}
		v, err := readXattr(func(b []byte) (int, error) { return unix.Lgetxattr(p, n, b) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, &xattrError{name: n, err: err}
		}
		if recs == nil {
			recs = map[string]string{}
		}
		recs[paxXattrPrefix+n] = string(v)
	}
	return recs, nil
}

// getXattr returns the value of xattr name of p, not following it, or nil.
func getXattr(p, name string) []byte {
	v, err := readXattr(func(b []byte) (int, error) { return unix.Lgetxattr(p, name, b) })
	if err != nil {
		return nil
	}
	return v
}

// readXattr calls get, which fills a buffer or, given none, says how big
// it must be, until the value fits.
func readXattr(get func([]byte) (int, error)) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := get(buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := get(nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, max(size, 2*len(buf)))
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
