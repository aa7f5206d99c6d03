package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"berth/internal/testfixture"
	"golang.org/x/sys/unix"
)

// isWhiteoutAt says whether p is an overlayfs whiteout.
func isWhiteoutAt(t *testing.T, p string) bool {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return false
	}
	return isWhiteout(&st)
}

func TestApplyWhiteouts(t *testing.T) {
	testfixture.RequireRoot(t)
	dir := mustApply(t,
		reg("x", "x"), reg(".wh.x", ""), // the whiteout replaces x
		dir("a/"), reg("a/.wh.b", ""), reg("a/.wh..wh..opq", ""), reg("a/kept", "kept"),
		reg(".wh.gone", ""),
		dir("c/"), reg("c/.wh..wh.plnk", ""), // AUFS bookkeeping, ignored
		dir("d/"), reg("d/inner", "i"), reg(".wh.d", ""), // a whole directory
	)
	for _, name := range []string{"x", "a/b", "gone", "d"} {
		if !isWhiteoutAt(t, filepath.Join(dir, name)) {
			t.Errorf("%s is not a whiteout: %s", name, describe(t, filepath.Join(dir, name)))
		}
	}
	if got := getXattr(filepath.Join(dir, "a"), opaqueXattr); string(got) != "y" {
		t.Errorf("a: %s = %q, want y", opaqueXattr, got)
	}
	if got := getXattr(filepath.Join(dir, "c"), opaqueXattr); got != nil {
		t.Errorf("c: %s = %q, want none", opaqueXattr, got)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "c")); len(entries) != 0 {
		t.Errorf("c holds %d entries, want none", len(entries))
	}
	if got, err := os.ReadFile(filepath.Join(dir, "a/kept")); err != nil || string(got) != "kept" {
		t.Errorf("an opaque directory lost what its own layer put in it: %q, %v", got, err)
	}
}

// TestApplyWhiteoutsStayInside: whiteouts and opaque markers written
// through symlinks land inside the layer too.
func TestApplyWhiteoutsStayInside(t *testing.T) {
	testfixture.RequireRoot(t)
	for _, c := range []struct {
		entries []entry
		ok      bool // false: an error is fine too
	}{
		{[]entry{symlink("up", ".."), reg("up/.wh.sentinel", "")}, true},
		{[]entry{symlink("up", ".."), reg("up/.wh..wh..opq", "")}, true},
		{[]entry{symlink("p", "/"), reg("p/.wh..wh..opq", "")}, true},
		{[]entry{symlink("d", "../sentinel-dir"), reg("d/.wh.f", ""), reg("d/.wh..wh..opq", "")}, false},
	} {
		s := newSandbox(t)
		_, err := applyBytes(s.layer, makeTar(t, c.entries...), Limits{})
		s.check(t)
		if c.ok && err != nil {
			t.Errorf("Apply(%s...): %v", c.entries[1].Name, err)
		}
	}
}

func TestApplyDevices(t *testing.T) {
	testfixture.RequireRoot(t)
	null := entry{Header: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: testTime}}
	loop := entry{Header: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/loop0", Mode: 0o660, Devmajor: 7, Devminor: 0, Gid: 6, ModTime: testTime}}
	dir := mustApply(t, dir("dev/"), null, loop)
	for _, c := range []struct {
		name         string
		mode         uint32
		major, minor uint32
		gid          uint32
	}{
		{"dev/null", unix.S_IFCHR | 0o666, 1, 3, 0},
		{"dev/loop0", unix.S_IFBLK | 0o660, 7, 0, 6},
	} {
		st := lstat(t, filepath.Join(dir, c.name))
		if st.Mode != c.mode || unix.Major(st.Rdev) != c.major || unix.Minor(st.Rdev) != c.minor || st.Gid != c.gid {
			t.Errorf("%s: mode %o, device %d:%d, gid %d; want %o, %d:%d, %d", c.name, st.Mode,
				unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Gid, c.mode, c.major, c.minor, c.gid)
		}
	}
}

func TestApplyOwnership(t *testing.T) {
	testfixture.RequireRoot(t)
	owned := func(e entry, uid, gid int) entry {
		e.Uid, e.Gid = uid, gid
		return e
	}
	suid := owned(reg("suid", "s"), 1000, 2000)
	suid.Mode = 0o6755
	// A file capability: VFS_CAP_REVISION_2, CAP_NET_RAW permitted.
	capability := "\x01\x00\x00\x02\x00\x20\x00\x00" + strings.Repeat("\x00", 12)
	ping := owned(reg("ping", "p"), 1000, 1000)
	ping.Mode = 0o755
	ping.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": capability}
	sgid := owned(dir("sgid/"), 0, 3000)
	sgid.Mode = 0o2775
	dir := mustApply(t,
		suid, ping,
		owned(dir("home/"), 1001, 1001),
		owned(symlink("home/link", "/nowhere"), 1002, 1003),
		sgid,
		reg("sgid/root-file", "r"), // uid 0, gid 0: not the directory's
		owned(reg("sgid/group-file", "g"), 0, 3000), // the directory's gid
		dir("sgid/sub/"), // mode 0755: no inherited setgid
	)
	for _, c := range []struct {
		name     string
		uid, gid uint32
		mode     uint32
	}{
		{"suid", 1000, 2000, unix.S_IFREG | 0o6755},
		{"ping", 1000, 1000, unix.S_IFREG | 0o755},
		{"home", 1001, 1001, unix.S_IFDIR | 0o755},
		{"home/link", 1002, 1003, unix.S_IFLNK | 0o777},
		{"sgid", 0, 3000, unix.S_IFDIR | 0o2775},
		{"sgid/root-file", 0, 0, unix.S_IFREG | 0o644},
		{"sgid/group-file", 0, 3000, unix.S_IFREG | 0o644},
		{"sgid/sub", 0, 0, unix.S_IFDIR | 0o755},
	} {
		st := lstat(t, filepath.Join(dir, c.name))
		if st.Uid != c.uid || st.Gid != c.gid || st.Mode != c.mode {
			t.Errorf("%s: %d:%d mode %o, want %d:%d mode %o", c.name, st.Uid, st.Gid, st.Mode, c.uid, c.gid, c.mode)
		}
	}
	// chown clears file capabilities: they are set after it.
	if got := getXattr(filepath.Join(dir, "ping"), "security.capability"); string(got) != capability {
		t.Errorf("ping: security.capability = %q, want %q", got, capability)
	}
}

// mountOverlay mounts an overlay of the given options on a new directory,
// until the test ends, and returns the directory.
func mountOverlay(t *testing.T, options string) string {
	t.Helper()
	mnt := t.TempDir()
	if err := unix.Mount("overlay", mnt, "overlay", 0, options); err != nil {
		if errors.Is(err, unix.ENODEV) {
			t.Skip("needs overlayfs")
		}
		t.Fatalf("mount overlay %s: %v", options, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

func readDirNames(t *testing.T, p string) []string {
	t.Helper()
	entries, err := os.ReadDir(p)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkMerged checks the view of lower with upper's changes on top.
func checkMerged(t *testing.T, mnt string) {
	t.Helper()
	for dir, want := range map[string][]string{
		".":   {"dir", "etc", "keep"},
		"etc": {"hosts"},
		"dir": {"new"},
	} {
		if got := readDirNames(t, filepath.Join(mnt, dir)); !slices.Equal(got, want) {
			t.Errorf("merged %s holds %q, want %q", dir, got, want)
		}
	}
}

var lowerLayer = []entry{
	dir("etc/"), reg("etc/passwd", "root:x:0:0"), reg("etc/hosts", "localhost"),
	dir("dir/"), reg("dir/old", "old"), dir("dir/sub/"), reg("dir/sub/f", "f"),
	reg("keep", "keep"),
}

// TestOverlayOfAppliedLayers: two applied layers, stacked by overlayfs as
// an image's layers are, give the view the second layer's whiteouts ask
// for. This is what makes Apply's directories overlay-ready.
func TestOverlayOfAppliedLayers(t *testing.T) {
	testfixture.RequireRoot(t)
	lower := mustApply(t, lowerLayer...)
	upper := mustApply(t,
		dir("etc/"), reg("etc/.wh.passwd", ""),
		dir("dir/"), reg("dir/.wh..wh..opq", ""), reg("dir/new", "new"),
	)
	mnt := mountOverlay(t, "lowerdir="+upper+":"+lower)
	checkMerged(t, mnt)
}

// TestTarOfUpper: changes made through an overlay mount, tarred from its
// upper directory, applied as a layer on the same lower one, give the
// same view.
func TestTarOfUpper(t *testing.T) {
	testfixture.RequireRoot(t)
	lower := mustApply(t, lowerLayer...)
	upper, work := t.TempDir(), t.TempDir()
	mnt := mountOverlay(t, "lowerdir="+lower+",upperdir="+upper+",workdir="+work)
	must(t, os.Remove(filepath.Join(mnt, "etc/passwd")))
	must(t, os.RemoveAll(filepath.Join(mnt, "dir")))
	must(t, os.Mkdir(filepath.Join(mnt, "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(mnt, "dir/new"), []byte("new"), 0o644))
	checkMerged(t, mnt)

	var buf bytes.Buffer
	if err := Tar(t.Context(), &buf, upper); err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, buf.Bytes())
	for _, want := range []string{"etc/.wh.passwd", "dir/", "dir/.wh..wh..opq", "dir/new"} {
		if !slices.Contains(names, want) {
			t.Errorf("Tar(upper) has no %q: %q", want, names)
		}
	}
	layer := t.TempDir()
	if _, err := applyBytes(layer, buf.Bytes(), Limits{}); err != nil {
		t.Fatal(err)
	}
	checkMerged(t, mountOverlay(t, "lowerdir="+layer+":"+lower))
}
