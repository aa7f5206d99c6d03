package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"berth/internal/errdefs"
	"berth/internal/reference"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxConfigSize bounds the image config that Resolve reads.
const MaxConfigSize = 8 << 20

// Resolved is an image found in a registry for one platform: its manifest
// and config, read and verified, and the way to its layers (Open).
type Resolved struct {
	// Ref is the reference that was resolved.
	Ref reference.Ref
	// Endpoint is the host the image came from: the registry, or one of
	// its mirrors.
	Endpoint string
	// Index is the index (manifest list) that Ref named, or nil when Ref
	// named an image manifest.
	Index *Manifest
	// Manifest is the image manifest. When it was chosen from Index, its
	// descriptor is Index's entry, with the platform.
	Manifest Manifest
	// Image is Manifest parsed: the descriptors of the config and layers.
	Image ocispec.Manifest
	// Config is the image config, verified against Image.Config.
	Config []byte

	endpoint string // host for requests
	client   *http.Client
}

// Manifest is a manifest or index as the registry sent it.
type Manifest struct {
	Descriptor ocispec.Descriptor
	Raw        []byte
}

// Digest is the digest that Ref resolved to: the index's when Ref named
// an index, the manifest's otherwise. It is what Docker records as the
// image's repo digest.
func (r *Resolved) Digest() digest.Digest {
	if r.Index != nil {
		return r.Index.Descriptor.Digest
	}
	return r.Manifest.Descriptor.Digest
}

// ResolveOptions adjust one Resolve.
type ResolveOptions struct {
	// Platform to pick from an index; nil means the client's.
	Platform *ocispec.Platform
}

// Resolve finds the image that ref names, for the platform: it fetches
// the manifest (by digest when ref has one, else by tag), picks the
// platform's manifest when that is an index, and reads the image config.
// It accepts Docker schema 2 and OCI manifests and indexes. A schema 1
// manifest is an errdefs.ErrUnsupported, as is any other media type.
// Mirrors of the registry are tried first, in order.
func (c *Client) Resolve(ctx context.Context, ref reference.Ref, opts ResolveOptions) (*Resolved, error) {
	if ref.Tag() == "" && ref.Digest() == "" {
		return nil, errdefs.Invalidf("pull %s: the reference names neither tag nor digest", ref.Familiar())
	}
	platform := c.platform
	if opts.Platform != nil {
		platform = normalizePlatform(*opts.Platform)
	}
	var mirrorErrs []string
	for _, m := range c.cfg.mirrors(ref.Domain()) {
		r, err := c.resolveAt(ctx, m.host, ref, platform)
		if err == nil {
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		mirrorErrs = append(mirrorErrs, fmt.Sprintf("mirror %s: %v", m.host, err))
	}
	r, err := c.resolveAt(ctx, ref.Domain(), ref, platform)
	if err != nil && len(mirrorErrs) > 0 {
		return nil, fmt.Errorf("%w (after its mirrors failed: %s)", err, strings.Join(mirrorErrs, "; "))
	}
	return r, err
}

// resolveAt resolves ref on host, the registry or a mirror.
func (c *Client) resolveAt(ctx context.Context, host string, ref reference.Ref, platform ocispec.Platform) (*Resolved, error) {
	what := ref.Familiar()
	client, err := c.connect(ctx, host, ref.Path())
	if err != nil {
		return nil, describe("pull", what, err)
	}
	r := &Resolved{Ref: ref, Endpoint: host, endpoint: endpointHost(host), client: client}
	id := ref.Tag()
	if ref.Digest() != "" {
		id = string(ref.Digest())
	}
	m, err := r.fetchManifest(ctx, id)
	if err != nil {
		return nil, describe("pull", what, err)
	}
	mt := m.Descriptor.MediaType
	if isIndex(mt) {
		index := m
		r.Index = &index
		if m, err = r.pick(ctx, index, platform); err != nil {
			return nil, describe("pull", what, err)
		}
		mt = m.Descriptor.MediaType
	}
	switch {
	case isSchema1(mt):
		return nil, errdefs.Unsupportedf("pull %s: schema 1 manifests are not supported; the image must be pushed again as Docker schema 2 or OCI", what)
	case !isImageManifest(mt):
		return nil, errdefs.Unsupportedf("pull %s: unsupported manifest media type %q", what, mt)
	}
	r.Manifest = m
	if err := r.parseImage(); err != nil {
		return nil, describe("pull", what, err)
	}
	if r.Config, err = r.readBlob(ctx, r.Image.Config, MaxConfigSize); err != nil {
		return nil, describe("pull", what, fmt.Errorf("image config: %w", err))
	}
	return r, nil
}

// fetchManifest fetches the manifest that id, a tag or digest, names.
func (r *Resolved) fetchManifest(ctx context.Context, id string) (Manifest, error) {
	u := "https://" + r.endpoint + "/v2/" + r.Ref.Path() + "/manifests/" + id
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Manifest{}, err
	}
	req.Header.Set("Accept", acceptManifests)
	resp, err := r.client.Do(req)
	if err != nil {
		return Manifest{}, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return Manifest{}, err
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Manifest{}, err
	}
	dgst := digest.FromBytes(raw)
	if want := digest.Digest(id); want.Validate() == nil {
		if want.Algorithm().FromBytes(raw) != want {
			return Manifest{}, fmt.Errorf("the registry sent a manifest whose digest is not %s", want)
		}
		dgst = want
	}
	mt, err := manifestMediaType(resp.Header.Get("Content-Type"), raw)
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{Descriptor: ocispec.Descriptor{MediaType: mt, Digest: dgst, Size: int64(len(raw))}, Raw: raw}, nil
}

// pick chooses the platform's entry of an index and fetches its manifest.
func (r *Resolved) pick(ctx context.Context, idx Manifest, platform ocispec.Platform) (Manifest, error) {
	var index ocispec.Index
	if err := json.Unmarshal(idx.Raw, &index); err != nil {
		return Manifest{}, fmt.Errorf("index %s: %v", idx.Descriptor.Digest, err)
	}
	entry, err := choosePlatform(index.Manifests, platform)
	if err != nil {
		return Manifest{}, err
	}
	if err := entry.Digest.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("index %s: entry digest %q: %v", idx.Descriptor.Digest, entry.Digest, err)
	}
	m, err := r.fetchManifest(ctx, string(entry.Digest))
	if err != nil {
		return Manifest{}, err
	}
	if m.Descriptor.Size != entry.Size {
		return Manifest{}, fmt.Errorf("manifest %s is %d bytes, the index says %d", entry.Digest, m.Descriptor.Size, entry.Size)
	}
	if isIndex(m.Descriptor.MediaType) {
		return Manifest{}, errdefs.Unsupportedf("index %s names another index for %s; nested indexes are not supported", idx.Descriptor.Digest, FormatPlatform(platform))
	}
	entry.MediaType = m.Descriptor.MediaType
	m.Descriptor = entry
	return m, nil
}

// parseImage parses the image manifest and checks what later steps rely
// on: a config that is an image config, and valid digests.
func (r *Resolved) parseImage() error {
	var img ocispec.Manifest
	if err := json.Unmarshal(r.Manifest.Raw, &img); err != nil {
		return fmt.Errorf("manifest %s: %v", r.Manifest.Descriptor.Digest, err)
	}
	if img.SchemaVersion != 2 {
		return fmt.Errorf("manifest %s: schema version %d, want 2", r.Manifest.Descriptor.Digest, img.SchemaVersion)
	}
	if !isImageConfig(img.Config.MediaType) {
		return errdefs.Unsupportedf("manifest %s is not a container image: its config is %q", r.Manifest.Descriptor.Digest, img.Config.MediaType)
	}
	for _, d := range append([]ocispec.Descriptor{img.Config}, img.Layers...) {
		if err := d.Digest.Validate(); err != nil {
			return fmt.Errorf("manifest %s: digest %q: %v", r.Manifest.Descriptor.Digest, d.Digest, err)
		}
		if d.Size < 0 {
			return fmt.Errorf("manifest %s: blob %s has negative size", r.Manifest.Descriptor.Digest, d.Digest)
		}
	}
	r.Image = img
	return nil
}
