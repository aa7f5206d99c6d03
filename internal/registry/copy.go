package registry

import (
	"context"

	"berth/internal/errdefs"
	"berth/internal/reference"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CopyOptions adjust one Copy.
type CopyOptions struct {
	// Progress, when set, sees each layer's transfer.
	Progress Progress
}

// Copy copies the image or the whole index that src names to dst,
// registry to registry, without unpacking anything, and returns the digest
// of what it copied, which is the same at dst. Blobs stream from src to
// dst; those that dst has are skipped, and within one registry they are
// mounted from src's repository.
func (c *Client) Copy(ctx context.Context, src, dst reference.Ref, opts CopyOptions) (digest.Digest, error) {
	what := src.Familiar() + " to " + dst.Familiar()
	srcName, err := c.nameRef(src)
	if err != nil {
		return "", describe("copy", what, err)
	}
	dstName, err := c.nameRef(dst)
	if err != nil {
		return "", describe("copy", what, err)
	}
	desc, err := remote.Get(srcName, c.remoteOptions(ctx, c.newGuard(srcName.Context().RegistryStr()))...)
	if err != nil {
		return "", describe("copy", what, err)
	}
	plan := &transferPlan{c: c, dst: dst, progress: opts.Progress, blobs: map[string]ocispec.Descriptor{}}
	g := c.newGuard(dstName.Context().RegistryStr())
	g.observe = plan.observe
	dstOpts := c.remoteOptions(ctx, g)

	switch mt := string(desc.MediaType); {
	case isSchema1(mt):
		return "", errdefs.Unsupportedf("copy %s: schema 1 manifests are not supported; the image must be pushed again as Docker schema 2 or OCI", what)
	case isIndex(mt):
		idx, err := desc.ImageIndex()
		if err == nil {
			err = remote.WriteIndex(dstName, plan.index(idx), dstOpts...)
		}
		if err != nil {
			return "", describe("copy", what, err)
		}
	case isImageManifest(mt):
		img, err := desc.Image()
		if err == nil {
			err = remote.Write(dstName, plan.image(img), dstOpts...)
		}
		if err != nil {
			return "", describe("copy", what, err)
		}
	default:
		return "", errdefs.Unsupportedf("copy %s: unsupported manifest media type %q", what, mt)
	}
	return digest.Digest(desc.Digest.String()), nil
}
