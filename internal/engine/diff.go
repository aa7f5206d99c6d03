package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/metadata"
)

// Change is one line of `diff`: a path of the container's filesystem
// and what happened to it.
type Change struct {
	Kind byte // 'A' added, 'C' changed, 'D' deleted, as Docker prints them
	Path string
}

func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// defaultMounts are the mount points that every start of a container
// creates in its writable layer when the image lacks them: those of
// /proc, /sys and /dev, and the files berth binds at /etc.
var defaultMounts = []string{"/proc", "/sys", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}

// runtimeMounts are the mount points of container c's last start (its
// bundle's spec names them all: --tmpfs, --init...), which the runtime
// created in its writable layer where the image lacks them. They are the
// runtime's doing, not the container's (Docker keeps its own in a layer
// of their own that diff and commit skip), so diff and commit leave them
// out while they are still the empty mount points the runtime made.
func (e *Engine) runtimeMounts(c *metadata.Container) map[string]bool {
	out := map[string]bool{}
	for _, m := range defaultMounts {
		out[m] = true
	}
	// Written by berth itself at each start, in the container's directory.
	b, err := os.ReadFile(filepath.Join(e.dir(c.ID), "config.json"))
	if err != nil {
		return out
	}
	var s specs.Spec
	if json.Unmarshal(b, &s) != nil {
		return out
	}
	for _, m := range s.Mounts {
		out[path.Clean("/"+m.Destination)] = true
	}
	return out
}

// Diff lists the changes of container c's writable layer against its
// image, as `docker diff` does: in the order of a walk of the layer,
// each directory before what it holds and names sorted. A whiteout is a
// deletion; any other entry is a change when the image has the path and
// an addition when it does not, so the directories above every change
// are changes too (the kernel copied them up to hold it).
func (e *Engine) Diff(c *metadata.Container) ([]Change, error) {
	changes, _, err := e.diff(c)
	return changes, err
}

// diff returns c's changes and the paths of the writable layer that it
// left out as the runtime's own.
func (e *Engine) diff(c *metadata.Container) ([]Change, map[string]bool, error) {
	lowerDirs, err := e.Images.Snaps.LowerDirs(c.Chain)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: its image's layers: %w", shortID(c.ID), err)
	}
	var lowers []int
	defer func() { closeAll(lowers) }()
	for _, d := range lowerDirs {
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, &os.PathError{Op: "open", Path: d, Err: err}
		}
		lowers = append(lowers, fd)
	}
	upper := filepath.Join(e.dir(c.ID), "upper")
	fd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: its writable layer: %w", shortID(c.ID), &os.PathError{Op: "open", Path: upper, Err: err})
	}
	w := &differ{mounts: e.runtimeMounts(c), hidden: map[string]bool{}}
	changes, err := w.dir(fd, "", lowers, new(bool))
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: diff: %w", shortID(c.ID), err)
	}
	return changes, w.hidden, nil
}

type differ struct {
	mounts map[string]bool // the runtime's mount points
	hidden map[string]bool // what was left out as the runtime's
}

// dir returns the changes under the upper directory fd, container path
// p ("" for the root), whose image counterpart is lowers: the lower
// layers' directories at p that overlayfs merges, top first. It closes
// fd, and sets onlyRuntime when the directory holds something and all
// of it was left out as the runtime's.
func (w *differ) dir(fd int, p string, lowers []int, onlyRuntime *bool) ([]Change, error) {
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s/: %w", p, err)
	}
	slices.Sort(names)
	var out []Change
	hidden := 0
	defer func() { *onlyRuntime = hidden > 0 && len(out) == 0 }()
	for _, name := range names {
		cp := p + "/" + name
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed by the running container meanwhile
			}
			return nil, fmt.Errorf("stat %s: %w", cp, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			out = append(out, Change{Kind: 'D', Path: cp})
			continue
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		below, inImage, err := lowerLookup(lowers, name, isDir)
		if err != nil {
			return nil, fmt.Errorf("%s in the image: %w", cp, err)
		}
		kind := byte('A')
		if inImage != nil {
			kind = 'C'
		}
		if !isDir {
			closeAll(below)
			if inImage == nil && w.mounts[cp] && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 {
				w.hidden[cp] = true
				hidden++
				continue
			}
			out = append(out, Change{Kind: kind, Path: cp})
			continue
		}
		sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll(below)
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, fmt.Errorf("open %s: %w", cp, err)
		}
		opaque := isOpaque(sub)
		if opaque {
			// An opaque directory hides what the image holds in it:
			// all it holds is new.
			closeAll(below)
			below = nil
		}
		var subRuntime bool
		children, err := w.dir(sub, cp, below, &subRuntime)
		closeAll(below)
		if err != nil {
			return nil, err
		}
		if !opaque && w.runtimeDir(cp, &st, inImage, len(children) == 0 && !subRuntime, subRuntime) {
			w.hidden[cp] = true
			hidden++
			continue
		}
		out = append(out, Change{Kind: kind, Path: cp})
		out = append(out, children...)
	}
	return out, nil
}

// runtimeDir says whether directory p of the writable layer is there
// only for the runtime's mount points: an empty mount point of its own,
// or a directory that holds nothing but them (onlyRuntime) and, where
// the image has it, was copied up unchanged but for its times.
func (w *differ) runtimeDir(p string, st, inImage *unix.Stat_t, empty, onlyRuntime bool) bool {
	if empty {
		return inImage == nil && w.mounts[p]
	}
	if !onlyRuntime {
		return false
	}
	if inImage == nil {
		for m := range w.mounts {
			if strings.HasPrefix(m, p+"/") {
				return true
			}
		}
		return false
	}
	return inImage.Mode == st.Mode && inImage.Uid == st.Uid && inImage.Gid == st.Gid
}

// lowerLookup finds name in the merged lower directories dirs, as
// overlayfs does: the topmost layer that has name decides, and a
// whiteout there means the image has no such path. It returns what the
// image has there (nil: nothing) and, when that is a directory and the
// caller wants them (dirs), the directories merged at name, opened, top
// first, down to an opaque one. Nothing is followed: every lookup is
// relative to a directory fd, without symlinks.
func lowerLookup(dirs []int, name string, wantDirs bool) ([]int, *unix.Stat_t, error) {
	var found *unix.Stat_t
	var merged []int
	for _, d := range dirs {
		var st unix.Stat_t
		err := unix.Fstatat(d, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			closeAll(merged)
			return nil, nil, err
		}
		whiteout := st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if found == nil {
			if whiteout {
				return nil, nil, nil
			}
			found = &st
			if !isDir || !wantDirs {
				return nil, found, nil
			}
		} else if !isDir {
			break // a file or a whiteout below hides the rest
		}
		fd, err := unix.Openat(d, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll(merged)
			return nil, nil, err
		}
		merged = append(merged, fd)
		if isOpaque(fd) {
			break
		}
	}
	return merged, found, nil
}

// isOpaque says whether directory fd is an overlayfs opaque directory.
func isOpaque(fd int) bool {
	buf := make([]byte, 1)
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Fgetxattr(fd, name, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
