package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"berth/internal/metadata"
)

func TestChain(t *testing.T) {
	a, b := digest.FromString("a"), digest.FromString("b")
	got := Chain([]digest.Digest{a, b})
	// The image spec's definition: ChainID(L1|L2) = SHA256(ChainID(L1) + " " + DiffID(L2)).
	want := digest.FromString(a.String() + " " + b.String())
	if got[0] != a || got[1] != want {
		t.Errorf("Chain = %v, want [%s %s]", got, a, want)
	}
}

func newStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	s, err := New(filepath.Join(dir, "snapshots"), metadata.Open(filepath.Join(dir, "metadata.db")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A layer committed twice (two pulls at once) keeps the first copy.
func TestCommitTwice(t *testing.T) {
	s := newStore(t)
	chain := digest.FromString("layer")
	var dirs []string
	for i := 0; i < 2; i++ {
		tmp, err := s.Temp()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(tmp, "fs", "f"), []byte{byte('0' + i)}, 0o644)
		snap, err := s.Commit(tmp, chain, "", chain, 1)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, s.Dir(snap))
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("temporary directory %s left: %v", tmp, err)
		}
	}
	if dirs[0] != dirs[1] {
		t.Errorf("two directories for one chain: %v", dirs)
	}
	if b, _ := os.ReadFile(filepath.Join(dirs[0], "f")); string(b) != "0" {
		t.Errorf("the first copy was replaced: %q", b)
	}
	got, err := s.LowerDirs([]digest.Digest{chain})
	if err != nil || len(got) != 1 || got[0] != dirs[0] {
		t.Errorf("LowerDirs = %v, %v", got, err)
	}
}

// Sweep removes directories no record names, and keeps recorded ones.
func TestSweep(t *testing.T) {
	s := newStore(t)
	tmp, _ := s.Temp()
	snap, err := s.Commit(tmp, digest.FromString("kept"), "", digest.FromString("kept"), 0)
	if err != nil {
		t.Fatal(err)
	}
	stray, _ := s.Temp()
	orphan := filepath.Join(s.root, "999")
	os.Mkdir(orphan, 0o755)
	if err := s.Sweep(0); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{stray, orphan} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived the sweep", p)
		}
	}
	if _, err := os.Stat(s.Dir(snap)); err != nil {
		t.Errorf("a recorded layer was swept: %v", err)
	}
}

// A split record committed with a layer that is already there joins it
// when it has none, and WithRecord finds only layers with records.
func TestSplitRecordJoinsExistingLayer(t *testing.T) {
	s := newStore(t)
	chain := digest.FromString("layer")
	commit := func(record string) *metadata.Snapshot {
		t.Helper()
		tmp, err := s.Temp()
		if err != nil {
			t.Fatal(err)
		}
		if record != "" {
			os.WriteFile(filepath.Join(tmp, SplitRecord), []byte(record), 0o600)
		}
		snaps, err := s.CommitAll([]Pending{{Tmp: tmp, Chain: chain, DiffID: chain, Size: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return snaps[0]
	}
	first := commit("")
	if _, err := s.WithRecord(chain); err == nil {
		t.Fatal("WithRecord found a layer without a record")
	}
	second := commit("first record")
	commit("second record")
	if second.Dir != first.Dir {
		t.Fatalf("the layer was committed twice: %s, %s", first.Dir, second.Dir)
	}
	snap, err := s.WithRecord(chain)
	if err != nil || snap.Dir != first.Dir {
		t.Fatalf("WithRecord = %+v, %v", snap, err)
	}
	if b, err := os.ReadFile(s.Record(snap)); string(b) != "first record" {
		t.Errorf("record %q, %v; want the first that came", b, err)
	}
}
