package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"berth/internal/imagetest"
	"berth/internal/metadata"
	"berth/internal/testfixture"
)

// bigImage is an image with enough files that a load takes a while to
// kill in the middle of.
func bigImage(gzipped bool) *imagetest.Image {
	var layers [][]byte
	for l := 0; l < 3; l++ {
		files := map[string]imagetest.File{}
		for i := 0; i < 400; i++ {
			files[fmt.Sprintf("l%d/d%d/f%d", l, i%20, i)] = imagetest.File{Body: fmt.Sprint(bytes.Repeat([]byte{byte(i)}, 4096*(1+i%8)))}
		}
		layers = append(layers, imagetest.Tar(files))
	}
	return imagetest.Build(layers, gzipped)
}

// A load killed with SIGKILL at any instant leaves a store where every
// recorded image is whole, and the next collection removes what was in
// flight: with compressed layers, stored as blobs, and uncompressed ones,
// kept as split records.
func TestLoadSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills many loads")
	}
	for _, gzipped := range []bool{true, false} {
		t.Run(fmt.Sprintf("gzip=%v", gzipped), func(t *testing.T) { loadKilled(t, gzipped) })
	}
}

func loadKilled(t *testing.T, gzipped bool) {
	berth := testfixture.BuildBerth(t)
	root := t.TempDir()
	archive := filepath.Join(t.TempDir(), "img.tar")
	if err := os.WriteFile(archive, bigImage(gzipped).DockerArchive("big:1"), 0o644); err != nil {
		t.Fatal(err)
	}
	// How long a whole load takes here, to spread the kills over it.
	start := time.Now()
	if out, err := exec.Command(berth, "--root", root, "load", "-i", archive).CombinedOutput(); err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	whole := time.Since(start)
	if out, err := exec.Command(berth, "--root", root, "rmi", "big:1").CombinedOutput(); err != nil {
		t.Fatalf("rmi: %v\n%s", err, out)
	}
	for i := 0; i < 15; i++ {
		cmd := exec.Command(berth, "--root", root, "load", "-i", archive)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(whole))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		checkStore(t, root)
		if i%3 == 2 {
			// Sometimes remove what the killed load finished.
			exec.Command(berth, "--root", root, "rmi", "big:1").Run()
		}
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collect(true); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"content/ingest"} {
		if entries, _ := os.ReadDir(filepath.Join(root, dir)); len(entries) != 0 {
			t.Errorf("%d files left in %s after collection", len(entries), dir)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, "snapshots"))
	for _, e := range entries {
		if len(e.Name()) > 4 && e.Name()[:4] == "tmp-" {
			t.Errorf("temporary layer %s left after collection", e.Name())
		}
	}
	// And the store still works.
	if out, err := exec.Command(berth, "--root", root, "load", "-i", archive).CombinedOutput(); err != nil {
		t.Fatalf("load after the kills: %v\n%s", err, out)
	}
	checkStore(t, root)
}

// checkStore fails t unless every recorded image has its blobs and
// snapshots.
func checkStore(t *testing.T, root string) {
	t.Helper()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	err = s.DB.View(func(tx *metadata.Tx) error {
		return tx.Images(func(img *metadata.Image) error {
			m, _, err := s.Manifest(img)
			if err != nil {
				return fmt.Errorf("image %s: %w", img.ID, err)
			}
			for _, l := range m.Layers {
				// The blob, stored or rebuilt, and checked.
				b, err := s.openBlob(context.Background(), l.Digest, l.Size)
				if err != nil {
					return fmt.Errorf("image %s: layer blob %s: %w", img.ID, l.Digest, err)
				}
				_, err = io.Copy(io.Discard, b)
				b.Close()
				if err != nil {
					return fmt.Errorf("image %s: layer blob %s: %w", img.ID, l.Digest, err)
				}
			}
			for _, c := range img.Chain {
				snap, err := tx.Snapshot(c)
				if err != nil {
					return fmt.Errorf("image %s: %w", img.ID, err)
				}
				if _, err := os.Stat(s.Snaps.Dir(snap)); err != nil {
					return fmt.Errorf("image %s: %w", img.ID, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
