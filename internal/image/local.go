package image

import (
	"context"
	"encoding/json"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/archive"
	"berth/internal/errdefs"
)

// localSource is an image whose blobs are already in the content store,
// as after reading an archive.
type localSource struct {
	s *Store
	f *Fetched
}

func (l *localSource) Fetch(context.Context) (*Fetched, error) { return l.f, nil }

func (l *localSource) Blob(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	return l.s.openBlob(ctx, d.Digest, d.Size)
}

// layerMediaType names a stored layer blob's type from its first bytes.
func (s *Store) layerMediaType(d digest.Digest) (string, error) {
	f, err := s.Content.Open(d)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, c, err := archive.Decompress(f)
	if err != nil {
		return "", err
	}
	switch c {
	case archive.Gzip:
		return ocispec.MediaTypeImageLayerGzip, nil
	case archive.Zstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	}
	return ocispec.MediaTypeImageLayer, nil
}

// synthesize makes an OCI manifest for a config and layer blobs that
// came without one (a docker-archive, an import), so that every stored
// image has a manifest to push and save. split are the layers kept as
// split records rather than blobs, with their sizes: uncompressed tars.
func (s *Store) synthesize(config []byte, layers []digest.Digest, split map[digest.Digest]int64) (*Fetched, error) {
	f := &Fetched{Raw: map[digest.Digest][]byte{}}
	f.Config = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))}
	f.Raw[f.Config.Digest] = config
	for _, d := range layers {
		if size, ok := split[d]; ok {
			f.Layers = append(f.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: size})
			continue
		}
		size, err := s.Content.Size(d)
		if errdefs.IsNotFound(err) {
			// A layer kept as a split record: an uncompressed tar.
			if size, err = s.splitSize(d); err == nil {
				f.Layers = append(f.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: size})
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		mt, err := s.layerMediaType(d)
		if err != nil {
			return nil, err
		}
		f.Layers = append(f.Layers, ocispec.Descriptor{MediaType: mt, Digest: d, Size: size})
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: f.Config, Layers: f.Layers}
	m.SchemaVersion = 2
	if m.Layers == nil {
		m.Layers = []ocispec.Descriptor{}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	f.Manifest = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	f.Target = f.Manifest
	f.Raw[f.Manifest.Digest] = raw
	return f, nil
}
