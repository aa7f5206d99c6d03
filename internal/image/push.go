package image

import (
	"context"
	"encoding/json"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/reference"
	"berth/internal/registry"
)

// Push uploads the image that ref names here to ref's repository and
// returns the manifest digest. The stored manifest is pushed as it is, so
// the digest is the one the image was pulled or loaded with; blobs that
// came from another repository of the same registry are mounted from it.
func (s *Store) Push(ctx context.Context, c *registry.Client, ref reference.Ref, prog registry.Progress) (digest.Digest, error) {
	img, err := s.Lookup(ref.String())
	if err != nil {
		return "", errdefs.NotFoundf("an image does not exist locally with the tag: %s", ref.Familiar())
	}
	m, raw, err := s.Manifest(img)
	if err != nil {
		return "", err
	}
	mountFrom := map[digest.Digest]reference.Ref{}
	for _, rd := range img.RepoDigests {
		repo, _, _ := strings.Cut(rd, "@")
		src, err := reference.ParseRepository(repo)
		if err != nil || src.Domain() != ref.Domain() {
			continue
		}
		for _, l := range m.Layers {
			mountFrom[l.Digest] = src
		}
	}
	v1img, err := partial.CompressedToImage(&storedImage{s: s, img: img, raw: raw})
	if err != nil {
		return "", err
	}
	d, err := c.Push(ctx, ref, v1img, registry.PushOptions{MountFrom: mountFrom, Progress: prog})
	if err != nil {
		return "", err
	}
	// Remember where the image now is, for later mounts and for
	// `images --digests`.
	err = s.DB.Update(func(tx *metadata.Tx) error {
		cur, err := tx.Image(img.ID)
		if err != nil {
			return err
		}
		cur.RepoDigests = addUnique(cur.RepoDigests, ref.Repository()+"@"+d.String())
		return tx.PutImage(cur)
	})
	return d, err
}

// storedImage shows a stored image to go-containerregistry as an image
// of compressed (as stored) layers.
type storedImage struct {
	s   *Store
	img *metadata.Image
	raw []byte
}

func (i *storedImage) RawConfigFile() ([]byte, error) { return i.s.RawConfig(i.img) }
func (i *storedImage) RawManifest() ([]byte, error)   { return i.raw, nil }

func (i *storedImage) MediaType() (types.MediaType, error) {
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(i.raw, &m); err != nil {
		return "", err
	}
	return types.MediaType(m.MediaType), nil
}

func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, _, err := i.s.Manifest(i.img)
	if err != nil {
		return nil, err
	}
	d := digest.Digest(h.String())
	if d == m.Config.Digest {
		return &storedBlob{s: i.s, d: d, size: m.Config.Size, mt: m.Config.MediaType}, nil
	}
	for _, l := range m.Layers {
		if l.Digest == d {
			return &storedBlob{s: i.s, d: d, size: l.Size, mt: l.MediaType}, nil
		}
	}
	return nil, errdefs.NotFoundf("image %s has no blob %s", ShortID(i.img.ID), d)
}

// storedBlob is one blob of the content store.
type storedBlob struct {
	s    *Store
	d    digest.Digest
	size int64
	mt   string
}

func (b *storedBlob) Digest() (v1.Hash, error)            { return v1.NewHash(b.d.String()) }
func (b *storedBlob) Size() (int64, error)                { return b.size, nil }
func (b *storedBlob) MediaType() (types.MediaType, error) { return types.MediaType(b.mt), nil }
func (b *storedBlob) Compressed() (io.ReadCloser, error) {
	return b.s.openBlob(context.Background(), b.d, b.size)
}
