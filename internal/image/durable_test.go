package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
	"berth/internal/imagetest"
	"berth/internal/metadata"
	"berth/internal/snapshot"
)

// openAt opens the store under root as a command of the boot boot does.
func openAt(t *testing.T, root, boot string) *Store {
	t.Helper()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	s.Snaps.BootID = func() (string, error) { return boot, nil }
	return s
}

// snapOf returns the record of the snapshot of chain.
func snapOf(t *testing.T, s *Store, chain digest.Digest) *metadata.Snapshot {
	t.Helper()
	snap, err := s.Snaps.Get(chain)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// unpackedAgain marks file, of chain's layer, with a mode of its own,
// has the chain's lower directories looked up, and reports whether the
// mark is gone: the layer was unpacked anew.
func unpackedAgain(t *testing.T, s *Store, chain []digest.Digest, file string) bool {
	t.Helper()
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snaps.LowerDirs(chain); err != nil {
		t.Fatal(err)
	}
	return modeOf(t, file) != 0o600
}

func modeOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// Layers loaded from a file are committed without a wait for the disk,
// marked with the boot that wrote them; compressed ones, unpacked from
// their blobs, are synced before their commit as before.
func TestLoadLeavesSplitLayersUnsynced(t *testing.T) {
	root := t.TempDir()
	s := openAt(t, root, "boot-a")
	load(t, s, imagetest.Build([][]byte{baseLayer, appLayer}, false).DockerArchive("plain:1"))
	for _, c := range mustLookup(t, s, "plain:1").Chain {
		if got := snapOf(t, s, c).Unsynced; got != "boot-a" {
			t.Errorf("layer %s: unsynced %q, want boot-a", c, got)
		}
	}
	load(t, s, imagetest.Build([][]byte{otherLayer}, true).DockerArchive("gz:1"))
	if got := snapOf(t, s, mustLookup(t, s, "gz:1").Chain[0]).Unsynced; got != "" {
		t.Errorf("layer unpacked from its blob: unsynced %q, want none", got)
	}
	flat := imagetest.Tar(map[string]imagetest.File{"imported": {Body: "imported\n"}})
	img, err := s.Import(context.Background(), bytes.NewReader(flat), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := snapOf(t, s, img.Chain[0]).Unsynced; got != "boot-a" {
		t.Errorf("imported layer: unsynced %q, want boot-a", got)
	}
}

// The next command that writes to the store makes the unsynced layers
// of its boot durable, and leaves its own unsynced.
func TestNextCommandSettles(t *testing.T) {
	root := t.TempDir()
	first := imagetest.Build([][]byte{baseLayer}, false)
	load(t, openAt(t, root, "boot-a"), first.DockerArchive("first:1"))
	s := openAt(t, root, "boot-a")
	load(t, s, imagetest.Build([][]byte{appLayer}, false).DockerArchive("second:1"))
	if got := snapOf(t, s, mustLookup(t, s, "first:1").Chain[0]).Unsynced; got != "" {
		t.Errorf("the first load's layer: unsynced %q after the next load, want none", got)
	}
	if got := snapOf(t, s, mustLookup(t, s, "second:1").Chain[0]).Unsynced; got != "boot-a" {
		t.Errorf("the second load's layer: unsynced %q, want boot-a", got)
	}
	// A layer of another boot is not the next command's to settle: it
	// is checked before its use.
	later := openAt(t, root, "boot-b")
	if err := later.Snaps.Settle(); err != nil {
		t.Fatal(err)
	}
	if got := snapOf(t, later, mustLookup(t, later, "second:1").Chain[0]).Unsynced; got != "boot-a" {
		t.Errorf("a layer of an earlier boot: unsynced %q after another boot's settle, want boot-a", got)
	}
}

// In the boot that wrote it, an unsynced layer is used as it is.
func TestUnsyncedLayerTrustedInItsBoot(t *testing.T) {
	root := t.TempDir()
	load(t, openAt(t, root, "boot-a"), imagetest.Build([][]byte{baseLayer}, false).DockerArchive("img:1"))
	s := openAt(t, root, "boot-a")
	chain := mustLookup(t, s, "img:1").Chain
	hello := filepath.Join(s.Snaps.Dir(snapOf(t, s, chain[0])), "bin/hello")
	if unpackedAgain(t, s, chain, hello) {
		t.Error("the layer was unpacked again in the boot that wrote it")
	}
}

// After a reboot, an unsynced layer is unpacked anew from its split
// record and files before its use: what its files lost (here modes and
// a time) comes back from its tar, in the same directory, and the layer
// is durable from then on.
func TestUnsyncedLayerRenewedAfterReboot(t *testing.T) {
	root := t.TempDir()
	img := imagetest.Build([][]byte{baseLayer, appLayer}, false)
	load(t, openAt(t, root, "boot-a"), img.DockerArchive("img:1"))
	s := openAt(t, root, "boot-b")
	chain := mustLookup(t, s, "img:1").Chain
	before, err := s.Snaps.LowerDirs(chain[:0])
	if err != nil || len(before) != 0 {
		t.Fatalf("LowerDirs of no layers: %v, %v", before, err)
	}
	base := s.Snaps.Dir(snapOf(t, s, chain[0]))
	app := s.Snaps.Dir(snapOf(t, s, chain[1]))
	hello := filepath.Join(base, "bin/hello")
	if err := os.Chmod(hello, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(app, "app"), 0o700); err != nil {
		t.Fatal(err)
	}
	osName := filepath.Join(base, "etc/os-name")
	fi, err := os.Stat(osName)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(osName, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	dirs, err := s.Snaps.LowerDirs(chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 2 || dirs[0] != app || dirs[1] != base {
		t.Errorf("LowerDirs = %v, want [%s %s]", dirs, app, base)
	}
	if m := modeOf(t, hello); m != 0o755 {
		t.Errorf("bin/hello mode %o after the check, want 755", m)
	}
	if m := modeOf(t, filepath.Join(app, "app")); m != 0o755 {
		t.Errorf("app mode %o after the check, want 755", m)
	}
	if fi2, err := os.Stat(osName); err != nil || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("etc/os-name time %v after the check, want %v (%v)", fi2.ModTime(), fi.ModTime(), err)
	}
	for _, c := range chain {
		if got := snapOf(t, s, c).Unsynced; got != "" {
			t.Errorf("layer %s: unsynced %q after the check, want none", c, got)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(s.Snaps.Root(), "tmp-*")); len(tmp) != 0 {
		t.Errorf("temporary directories left: %v", tmp)
	}
	// Durable now: not unpacked again.
	if unpackedAgain(t, s, chain, hello) {
		t.Error("a durable layer was unpacked again")
	}
	os.Chmod(hello, 0o755)
	got, err := savedLayers(t, s, "img:1")
	if err != nil {
		t.Fatal(err)
	}
	sameLayers(t, got, img.Layers)
}

// After a reboot, an unsynced layer whose tar cannot be rebuilt (a
// file's content or the split record did not reach the disk) is lost:
// the error says so, its record goes, and loading the image again
// brings it back.
func TestUnsyncedLayerLostAfterReboot(t *testing.T) {
	for _, c := range []struct {
		name  string
		spoil func(t *testing.T, snapDir string)
	}{
		{"content", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "fs", "etc/os-name"), []byte("TEST\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"file gone", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "fs", "bin/hello")); err != nil {
				t.Fatal(err)
			}
		}},
		{"record gone", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, snapshot.SplitRecord)); err != nil {
				t.Fatal(err)
			}
		}},
		{"record cut short", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, snapshot.SplitRecord), 20); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			arch := imagetest.Build([][]byte{baseLayer}, false).DockerArchive("img:1")
			load(t, openAt(t, root, "boot-a"), arch)
			s := openAt(t, root, "boot-b")
			chain := mustLookup(t, s, "img:1").Chain
			c.spoil(t, filepath.Dir(s.Snaps.Dir(snapOf(t, s, chain[0]))))
			_, err := s.Snaps.LowerDirs(chain)
			if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "is lost") || !strings.Contains(err.Error(), "load or pull its image again") {
				t.Fatalf("LowerDirs of a lost layer: %v", err)
			}
			if _, err := s.Snaps.Get(chain[0]); !errdefs.IsNotFound(err) {
				t.Errorf("the lost layer's record is still there: %v", err)
			}
			load(t, s, arch)
			dirs, err := s.Snaps.LowerDirs(chain)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(dirs[0], "etc/os-name")); string(b) != "test\n" {
				t.Errorf("etc/os-name = %q, %v after the load again", b, err)
			}
			if _, err := s.Collect(true); err != nil {
				t.Fatal(err)
			}
			if _, n := counts(t, s); n != 1 {
				t.Errorf("%d snapshot directories after collection, want 1", n)
			}
		})
	}
}

// Two commands that use a layer unsynced from an earlier boot at once
// both get it whole, checked once or twice but never half-replaced.
func TestUnsyncedLayerCheckedByTwoAtOnce(t *testing.T) {
	root := t.TempDir()
	img := imagetest.Build([][]byte{baseLayer, appLayer}, false)
	load(t, openAt(t, root, "boot-a"), img.DockerArchive("img:1"))
	chain := mustLookup(t, openAt(t, root, "boot-b"), "img:1").Chain
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		s := openAt(t, root, "boot-b")
		go func() {
			_, err := s.Snaps.LowerDirs(chain)
			errs <- err
		}()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	s := openAt(t, root, "boot-b")
	for _, c := range chain {
		if got := snapOf(t, s, c).Unsynced; got != "" {
			t.Errorf("layer %s: unsynced %q after the checks, want none", c, got)
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(s.Snaps.Root(), "tmp-*")); len(tmp) != 0 {
		t.Errorf("temporary directories left: %v", tmp)
	}
	got, err := savedLayers(t, s, "img:1")
	if err != nil {
		t.Fatal(err)
	}
	sameLayers(t, got, img.Layers)
}

// Without a boot ID to mark them with, split layers are synced before
// their commit, and recorded as on the disk.
func TestLoadWithoutBootIDSyncs(t *testing.T) {
	s := newStore(t)
	s.Snaps.BootID = func() (string, error) { return "", errors.New("no boot ID here") }
	load(t, s, imagetest.Build([][]byte{baseLayer}, false).DockerArchive("img:1"))
	chain := mustLookup(t, s, "img:1").Chain
	if got := snapOf(t, s, chain[0]).Unsynced; got != "" {
		t.Errorf("unsynced %q without a boot ID, want none", got)
	}
	if _, err := s.Snaps.LowerDirs(chain); err != nil {
		t.Error(err)
	}
}
