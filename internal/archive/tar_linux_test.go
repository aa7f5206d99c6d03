package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func tarBytes(t testing.TB, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Tar(context.Background(), &buf, dir); err != nil {
		t.Fatalf("Tar(%s): %v", dir, err)
	}
	return buf.Bytes()
}

// tarNames lists the entries of a tar stream, with their link targets.
func tarNames(t testing.TB, data []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Linkname != "" {
			names = append(names, hdr.Name+" -> "+hdr.Linkname)
		} else {
			names = append(names, hdr.Name)
		}
	}
}

// richLayer is a layer with every kind of entry that a user can make.
func richLayer(t testing.TB) []entry {
	suid := reg("bin/suid", "suid")
	suid.Mode = 0o4755
	sticky := dir("tmp/")
	sticky.Mode = 0o1777
	older := reg("old", "old")
	older.ModTime = testTime.Add(-24 * time.Hour)
	fifo := entry{Header: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o600, ModTime: testTime}}
	locked := dir("locked/")
	locked.Mode = 0o500
	var deep []entry
	for i := range 40 {
		deep = append(deep, dir(strings.Repeat("deep/", i+1)))
	}
	deep = append(deep, reg(strings.Repeat("deep/", 40)+strings.Repeat("long", 50), "long"))
	return append(deep,
		dir("bin/"), suid, reg("bin/a", "a"), hardlink("bin/b", "bin/a"), hardlink("c", "bin/a"),
		symlink("bin/sh", "a"), symlink("abs", "/etc/passwd"), symlink("dangling", "nowhere"),
		sticky, older, fifo, dir("empty/"),
		reg("zeros", string(make([]byte, 3*holeBlock))),
		locked, reg("locked/f", "f"),
	)
}

func TestTarRoundTrip(t *testing.T) {
	entries := richLayer(t)
	src := mustApply(t, entries...)
	first := tarBytes(t, src)
	if again := tarBytes(t, src); !bytes.Equal(first, again) {
		t.Errorf("Tar is not reproducible: %d bytes, then %d", len(first), len(again))
	}
	dst := newLayer(t)
	if _, err := applyBytes(dst, first, Limits{}); err != nil {
		t.Fatalf("Apply(Tar(dir)): %v", err)
	}
	want, got := tree(t, src)[1:], tree(t, dst)[1:] // not the roots
	if !slices.Equal(got, want) {
		t.Errorf("Apply(Tar(dir)) differs from dir:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if second := tarBytes(t, dst); !bytes.Equal(first, second) {
		t.Errorf("Tar(Apply(Tar(dir))) differs from Tar(dir):\n%q\n%q", tarNames(t, second), tarNames(t, first))
	}

	names := tarNames(t, first)
	for _, want := range []string{"bin/", "bin/a", "bin/b -> bin/a", "c -> bin/a", "bin/sh -> a", "empty/", "fifo"} {
		if !slices.Contains(names, want) {
			t.Errorf("Tar has no entry %q: %q", want, names)
		}
	}
	if idx := slices.Index(names, "bin/"); idx < 0 || idx > slices.Index(names, "bin/a") {
		t.Errorf("Tar does not write directories before what they hold: %q", names)
	}
}

// TestTarXattrs: xattrs travel as PAX records, overlayfs's own do not.
func TestTarXattrs(t *testing.T) {
	requireUserXattrs(t)
	src := t.TempDir()
	p := filepath.Join(src, "f")
	must(t, os.WriteFile(p, []byte("f"), 0o644))
	must(t, unix.Setxattr(p, "user.kept", []byte("v"), 0))
	must(t, unix.Setxattr(p, "user.overlay.origin", []byte("x"), 0))
	tr := tar.NewReader(bytes.NewReader(tarBytes(t, src)))
	hdr, err := tr.Next()
	must(t, err)
	want := map[string]string{"SCHILY.xattr.user.kept": "v"}
	if !maps.Equal(hdr.PAXRecords, want) {
		t.Errorf("PAX records of f = %q, want %q", hdr.PAXRecords, want)
	}
}

// TestTarDirect: a tree made with ordinary calls, with sub-second mtimes
// and a socket, round-trips through its tar.
func TestTarDirect(t *testing.T) {
	src := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(src, "a/b"), 0o750))
	must(t, os.WriteFile(filepath.Join(src, "a/b/f"), []byte("content"), 0o640))
	must(t, os.Symlink("b/f", filepath.Join(src, "a/l")))
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	must(t, err)
	defer unix.Close(fd)
	must(t, unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(src, "a/sock")}))
	first := tarBytes(t, src)
	if names := tarNames(t, first); !slices.Equal(names, []string{"a/", "a/b/", "a/b/f", "a/l -> b/f"}) {
		t.Errorf("Tar wrote %q", names)
	}
	dst := t.TempDir()
	if _, err := applyBytes(dst, first, Limits{}); err != nil {
		t.Fatal(err)
	}
	if second := tarBytes(t, dst); !bytes.Equal(first, second) {
		t.Errorf("Tar(Apply(Tar(dir))) differs from Tar(dir)")
	}
}
