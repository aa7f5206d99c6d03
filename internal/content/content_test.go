package content

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ingestCount(t *testing.T, s *Store) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.root, "ingest"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestPutAndRead(t *testing.T) {
	s := newStore(t)
	data := []byte("hello layer")
	want := digest.FromBytes(data)
	got, err := s.Put(data, want)
	if err != nil || got != want {
		t.Fatalf("Put = %s, %v; want %s", got, err, want)
	}
	b, err := s.ReadAll(want, 100)
	if err != nil || string(b) != string(data) {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	if n, err := s.Size(want); err != nil || n != int64(len(data)) {
		t.Errorf("Size = %d, %v", n, err)
	}
	if _, err := s.ReadAll(want, 5); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("ReadAll over its bound: %v, want an invalid-argument error", err)
	}
	// A second Put of the same blob is fine and leaves no temp file.
	if _, err := s.Put(data, want); err != nil {
		t.Fatal(err)
	}
	if n := ingestCount(t, s); n != 0 {
		t.Errorf("%d files left in ingest", n)
	}
}

func TestDigestMismatchIsNeverStored(t *testing.T) {
	s := newStore(t)
	want := digest.FromString("what the registry promised")
	_, err := s.Put([]byte("what it sent"), want)
	if err == nil {
		t.Fatal("a blob with the wrong digest was stored")
	}
	got := digest.FromString("what it sent")
	for _, d := range []digest.Digest{want, got} {
		if !strings.Contains(err.Error(), d.String()) {
			t.Errorf("error %q does not name %s", err, d)
		}
		if s.Has(d) {
			t.Errorf("blob %s is in the store", d)
		}
	}
	if n := ingestCount(t, s); n != 0 {
		t.Errorf("%d files left in ingest", n)
	}
}

func TestSizeChecks(t *testing.T) {
	s := newStore(t)
	data := []byte("0123456789")
	d := digest.FromBytes(data)

	w, err := s.Writer(d, 20)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if _, err := w.Commit(); err == nil || !strings.Contains(err.Error(), "size mismatch") {
		t.Errorf("truncated blob: %v, want a size mismatch", err)
	}

	w, err = s.Writer(d, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err == nil {
		t.Error("writing past the announced size succeeded")
	}
	w.Close()
	if s.Has(d) || ingestCount(t, s) != 0 {
		t.Error("a failed blob left something behind")
	}
}

func TestUnknownDigestIsComputed(t *testing.T) {
	s := newStore(t)
	got, err := s.Put([]byte("x"), "")
	if err != nil || got != digest.FromString("x") {
		t.Fatalf("Put = %s, %v", got, err)
	}
	var seen []digest.Digest
	s.Walk(func(d digest.Digest, size int64) error { seen = append(seen, d); return nil })
	if len(seen) != 1 || seen[0] != got {
		t.Errorf("Walk saw %v", seen)
	}
	if err := s.Delete(got); err != nil || s.Has(got) {
		t.Errorf("Delete: %v, still there: %v", err, s.Has(got))
	}
	if _, err := s.Open(got); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Open of a deleted blob: %v", err)
	}
}

func TestBadDigest(t *testing.T) {
	s := newStore(t)
	for _, d := range []digest.Digest{"sha256:zz", "md5:d41d8cd98f00b204e9800998ecf8427e", "../../etc/passwd"} {
		if _, err := s.Open(d); err == nil {
			t.Errorf("Open(%q) succeeded", d)
		}
	}
}

func TestCleanIngest(t *testing.T) {
	s := newStore(t)
	w, err := s.Writer("", -1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half a blob")) // then the writer is killed
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(w.f.Name(), old, old)
	w2, _ := s.Writer("", -1) // a writer still running
	defer w2.Close()
	if err := s.CleanIngest(time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := ingestCount(t, s); n != 1 {
		t.Errorf("%d files in ingest, want only the running writer's", n)
	}
}
