package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testTime is the mtime of every entry the helpers make.
var testTime = time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)

// entry is one tar entry and its content.
type entry struct {
	tar.Header
	body string
}

func reg(name, body string) entry {
	return entry{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: testTime}, body: body}
}

func dir(name string) entry {
	return entry{Header: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: testTime}}
}

func symlink(name, target string) entry {
	return entry{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}

func hardlink(name, target string) entry {
	return entry{Header: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}}
}

// makeTar writes entries as a tar stream, in PAX format where they need it.
func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := tw.WriteHeader(&e.Header); err != nil {
			t.Fatalf("WriteHeader(%q): %v", e.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("Write(%q): %v", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func applyBytes(dir string, data []byte, lim Limits) (Result, error) {
	return Apply(context.Background(), dir, bytes.NewReader(data), lim)
}

// newLayer returns a new directory to apply a layer to, which the test's
// cleanup can remove whatever modes the layer gives its directories.
func newLayer(t testing.TB) string {
	dir := t.TempDir()
	t.Cleanup(func() { makeRemovable(dir) })
	return dir
}

// mustApply applies entries to a new directory and returns it.
func mustApply(t testing.TB, entries ...entry) string {
	t.Helper()
	dir := newLayer(t)
	if _, err := applyBytes(dir, makeTar(t, entries...), Limits{}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return dir
}

// sandbox is a layer directory inside a parent that also holds a sentinel
// file, directory and symlink, so that a test can see whether Apply
// touched anything next to the layer.
type sandbox struct {
	parent, layer string
	before        string
}

func newSandbox(t testing.TB) *sandbox {
	t.Helper()
	parent := t.TempDir()
	t.Cleanup(func() { makeRemovable(parent) })
	s := &sandbox{parent: parent, layer: filepath.Join(parent, "layer")}
	must(t, os.Mkdir(s.layer, 0o755))
	must(t, os.WriteFile(filepath.Join(parent, "sentinel"), []byte("keep"), 0o644))
	must(t, os.Mkdir(filepath.Join(parent, "sentinel-dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(parent, "sentinel-dir", "f"), []byte("keep"), 0o600))
	must(t, os.Symlink("sentinel", filepath.Join(parent, "sentinel-link")))
	s.before = s.outside(t)
	return s
}

// outside describes everything under parent but the layer.
func (s *sandbox) outside(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(s.parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.layer {
			return filepath.SkipDir
		}
		b.WriteString(describe(t, p))
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// check fails the test if anything outside the layer changed.
func (s *sandbox) check(t testing.TB) {
	t.Helper()
	if after := s.outside(t); after != s.before {
		t.Fatalf("Apply changed what is outside the layer:\nbefore:\n%s\nafter:\n%s", s.before, after)
	}
}

// describe says what p is: type, mode, owner, link count, mtime, content
// or link target or device, and xattrs.
func describe(t testing.TB, p string) string {
	t.Helper()
	st := lstat(t, p)
	s := fmt.Sprintf("%s %c%04o %d:%d n%d %s", p, "?pc?d?b?-?l?s???"[st.Mode>>12&0xf], st.Mode&0o7777,
		st.Uid, st.Gid, st.Nlink, time.Unix(st.Mtim.Unix()).UTC().Format(time.RFC3339Nano))
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s += fmt.Sprintf(" %d bytes, sha256 %.16x", len(data), sha256.Sum256(data))
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		s += " -> " + target
	case unix.S_IFCHR, unix.S_IFBLK:
		s += fmt.Sprintf(" %d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	recs, err := listXattrs(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range slices.Sorted(maps.Keys(recs)) {
		s += fmt.Sprintf(" %s=%q", k, recs[k])
	}
	// listXattrs leaves out overlayfs's xattrs; root sees the opaque one.
	if v := getXattr(p, opaqueXattr); v != nil {
		s += fmt.Sprintf(" %s=%q", opaqueXattr, v)
	}
	return s
}

// makeRemovable gives the owner full access to every directory under p, so
// that the test's cleanup can remove what a layer made unwritable.
func makeRemovable(p string) {
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func lstat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
