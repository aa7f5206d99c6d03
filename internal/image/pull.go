package image

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/metadata"
	"berth/internal/reference"
	"berth/internal/registry"
)

// PullResult says what a pull did.
type PullResult struct {
	Image *metadata.Image
	// Digest is what the reference resolved to in the registry.
	Digest digest.Digest
	// UpToDate: the image was already here under this name.
	UpToDate bool
}

// Pull brings the image that ref names from its registry (or a mirror)
// into the store and names it ref. The registry client checks every
// byte against its digest; Ingest fetches the layers that are missing,
// several at once, each unpacked while it downloads.
func (s *Store) Pull(ctx context.Context, c *registry.Client, ref reference.Ref, platform *ocispec.Platform, prog Progress) (*PullResult, error) {
	res, err := c.Resolve(ctx, ref, registry.ResolveOptions{Platform: platform})
	if err != nil {
		return nil, err
	}
	f := &Fetched{
		Target:   res.Manifest.Descriptor,
		Manifest: res.Manifest.Descriptor,
		Config:   res.Image.Config,
		Layers:   res.Image.Layers,
		Raw: map[digest.Digest][]byte{
			res.Manifest.Descriptor.Digest: res.Manifest.Raw,
			res.Image.Config.Digest:        res.Config,
		},
	}
	if res.Index != nil {
		f.Target = res.Index.Descriptor
		f.Raw[res.Index.Descriptor.Digest] = res.Index.Raw
	}
	out := &PullResult{Digest: res.Digest()}
	if prev, err := s.Lookup(ref.String()); err == nil && prev.ID == res.Image.Config.Digest && prev.Manifest.Digest == f.Manifest.Digest {
		out.UpToDate = true
	}
	var names []string
	if ref.Digest() == "" {
		names = []string{ref.String()}
	}
	img, err := s.Ingest(ctx, &registrySource{res: res, f: f}, IngestOptions{
		Names:      names,
		RepoDigest: ref.Repository() + "@" + res.Digest().String(),
		Progress:   prog,
	})
	if err != nil {
		return nil, err
	}
	out.Image = img
	return out, nil
}

// registrySource is an image being pulled.
type registrySource struct {
	res *registry.Resolved
	f   *Fetched
}

func (r *registrySource) Fetch(context.Context) (*Fetched, error) { return r.f, nil }

func (r *registrySource) Blob(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	return r.res.Open(ctx, d, nil)
}
