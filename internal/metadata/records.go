package metadata

import (
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is one stored image: a config and its layers, named by the
// config's digest as Docker names images.
type Image struct {
	ID digest.Digest `json:"id"`
	// Target is what was pulled or loaded: a manifest, or an index the
	// manifest was chosen from. Pushing and saving start from it.
	Target ocispec.Descriptor `json:"target"`
	// Manifest is the platform's manifest (Target itself when Target is
	// a manifest).
	Manifest ocispec.Descriptor `json:"manifest"`
	// Chain is the chain ID of each layer, bottom first: the snapshots
	// the image's containers stack.
	Chain []digest.Digest `json:"chain"`
	// RepoDigests are "repository@digest" names the image was pulled or
	// pushed by.
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Stored is when the image came into this store.
	Stored time.Time `json:"stored"`
}

// Snapshot is one unpacked layer, a directory shared by every image whose
// layers up to this one are the same.
type Snapshot struct {
	Chain  digest.Digest `json:"chain"`
	Parent digest.Digest `json:"parent,omitempty"`
	DiffID digest.Digest `json:"diffID"`
	// Dir is the snapshot's directory name under the snapshots root:
	// short, so that an overlay mount of many layers fits its options.
	Dir  string `json:"dir"`
	Size int64  `json:"size"`
	// Unsynced, when set, says that the layer's files may not be on the
	// disk yet: it is the boot ID of the boot that wrote them (see
	// internal/snapshot).
	Unsynced string `json:"unsynced,omitempty"`
}

// PutImage stores img, replacing a record of the same ID.
func (t *Tx) PutImage(img *Image) error { return t.put(bucketImages, string(img.ID), img) }

// Image returns image id, or an errdefs.ErrNotFound error.
func (t *Tx) Image(id digest.Digest) (*Image, error) {
	img := &Image{}
	ok, err := t.get(bucketImages, string(id), img)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("image", string(id))
	}
	return img, nil
}

// Images calls fn for every image.
func (t *Tx) Images(fn func(img *Image) error) error {
	return each(t, bucketImages, func(_ string, img *Image) error { return fn(img) })
}

// DeleteImage removes image id's record; its names must go first.
func (t *Tx) DeleteImage(id digest.Digest) error { return t.del(bucketImages, string(id)) }

// SetName points name (a full reference) at image id.
func (t *Tx) SetName(name string, id digest.Digest) error { return t.put(bucketNames, name, id) }

// Name returns the image that name points at.
func (t *Tx) Name(name string) (digest.Digest, error) {
	var id digest.Digest
	ok, err := t.get(bucketNames, name, &id)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", notFound("image", name)
	}
	return id, nil
}

// Names calls fn for every name and the image it points at.
func (t *Tx) Names(fn func(name string, id digest.Digest) error) error {
	return each(t, bucketNames, func(name string, id *digest.Digest) error { return fn(name, *id) })
}

// DeleteName removes name.
func (t *Tx) DeleteName(name string) error { return t.del(bucketNames, name) }

// PutSnapshot stores s.
func (t *Tx) PutSnapshot(s *Snapshot) error { return t.put(bucketSnapshots, string(s.Chain), s) }

// Snapshot returns the snapshot of chain, or an errdefs.ErrNotFound error.
func (t *Tx) Snapshot(chain digest.Digest) (*Snapshot, error) {
	s := &Snapshot{}
	ok, err := t.get(bucketSnapshots, string(chain), s)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("snapshot", string(chain))
	}
	return s, nil
}

// Snapshots calls fn for every snapshot.
func (t *Tx) Snapshots(fn func(s *Snapshot) error) error {
	return each(t, bucketSnapshots, func(_ string, s *Snapshot) error { return fn(s) })
}

// DeleteSnapshot removes the record of chain.
func (t *Tx) DeleteSnapshot(chain digest.Digest) error { return t.del(bucketSnapshots, string(chain)) }
