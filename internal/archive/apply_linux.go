package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

const (
	// DefaultMaxBytes is the default bound on one layer's file content.
	DefaultMaxBytes = 64 << 30
	// DefaultMaxEntries is the default bound on one layer's tar entries.
	DefaultMaxEntries = 4_000_000
)

// Limits bound what one layer may unpack to, so a decompression bomb fails
// cleanly instead of filling the disk or the inode table.
type Limits struct {
	MaxBytes   int64 // total bytes of file content; 0 means DefaultMaxBytes
	MaxEntries int64 // number of tar entries; 0 means DefaultMaxEntries
}

// Result is what Apply unpacked.
type Result struct {
	Bytes   int64 // bytes of file content, holes included
	Entries int64 // tar entries, whiteouts and directories included
	// Rebuildable says that every file entry's content is in the
	// directory under the entry's name, so that Rebuild can give back
	// the stream from a split record: no entry replaced or removed an
	// earlier one, and no entry has content that Apply does not keep
	// (a whiteout's, a hardlink's or a device's, a sparse file's map).
	Rebuildable bool
}

// copyBufferSize is the size of the buffer file content is copied through.
// Large enough that a big file costs few syscalls.
const copyBufferSize = 1 << 20

// Apply unpacks the uncompressed tar stream r into dir, a fresh empty
// directory that will be one overlayfs lower or upper layer. Whiteouts
// become overlayfs whiteouts; see the package doc. Nothing is written
// outside dir, whatever the stream holds.
//
// Apply reads r to its end, past the tar's end-of-archive marker, so that
// a caller hashing the stream sees all of it. Nothing is synced to disk:
// call Syncfs once the layer is complete. On error dir holds part of the
// layer, and the caller removes it.
func Apply(ctx context.Context, dir string, r io.Reader, lim Limits) (Result, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultMaxEntries
	}
	rt, err := openRoot(dir)
	if err != nil {
		return Result{}, err
	}
	defer rt.close()
	a := &applier{
		root:  rt,
		lim:   lim,
		buf:   make([]byte, copyBufferSize),
		umask: currentUmask(),
		euid:  os.Geteuid(),
		egid:  os.Getegid(),
		dirs:  map[string]dirMeta{},
	}
	br := bufio.NewReaderSize(r, 128<<10)
	end := &endReader{r: br}
	tr := tar.NewReader(end)
	last := "" // the name of the entry before, for errors about the next
	for {
		if err := ctx.Err(); err != nil {
			return a.res, err
		}
		end.watch()
		hdr, err := tr.Next()
		end.unwatch()
		if errors.Is(err, io.EOF) {
			if !end.sawMarker() {
				return a.res, errdefs.Invalidf("layer is truncated: it ends without a tar end-of-archive marker")
			}
			break
		}
		// archive/tar reports names that leave the root, and may return
		// such a header; cleanName deals with them.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return a.res, errdefs.Invalidf("layer is truncated after entry %q: %w", last, err)
			}
			return a.res, errdefs.Invalidf("layer: the entry after %q: %w", last, err)
		}
		last = hdr.Name
		a.res.Entries++
		if a.res.Entries > lim.MaxEntries {
			return a.res, errdefs.Invalidf("layer has more than %d entries, the limit for one layer", lim.MaxEntries)
		}
		if err := a.entry(ctx, tr, hdr); err != nil {
			return a.res, entryError(hdr.Name, err)
		}
		// Read what the entry did not (a whiteout's content, say), so
		// that only headers and padding are left for Next to read.
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return a.res, entryError(hdr.Name, err)
		}
	}
	if err := a.finishDirs(); err != nil {
		return a.res, err
	}
	a.res.Rebuildable = !a.lossy && !rt.removed
	// Whatever follows the marker is padding; bound it like content.
	n, err := io.Copy(io.Discard, io.LimitReader(br, lim.MaxBytes-a.res.Bytes+1))
	if err != nil {
		return a.res, fmt.Errorf("layer: reading past the end of the tar: %w", err)
	}
	if a.res.Bytes+n > lim.MaxBytes {
		return a.res, errdefs.Invalidf("layer expands past %d bytes, the limit for one layer", lim.MaxBytes)
	}
	return a.res, nil
}

// Syncfs flushes the filesystem that holds dir, with syncfs(2): one call
// makes a whole unpacked layer durable, where an fsync per file would make
// Apply several times slower.
func Syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}

// applier holds the state of one Apply.
type applier struct {
	root  *root
	lim   Limits
	res   Result
	buf   []byte // file content passes through here, reused
	umask uint32
	euid  int
	egid  int
	// lossy is set by an entry whose content is not kept as it came.
	lossy bool
	// dirs holds what is set on each directory at the end, by clean path:
	// creating entries in a directory changes its mtime.
	dirs map[string]dirMeta
}

type dirMeta struct {
	times []unix.Timespec
	// mode is the directory's mode when it was kept from it until the
	// end, because it would keep us from writing in it.
	mode    uint32
	setMode bool
}

// entry applies one tar entry.
func (a *applier) entry(ctx context.Context, tr *tar.Reader, hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		// Global PAX records (a comment, a tool's name) say nothing
		// about any one file.
		return nil
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont:
		// Checked before a byte is written, so a bomb stops here.
		if hdr.Size > a.lim.MaxBytes-a.res.Bytes {
			return errdefs.Invalidf("layer expands past %d bytes, the limit for one layer", a.lim.MaxBytes)
		}
		a.res.Bytes += hdr.Size
		if isSparse(hdr) {
			a.lossy = true
		}
	default:
		// Content that the entry's type has no use for.
		if hdr.Size > 0 {
			a.lossy = true
		}
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	parentPath, base := path.Dir(name), path.Base(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		if hdr.Size > 0 {
			a.lossy = true
		}
		return a.whiteout(parentPath, base)
	}
	if name == "." && hdr.Typeflag != tar.TypeDir {
		return errdefs.Invalidf("the layer's root can only be a directory, not type %q", hdr.Typeflag)
	}
	parent, err := a.root.dir(parentPath)
	if err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeDir {
		// A directory that this entry replaces is done with.
		delete(a.dirs, name)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont: // contiguous: a regular file to Linux
		return a.regular(ctx, parent, base, hdr, tr)
	case tar.TypeDir:
		return a.directory(parent, name, base, hdr)
	case tar.TypeSymlink:
		return a.symlink(parent, base, hdr)
	case tar.TypeLink:
		return a.hardlink(parent, name, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.node(parent, base, hdr)
	default:
		return errdefs.Invalidf("unsupported entry type %q", hdr.Typeflag)
	}
}

// isSparse says whether hdr is a sparse file, whose content the stream
// holds compacted.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// cleanName makes a tar entry name a clean path relative to the layer's
// root, "." for the root itself. Absolute names are taken as relative to
// the root, as tar does. Names that climb above the root with ".." come
// from no honest tool and are refused. Symlinks are the kernel's business:
// see root.
func cleanName(name string) (string, error) {
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errdefs.Invalidf("the name leaves the layer's root")
	}
	return p, nil
}

// finishDirs gives every directory the times, and where it was kept from
// it the mode, that its entry had, now that nothing more is created in
// them.
func (a *applier) finishDirs() error {
	for name, meta := range a.dirs {
		err := a.finishDir(name, meta)
		// Gone: a later entry replaced it or a directory it was in.
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			continue
		}
		if err != nil {
			return entryError(name, err)
		}
	}
	return nil
}

func (a *applier) finishDir(name string, meta dirMeta) error {
	parent, err := a.root.resolve(path.Dir(name))
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	base := path.Base(name)
	if meta.setMode {
		// Not fchmodat(2), which follows a symlink: the path may now lead
		// through symlinks that later entries made, to one at base.
		fd, err := unix.Openat(parent, base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Chmod(procPath(fd, ""), meta.mode)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return unix.UtimesNanoAt(parent, base, meta.times, unix.AT_SYMLINK_NOFOLLOW)
}

// entryTimes is the atime and mtime that an entry's file gets.
func entryTimes(hdr *tar.Header) []unix.Timespec {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return []unix.Timespec{
		{Sec: atime.Unix(), Nsec: int64(atime.Nanosecond())},
		{Sec: hdr.ModTime.Unix(), Nsec: int64(hdr.ModTime.Nanosecond())},
	}
}

// entryError names the entry in err, and classifies as invalid the errors
// that the layer's content causes rather than the host.
func entryError(name string, err error) error {
	for _, bad := range []error{errdefs.ErrInvalid, io.ErrUnexpectedEOF, tar.ErrHeader,
		unix.ENOENT, unix.ENOTDIR, unix.ELOOP, unix.ENAMETOOLONG, unix.EMLINK, unix.EINVAL} {
		if errors.Is(err, bad) {
			return errdefs.Invalidf("layer entry %q: %w", name, err)
		}
	}
	return fmt.Errorf("layer entry %q: %w", name, err)
}

// currentUmask reads the process's umask without changing it (umask(2)
// can only be read by setting it, which would race with other threads).
// When it cannot be read, every bit counts as masked, so every mode is set
// explicitly.
func currentUmask() uint32 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			var m uint32
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%o", &m); err == nil {
				return m
			}
		}
	}
	return 0o777
}
