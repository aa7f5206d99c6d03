package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// requireUserXattrs skips the test where the temp dir's filesystem keeps
// no user xattrs.
func requireUserXattrs(t *testing.T) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "probe")
	must(t, os.WriteFile(p, nil, 0o644))
	if err := unix.Setxattr(p, "user.probe", []byte("1"), 0); err != nil {
		t.Skipf("needs user xattrs in %s: %v", os.TempDir(), err)
	}
}

func TestApplyXattrs(t *testing.T) {
	requireUserXattrs(t)
	withXattrs := func(e entry) entry {
		e.PAXRecords = map[string]string{
			"SCHILY.xattr.user.kept":                "value",
			"SCHILY.xattr.user.binary":              "\x00\xff",
			"SCHILY.xattr.trusted.overlay.opaque":   "y",
			"SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
			"SCHILY.xattr.user.overlay.opaque":      "y",
			"comment":                               "not an xattr",
		}
		return e
	}
	dir := mustApply(t, withXattrs(dir("d/")), withXattrs(reg("d/f", "f")))
	for _, name := range []string{"d", "d/f"} {
		p := filepath.Join(dir, name)
		for attr, want := range map[string]string{"user.kept": "value", "user.binary": "\x00\xff"} {
			if got := getXattr(p, attr); string(got) != want {
				t.Errorf("%s: xattr %s = %q, want %q", name, attr, got, want)
			}
		}
		// Those of overlayfs are dropped; as root, trusted ones are seen.
		for _, attr := range []string{"trusted.overlay.opaque", "trusted.overlay.redirect", "user.overlay.opaque"} {
			if _, err := unix.Lgetxattr(p, attr, nil); !errors.Is(err, unix.ENODATA) {
				t.Errorf("%s: xattr %s was taken from the layer (%v)", name, attr, err)
			}
		}
	}
}

func TestApplyHoles(t *testing.T) {
	const size = 16 << 20
	body := make([]byte, size)
	copy(body, "head")
	copy(body[size/2:], "middle")
	copy(body[size-4:], "tail")
	dir := mustApply(t, reg("sparse", string(body)), reg("zeros", string(make([]byte, 1<<20))), reg("small", "s"))
	for _, c := range []struct {
		name      string
		want      []byte
		maxBlocks int64 // of 512 bytes
	}{
		{"sparse", body, 3 * holeBlock / 512},
		{"zeros", make([]byte, 1<<20), 0},
		{"small", []byte("s"), 8},
	} {
		p := filepath.Join(dir, c.name)
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s does not hold what the layer gave it (%v)", c.name, err)
		}
		if st := lstat(t, p); st.Blocks > c.maxBlocks {
			t.Errorf("%s uses %d blocks of 512 bytes, want at most %d", c.name, st.Blocks, c.maxBlocks)
		}
	}
}

// TestApplyGNUSparse: archive/tar expands sparse entries, in GNU tar's old
// and PAX forms; the holes come back.
func TestApplyGNUSparse(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("needs GNU tar to write sparse entries")
	}
	src := t.TempDir()
	const size = 32 << 20
	f, err := os.Create(filepath.Join(src, "sparse"))
	must(t, err)
	_, err = f.WriteAt([]byte("data"), size/2)
	must(t, err)
	must(t, f.Truncate(size))
	must(t, f.Close())
	for _, format := range []string{"gnu", "pax"} {
		out, err := exec.Command(tarBin, "--sparse", "--format="+format, "-cf", "-", "-C", src, "sparse").Output()
		if err != nil {
			t.Skipf("tar --sparse --format=%s: %v", format, err)
		}
		if len(out) > 1<<20 {
			t.Fatalf("tar --format=%s wrote %d bytes: not a sparse entry", format, len(out))
		}
		dir := t.TempDir()
		if _, err := applyBytes(dir, out, Limits{}); err != nil {
			t.Fatalf("Apply(%s sparse) = %v", format, err)
		}
		p := filepath.Join(dir, "sparse")
		got, err := os.ReadFile(p)
		want := make([]byte, size)
		copy(want[size/2:], "data")
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s sparse: the file does not hold what was archived (%v)", format, err)
		}
		if st := lstat(t, p); st.Blocks > 2*holeBlock/512 {
			t.Errorf("%s sparse: the file uses %d blocks of 512 bytes", format, st.Blocks)
		}
	}
}

func TestApplyLongNames(t *testing.T) {
	deep := strings.Repeat("dir/", 100) + "file"
	long := strings.Repeat("n", 255)
	target := strings.Repeat("../", 120) + "target"
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU} {
		entries := []entry{reg(deep, "deep"), reg(long, "long"), symlink("link", target), hardlink("hard", deep)}
		for i := range entries {
			entries[i].Format = format
		}
		dir := mustApply(t, entries...)
		for name, want := range map[string]string{deep: "deep", long: "long", "hard": "deep"} {
			if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
				t.Errorf("%v: ReadFile(%.20s...) = %q, %v, want %q", format, name, got, err, want)
			}
		}
		if got, err := os.Readlink(filepath.Join(dir, "link")); err != nil || got != target {
			t.Errorf("%v: Readlink(link) = %.20q..., %v", format, got, err)
		}
	}
}
