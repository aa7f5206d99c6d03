package image

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"

	"berth/internal/metadata"
)

// Writing holds the garbage lock shared until release is called, for a
// command (a build) that writes layers and blobs over a long time and
// keeps the snapshots it stacks in use meanwhile.
func (s *Store) Writing() (release func(), err error) { return s.writing() }

// CommitDir stores a layer that was made as a directory rather than
// unpacked from a tar: tmp is a snapshot directory from Snaps.Temp
// whose fs/ holds the layer in overlay form, and layer is its tar
// stream, which becomes the layer's (uncompressed) blob. The directory
// is committed as the snapshot on top of parent, the chain ID of the
// layers below (empty for a first layer), its size that of the tar. The
// caller holds Writing.
func (s *Store) CommitDir(tmp string, layer io.Reader, parent digest.Digest) (metadata.BuildLayer, digest.Digest, error) {
	w, err := s.Content.Writer("", -1)
	if err != nil {
		return metadata.BuildLayer{}, "", err
	}
	defer w.Close()
	d := digest.SHA256.Digester()
	size, err := io.Copy(io.MultiWriter(w, d.Hash()), layer)
	if err != nil {
		return metadata.BuildLayer{}, "", fmt.Errorf("store layer: %w", err)
	}
	blob, err := w.Commit()
	if err != nil {
		return metadata.BuildLayer{}, "", fmt.Errorf("store layer: %w", err)
	}
	diffID := d.Digest()
	chain := diffID
	if parent != "" {
		chain = digest.FromString(parent.String() + " " + diffID.String())
	}
	if _, err := s.Snaps.Commit(tmp, chain, parent, diffID, size); err != nil {
		return metadata.BuildLayer{}, "", err
	}
	return metadata.BuildLayer{Blob: blob, DiffID: diffID}, chain, nil
}

// StoreBuilt records a built image: config is its complete config
// (whose diff IDs are those of layers), layers are blobs already stored
// with snapshots already committed. The image gets a manifest and the
// given names, as any other image.
func (s *Store) StoreBuilt(ctx context.Context, config []byte, layers []digest.Digest, names []string) (*metadata.Image, error) {
	f, err := s.synthesize(config, layers, nil)
	if err != nil {
		return nil, err
	}
	return s.Ingest(ctx, &localSource{s: s, f: f}, IngestOptions{Names: names})
}

// BuildCacheUsage is the build cache's size: the records and the bytes
// of the layers they alone keep.
type BuildCacheUsage struct {
	Records int
	Size    int64
	// Shared is the part of Size that images use too.
	Shared int64
}

// BuildCache sums up the build cache.
func (s *Store) BuildCache() (BuildCacheUsage, error) {
	var u BuildCacheUsage
	err := s.DB.View(func(tx *metadata.Tx) error {
		used := map[digest.Digest]bool{}
		if err := tx.Images(func(img *metadata.Image) error {
			for _, c := range img.Chain {
				used[c] = true
			}
			return nil
		}); err != nil {
			return err
		}
		counted := map[digest.Digest]bool{}
		return tx.BuildSteps(func(st *metadata.BuildStep) error {
			u.Records++
			if len(st.Chain) == 0 {
				return nil
			}
			top := st.Chain[len(st.Chain)-1]
			if counted[top] {
				return nil
			}
			counted[top] = true
			snap, err := tx.Snapshot(top)
			if err != nil {
				return nil // a base image's layer the step did not change
			}
			u.Size += snap.Size
			if used[top] {
				u.Shared += snap.Size
			}
			return nil
		})
	})
	return u, err
}

// PruneBuildCache forgets build cache records (all of them, or those
// not used for longer than olderThan) and frees the layers no image
// uses. It returns the keys of the records removed and the bytes freed.
func (s *Store) PruneBuildCache(olderThan time.Duration) ([]string, int64, error) {
	var removed []string
	cutoff := time.Now().Add(-olderThan)
	err := s.DB.Update(func(tx *metadata.Tx) error {
		var keys []string
		if err := tx.BuildSteps(func(st *metadata.BuildStep) error {
			if olderThan <= 0 || st.Used.Before(cutoff) {
				keys = append(keys, st.Key)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.DeleteBuildStep(k); err != nil {
				return err
			}
		}
		removed = keys
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	freed, err := s.Collect(true)
	return removed, freed, err
}
