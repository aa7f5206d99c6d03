package metadata

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
)

func TestRecords(t *testing.T) {
	db := Open(filepath.Join(t.TempDir(), "metadata.db"))
	id := digest.FromString("config")
	err := db.Update(func(tx *Tx) error {
		if err := tx.PutImage(&Image{ID: id, Chain: []digest.Digest{digest.FromString("l1")}}); err != nil {
			return err
		}
		return tx.SetName("docker.io/library/busybox:latest", id)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *Tx) error {
		got, err := tx.Name("docker.io/library/busybox:latest")
		if err != nil || got != id {
			t.Errorf("Name = %s, %v", got, err)
		}
		img, err := tx.Image(id)
		if err != nil || len(img.Chain) != 1 {
			t.Errorf("Image = %+v, %v", img, err)
		}
		if _, err := tx.Image(digest.FromString("other")); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("missing image: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A failed transaction leaves nothing of itself.
func TestRollback(t *testing.T) {
	db := Open(filepath.Join(t.TempDir(), "metadata.db"))
	boom := errors.New("boom")
	err := db.Update(func(tx *Tx) error {
		tx.SetName("a", digest.FromString("x"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	db.View(func(tx *Tx) error {
		if _, err := tx.Name("a"); err == nil {
			t.Error("a rolled-back name is visible")
		}
		return nil
	})
}

// Transactions from many goroutines (standing in for many commands, each
// opening the file anew) all land.
func TestConcurrentUpdates(t *testing.T) {
	db := Open(filepath.Join(t.TempDir(), "metadata.db"))
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.Update(func(tx *Tx) error {
				_, err := tx.NextID("snapshot")
				return err
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	db.Update(func(tx *Tx) error {
		n, _ := tx.NextID("snapshot")
		if n != 21 {
			t.Errorf("counter = %d, want 21", n)
		}
		return nil
	})
}
