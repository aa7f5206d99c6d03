package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// splitApply applies data through a Splitter and returns the layer
// directory, Apply's result and the split record.
func splitApply(t *testing.T, data []byte) (string, Result, []byte) {
	t.Helper()
	dir := newLayer(t)
	var rec bytes.Buffer
	sp := Split(bytes.NewReader(data), &rec, sha256.New())
	res, err := Apply(context.Background(), dir, sp, Limits{})
	if err != nil {
		sp.Close()
		t.Fatalf("Apply: %v", err)
	}
	if err := sp.Finish(); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return dir, res, rec.Bytes()
}

func rebuild(dir string, rec []byte) ([]byte, error) {
	var out bytes.Buffer
	err := Rebuild(context.Background(), &out, dir, bytes.NewReader(rec))
	return out.Bytes(), err
}

// The files and the record give back the very bytes of the stream:
// headers of every kind, PAX records, long names, holes, and what
// follows the end-of-archive marker.
func TestSplitRebuildsTheStream(t *testing.T) {
	withXattr := reg("etc/conf", "x=1\n")
	withXattr.PAXRecords = map[string]string{"SCHILY.xattr.user.note": "kept"}
	long := reg("usr/"+strings.Repeat("long-name/", 12)+"file", "deep\n")
	sparse := reg("var/holes", string(make([]byte, 3*holeBlock))+"end")
	data := makeTar(t,
		dir("etc/"), withXattr,
		dir("usr/"), long,
		dir("var/"), sparse, reg("var/empty", ""),
		symlink("etc/link", "conf"),
		hardlink("etc/conf2", "etc/conf"),
		reg("usr/.wh.gone", ""),
		dir("etc/"), // listed again, as layers do to change metadata
	)
	data = append(data, make([]byte, 10240)...) // a tar -b20 record's padding
	d, res, rec := splitApply(t, data)
	if !res.Rebuildable {
		t.Fatalf("Apply = %+v, want it rebuildable", res)
	}
	if len(rec) > len(data)/2 {
		t.Errorf("the record is %d bytes for a %d-byte stream", len(rec), len(data))
	}
	got, err := rebuild(d, rec)
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("rebuilt %d bytes, not the %d of the stream", len(got), len(data))
	}
	if n, err := RecordSize(bytes.NewReader(rec)); n != int64(len(data)) || err != nil {
		t.Errorf("RecordSize = %d, %v; want %d", n, err, len(data))
	}
}

// A layer whose files do not hold every entry's content says so.
func TestSplitNotRebuildable(t *testing.T) {
	dirWithSize := dir("d/")
	dirWithSize.Size = 3
	for name, entries := range map[string][]entry{
		"a file listed twice":          {reg("f", "first"), reg("f", "second")},
		"a file replaced by a dir":     {reg("f", "first"), dir("f/")},
		"a whiteout of its own file":   {dir("d/"), reg("d/f", "x"), reg("d/.wh.f", "")},
		"a whiteout with content":      {reg(".wh.f", "data")},
		"a directory header with size": {dirWithSize},
	} {
		_, res, _ := splitApply(t, makeTar(t, entries...))
		if res.Rebuildable {
			t.Errorf("%s: Apply = %+v, want it not rebuildable", name, res)
		}
	}
}

// A layer whose files changed does not rebuild to its stream: a file of
// another size or kind is an error, other content gives other bytes
// (which the caller's digest check refuses).
func TestRebuildChangedFiles(t *testing.T) {
	data := makeTar(t, dir("etc/"), reg("etc/a", "aaaa"), reg("etc/b", "bbbb"))
	for name, change := range map[string]func(dir string) error{
		"longer": func(d string) error { return os.WriteFile(filepath.Join(d, "etc/a"), []byte("aaaaa"), 0o644) },
		"a symlink": func(d string) error {
			os.Remove(filepath.Join(d, "etc/a"))
			return os.Symlink("b", filepath.Join(d, "etc/a"))
		},
		"gone": func(d string) error { return os.Remove(filepath.Join(d, "etc/b")) },
	} {
		d, _, rec := splitApply(t, data)
		must(t, change(d))
		if _, err := rebuild(d, rec); err == nil {
			t.Errorf("%s: Rebuild succeeded", name)
		}
	}
	d, _, rec := splitApply(t, data)
	must(t, os.WriteFile(filepath.Join(d, "etc/a"), []byte("AAAA"), 0o644))
	got, err := rebuild(d, rec)
	if err != nil || bytes.Equal(got, data) || len(got) != len(data) {
		t.Errorf("Rebuild after a change in content = %d bytes, equal %v, %v", len(got), bytes.Equal(got, data), err)
	}
}

// Rebuild reads files inside the layer only, whatever the record names.
func TestRebuildStaysInside(t *testing.T) {
	out := t.TempDir()
	must(t, os.WriteFile(filepath.Join(out, "secret"), []byte("classified"), 0o644))
	d, _, _ := splitApply(t, makeTar(t, symlink("esc", out)))
	// A record made from a stream whose file lies beyond the symlink.
	_, _, rec := splitApply(t, makeTar(t, reg("esc/secret", "classified")))
	if got, err := rebuild(d, rec); err == nil || bytes.Contains(got, []byte("classified")) {
		t.Errorf("Rebuild read a file through a symlink out of the layer: %v", err)
	}
}
