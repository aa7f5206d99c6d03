package volume

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	root := t.TempDir()
	s, err := Open(root, metadata.Open(filepath.Join(root, "metadata.db")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// useVolumes writes a container record that names volumes.
func useVolumes(t *testing.T, s *Store, id string, names ...string) {
	t.Helper()
	err := s.DB.Update(func(tx *metadata.Tx) error {
		return tx.PutContainer(&metadata.Container{ID: id, Name: "c-" + id, Volumes: names})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func names(list []Info) []string {
	var out []string
	for _, i := range list {
		out = append(out, i.Name)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func TestCreateListFilter(t *testing.T) {
	s := newStore(t)
	if _, err := s.Create("data", CreateOptions{Labels: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.Path("data")); err != nil || !fi.IsDir() {
		t.Fatalf("data directory: %v", err)
	}
	// Creating it again returns it, as Docker does.
	if v, err := s.Create("data", CreateOptions{}); err != nil || v.Labels["env"] != "prod" {
		t.Errorf("second create = %+v, %v", v, err)
	}
	anon, err := s.Create("", CreateOptions{})
	if err != nil || len(anon.Name) != 64 {
		t.Fatalf("anonymous create = %+v, %v", anon, err)
	}
	if _, err := s.Create("other", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	useVolumes(t, s, "c1", "other")
	yes, no := true, false
	for _, tc := range []struct {
		f    Filter
		want []string // sorted
	}{
		{Filter{}, sorted(anon.Name, "data", "other")},
		{Filter{Dangling: &yes}, sorted(anon.Name, "data")},
		{Filter{Dangling: &no}, []string{"other"}},
		{Filter{Names: []string{"at"}}, []string{"data"}},
		{Filter{Labels: []string{"env=prod"}}, []string{"data"}},
		{Filter{Labels: []string{"env=dev"}}, nil},
		{Filter{NotLabels: []string{"env"}}, sorted(anon.Name, "other")},
	} {
		list, err := s.List(tc.f)
		if err != nil || !slices.Equal(names(list), tc.want) {
			t.Errorf("List(%+v) = %v, %v, want %v", tc.f, names(list), err, tc.want)
		}
	}
	for name, opts := range map[string]CreateOptions{
		"x":    {},
		"a/b":  {},
		"nfs1": {Driver: "nfs"},
		"opt1": {Options: map[string]string{"size": "1"}},
		"bnd1": {Options: map[string]string{"type": "none", "o": "bind", "device": "relative"}},
		"dev1": {Options: map[string]string{"type": "ext4"}},
	} {
		if _, err := s.Create(name, opts); err == nil {
			t.Errorf("Create(%q, %+v) took it", name, opts)
		}
		if _, err := os.Stat(filepath.Join(s.Dir, name)); err == nil {
			t.Errorf("refused volume %q left a directory", name)
		}
	}
}

func TestRemoveRefusesInUseAndRestores(t *testing.T) {
	s := newStore(t)
	if _, err := s.Create("data", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Path("data"), "f"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	useVolumes(t, s, "0123456789abcdef", "data")
	_, err := s.Remove("data", RemoveOptions{Keep: true})
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != "remove data: volume is in use - [0123456789ab]" {
		t.Errorf("rm of a volume in use = %v", err)
	}
	if _, err := s.Remove("nope", RemoveOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("rm of a missing volume = %v", err)
	}
	if _, err := s.Remove("nope", RemoveOptions{Force: true}); err != nil {
		t.Errorf("rm -f of a missing volume = %v", err)
	}
	if _, err := s.Remove("data", RemoveOptions{Force: true, Keep: true}); err != nil {
		t.Fatalf("rm -f: %v", err)
	}
	if _, err := s.Get("data"); !errdefs.IsNotFound(err) {
		t.Errorf("removed volume still there: %v", err)
	}
	if _, err := s.Create("data", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore("data", ""); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("restore over an existing volume = %v", err)
	}
	if _, err := s.Restore("data", "back"); err != nil {
		t.Fatalf("restore --name: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Path("back"), "f")); err != nil || string(b) != "kept" {
		t.Errorf("restored data = %q, %v", b, err)
	}
	if _, err := s.Restore("data", ""); !errdefs.IsNotFound(err) {
		t.Errorf("second restore = %v", err)
	}
}

func TestPruneAndPurge(t *testing.T) {
	s := newStore(t)
	anonUsed, _ := s.Create("", CreateOptions{Anonymous: true})
	anonFree, _ := s.Create("", CreateOptions{Anonymous: true})
	s.Create("named", CreateOptions{})
	s.Create("used", CreateOptions{})
	useVolumes(t, s, "c1", "used", anonUsed.Name)
	rep, err := s.Prune(PruneOptions{Keep: true})
	if err != nil || !slices.Equal(rep.Deleted, []string{anonFree.Name}) {
		t.Fatalf("prune = %+v, %v, want only the unused anonymous volume", rep, err)
	}
	rep, err = s.Prune(PruneOptions{All: true, Keep: true})
	if err != nil || !slices.Equal(rep.Deleted, []string{"named"}) {
		t.Fatalf("prune -a = %+v, %v, want only the unused named volume", rep, err)
	}
	left, _ := s.List(Filter{})
	if got := names(left); !slices.Contains(got, "used") || !slices.Contains(got, anonUsed.Name) || len(got) != 2 {
		t.Errorf("after prune: %v", got)
	}
	tl, _ := s.TrashList()
	if len(tl) != 2 {
		t.Fatalf("trash holds %d volumes, want 2", len(tl))
	}
	// Nothing is past a grace period that started now.
	if _, err := s.PurgeTrash(time.Now().Add(-time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if tl, _ := s.TrashList(); len(tl) != 2 {
		t.Errorf("purge within the grace period freed volumes")
	}
	if _, err := s.PurgeTrash(time.Time{}, true); err != nil {
		t.Fatal(err)
	}
	if tl, _ := s.TrashList(); len(tl) != 0 {
		t.Errorf("purge of all left %d", len(tl))
	}
	if entries, _ := os.ReadDir(s.TrashDir); len(entries) != 0 {
		t.Errorf("trash directory holds %d entries after purge", len(entries))
	}
	if _, err := s.Restore("named", ""); !errdefs.IsNotFound(err) {
		t.Errorf("restore after purge = %v", err)
	}
}

func TestCopyUpKeepsModesAndLinks(t *testing.T) {
	rootfs, dst := t.TempDir(), t.TempDir()
	img := filepath.Join(rootfs, "srv", "data")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(img, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(img, "sub", "script"), []byte("#!/bin/sh\n"), 0o750))
	must(os.Link(filepath.Join(img, "sub", "script"), filepath.Join(img, "hard")))
	must(os.Symlink("/etc/passwd", filepath.Join(img, "abs-link")))
	must(os.Chmod(filepath.Join(img, "sub"), os.ModeSticky|0o730))
	must(os.Chmod(img, 0o710))
	// /link-to-data, a symlink in the image, leads to /srv/data inside
	// the root, never to the host's /srv/data.
	must(os.Symlink("../../../srv/data", filepath.Join(rootfs, "link-to-data")))
	must(CopyUp(rootfs, "/link-to-data", dst))
	for p, mode := range map[string]os.FileMode{"sub": os.ModeDir | os.ModeSticky | 0o730, "sub/script": 0o750, ".": os.ModeDir | 0o710} {
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v, %v, want %v", p, fi.Mode(), err, mode)
		}
	}
	a, _ := os.Stat(filepath.Join(dst, "hard"))
	b, _ := os.Stat(filepath.Join(dst, "sub", "script"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("the hard link was not kept")
	}
	if l, err := os.Readlink(filepath.Join(dst, "abs-link")); err != nil || l != "/etc/passwd" {
		t.Errorf("symlink = %q, %v", l, err)
	}
	// A volume that has data is not filled again.
	must(os.Remove(filepath.Join(dst, "hard")))
	must(CopyUp(rootfs, "/srv/data", dst))
	if _, err := os.Lstat(filepath.Join(dst, "hard")); err == nil {
		t.Error("copy-up filled a volume that has data")
	}
	// Missing paths, and files, leave the volume empty.
	empty := t.TempDir()
	must(CopyUp(rootfs, "/nope", empty))
	must(CopyUp(rootfs, "/srv/data/hard", empty))
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("copy-up of nothing wrote %d entries", len(entries))
	}
}
