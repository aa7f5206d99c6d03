package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
)

// Context is a build context: the directory that COPY and ADD read
// from, less what .dockerignore leaves out.
type Context struct {
	Dir     string
	matcher *patternmatcher.PatternMatcher
}

// OpenContext opens the directory dir as a build context. Its ignore
// file is DOCKERFILE.dockerignore beside the Dockerfile when there is
// one (dockerfile is the Dockerfile's path, "" for none), else
// .dockerignore at the context's top.
func OpenContext(dir, dockerfile string) (*Context, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, errdefs.Invalidf("build context: %v", err)
	}
	if !fi.IsDir() {
		return nil, errdefs.Invalidf("build context %s is not a directory", dir)
	}
	c := &Context{Dir: dir}
	candidates := []string{filepath.Join(dir, ".dockerignore")}
	if dockerfile != "" {
		candidates = append([]string{dockerfile + ".dockerignore"}, candidates...)
	}
	for _, p := range candidates {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, errdefs.Invalidf("%s: %v", p, err)
		}
		if c.matcher, err = patternmatcher.New(patterns); err != nil {
			return nil, errdefs.Invalidf("%s: %v", p, err)
		}
		break
	}
	return c, nil
}

// skip says whether the context leaves out rel (a path from the
// context's top), and whether a directory it leaves out must still be
// walked because a "!" pattern may take some of what it holds back in.
func (c *Context) skip(rel string, isDir bool) (skip, descend bool) {
	if c == nil || c.matcher == nil {
		return false, false
	}
	m, err := c.matcher.MatchesOrParentMatches(rel)
	if err != nil || !m {
		return false, false
	}
	return true, isDir && c.matcher.Exclusions()
}

// source is one path a COPY reads, relative to its root.
type source struct {
	rel string
}

// resolveSources expands COPY's source arguments (globs included)
// within root, skipping what skip leaves out. A source that matches
// nothing is an error, as in Docker.
func resolveSources(root *fsRoot, args []string, skip func(string, bool) (bool, bool)) ([]source, error) {
	var out []source
	for _, a := range args {
		clean := strings.TrimLeft(path.Clean("/"+a), "/")
		if !hasMeta(clean) {
			if clean != "" && skip != nil {
				if s, _ := skip(clean, false); s && !root.isDir(clean) {
					return nil, errdefs.NotFoundf("%q: not found (the build context leaves it out: .dockerignore)", a)
				}
			}
			if _, err := root.stat(clean); err != nil {
				return nil, errdefs.NotFoundf("%q: not found", a)
			}
			out = append(out, source{rel: clean})
			continue
		}
		matches, err := glob(root, "", strings.Split(clean, "/"), skip)
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, errdefs.NotFoundf("%q: no source files were specified", a)
		}
		for _, m := range matches {
			out = append(out, source{rel: m})
		}
	}
	return out, nil
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// glob matches the components of a pattern one directory at a time.
func glob(root *fsRoot, dir string, comps []string, skip func(string, bool) (bool, bool)) ([]string, error) {
	if len(comps) == 0 {
		return []string{dir}, nil
	}
	c := comps[0]
	if !hasMeta(c) {
		next := path.Join(dir, c)
		if _, err := root.stat(next); err != nil {
			return nil, nil
		}
		return glob(root, next, comps[1:], skip)
	}
	names, err := readDir(root, dir)
	if err != nil {
		return nil, nil
	}
	var out []string
	for _, n := range names {
		ok, err := path.Match(c, n)
		if err != nil {
			return nil, errdefs.Invalidf("pattern %q: %v", c, err)
		}
		if !ok {
			continue
		}
		p := path.Join(dir, n)
		if skip != nil {
			if s, _ := skip(p, root.isDir(p)); s && !root.isDir(p) {
				continue
			}
		}
		m, err := glob(root, p, comps[1:], skip)
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}

func readDir(root *fsRoot, dir string) ([]string, error) {
	fd, err := root.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}

// hashSources writes to h what the sources are: every entry's path,
// type, mode and content, in walk order, and owners when withOwners
// (an image's files; a context's owners do not reach the image).
// Timestamps are left out, so a touched file hashes the same.
func hashSources(h hash.Hash, root *fsRoot, srcs []source, skip func(string, bool) (bool, bool), withOwners bool) error {
	for _, s := range srcs {
		if err := hashEntry(h, root, s.rel, skip, withOwners, true); err != nil {
			return err
		}
	}
	return nil
}

// hashEntry hashes p and what it holds; follow says whether a symlink
// at p itself is followed, as COPY follows its sources' own.
func hashEntry(h hash.Hash, root *fsRoot, p string, skip func(string, bool) (bool, bool), withOwners, follow bool) error {
	st, err := root.stat(p)
	if err == nil && follow && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		var fd int
		if fd, err = root.open(p, unix.O_PATH); err == nil {
			err = unix.Fstat(fd, &st)
			unix.Close(fd)
		}
	}
	if err != nil {
		return err
	}
	typ := st.Mode & unix.S_IFMT
	fmt.Fprintf(h, "%q %o %o", p, typ, st.Mode&0o7777)
	if withOwners {
		fmt.Fprintf(h, " %d:%d", st.Uid, st.Gid)
	}
	switch typ {
	case unix.S_IFREG:
		flags := unix.O_RDONLY | unix.O_NOFOLLOW
		if follow {
			flags = unix.O_RDONLY
		}
		fd, err := root.open(p, flags)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), p)
		fh := sha256.New()
		_, err = io.Copy(fh, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, " %s\n", hex.EncodeToString(fh.Sum(nil)))
	case unix.S_IFLNK:
		dir, base := path.Split(path.Clean("/" + p))
		dfd, err := root.open(dir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		target, err := readlinkat(dfd, base)
		unix.Close(dfd)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, " -> %q\n", target)
	case unix.S_IFDIR:
		fmt.Fprintln(h)
		names, err := readDir(root, p)
		if err != nil {
			return err
		}
		for _, n := range names {
			child := path.Join(p, n)
			if skip != nil {
				cst, _ := root.stat(child)
				if s, descend := skip(child, cst.Mode&unix.S_IFMT == unix.S_IFDIR); s && !descend {
					continue
				}
			}
			if err := hashEntry(h, root, child, skip, withOwners, false); err != nil {
				return err
			}
		}
	default:
		fmt.Fprintln(h)
	}
	return nil
}
