package image

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"berth/internal/metadata"
)

// Pinner names snapshots that something other than an image uses (a
// container's layers), so collection keeps them.
type Pinner interface {
	PinnedChains(tx *metadata.Tx) ([]digest.Digest, error)
}

// Collect frees every blob and snapshot that no image (and no container,
// through Pinner) uses, and returns the bytes freed. It takes the
// garbage lock exclusively: with wait it waits for running pulls and
// loads to end, without it gives up at once when one runs, leaving the
// garbage to a later collection.
func (s *Store) Collect(wait bool) (int64, error) {
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	release, err := s.lock(how)
	if err == unix.EWOULDBLOCK {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer release()

	blobs := map[digest.Digest]bool{}
	chains := map[digest.Digest]bool{}
	var freed int64
	err = s.DB.Update(func(tx *metadata.Tx) error {
		err := tx.Images(func(img *metadata.Image) error {
			for _, d := range []digest.Digest{img.ID, img.Target.Digest, img.Manifest.Digest} {
				blobs[d] = true
			}
			for _, c := range img.Chain {
				chains[c] = true
			}
			return s.markManifest(img.Manifest.Digest, blobs)
		})
		if err != nil {
			return err
		}
		// The build cache keeps its steps' layers for the next build.
		err = tx.BuildSteps(func(st *metadata.BuildStep) error {
			for _, l := range st.Layers {
				blobs[l.Blob] = true
			}
			for _, c := range st.Chain {
				chains[c] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if p, ok := s.Users.(Pinner); ok {
			pinned, err := p.PinnedChains(tx)
			if err != nil {
				return err
			}
			for _, c := range pinned {
				chains[c] = true
			}
		}
		var dead []digest.Digest
		err = tx.Snapshots(func(snap *metadata.Snapshot) error {
			if !chains[snap.Chain] {
				dead = append(dead, snap.Chain)
				freed += snap.Size
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Records go now; their directories go in the sweep below,
		// after this transaction has committed.
		for _, c := range dead {
			if err := tx.DeleteSnapshot(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return freed, err
	}
	err = s.Content.Walk(func(d digest.Digest, size int64) error {
		if blobs[d] {
			return nil
		}
		freed += size
		return s.Content.Delete(d)
	})
	if err != nil {
		return freed, err
	}
	// Every command that writes holds the lock shared, so holding it
	// exclusively means that temporary files and directories are all
	// leftovers of killed commands, however young.
	if err := s.Snaps.Sweep(0); err != nil {
		return freed, err
	}
	return freed, s.Content.CleanIngest(0)
}

// markManifest marks the layer blobs of a stored manifest. A manifest
// that cannot be read marks nothing more: its image is broken anyway,
// and its layers' snapshots are kept through the image's chain.
func (s *Store) markManifest(d digest.Digest, blobs map[digest.Digest]bool) error {
	raw, err := s.Content.ReadAll(d, maxManifest)
	if err != nil {
		return nil
	}
	var m ocispec.Manifest
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	blobs[m.Config.Digest] = true
	for _, l := range m.Layers {
		blobs[l.Digest] = true
	}
	return nil
}

// maxManifest is the largest manifest berth reads, as registries bound
// them.
const maxManifest = 4 << 20
