package registry

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"sync"

	"berth/internal/reference"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PushOptions adjust one Push.
type PushOptions struct {
	// MountFrom names, for blobs that the caller knows to be in another
	// repository of the destination's registry (where it pulled them
	// from), that repository. The registry then links the blob into the
	// destination instead of receiving it again. Entries for other
	// registries are ignored.
	MountFrom map[digest.Digest]reference.Ref
	// Progress, when set, sees each layer's upload, and the layers that
	// the registry had already or mounted.
	Progress Progress
}

// Push uploads img to ref and returns the digest of its manifest. Blobs
// that the registry already has are not sent again, and a manifest that
// ref already names is not put again.
func (c *Client) Push(ctx context.Context, ref reference.Ref, img v1.Image, opts PushOptions) (digest.Digest, error) {
	what := ref.Familiar()
	dst, err := c.nameRef(ref)
	if err != nil {
		return "", describe("push", what, err)
	}
	plan := &transferPlan{c: c, dst: ref, mountFrom: opts.MountFrom, progress: opts.Progress, blobs: map[string]ocispec.Descriptor{}}
	g := c.newGuard(dst.Context().RegistryStr())
	g.observe = plan.observe
	if err := remote.Write(dst, plan.image(img), c.remoteOptions(ctx, g)...); err != nil {
		return "", describe("push", what, err)
	}
	h, err := img.Digest()
	if err != nil {
		return "", describe("push", what, err)
	}
	return digest.Digest(h.String()), nil
}

// transferPlan wraps what Push and Copy hand to go-containerregistry, so
// that layers report progress and can be mounted, and it notes from the
// registry's answers which blobs were skipped.
type transferPlan struct {
	c         *Client
	dst       reference.Ref
	mountFrom map[digest.Digest]reference.Ref
	progress  Progress

	mu    sync.Mutex
	blobs map[string]ocispec.Descriptor // layers by digest
}

func (p *transferPlan) image(img v1.Image) v1.Image {
	return &planImage{Image: img, plan: p}
}

func (p *transferPlan) index(idx v1.ImageIndex) v1.ImageIndex {
	return &planIndex{inner: idx, plan: p}
}

// layer wraps a layer for progress, and makes it mountable when the
// caller named its source repository on the destination registry.
func (p *transferPlan) layer(l v1.Layer) v1.Layer {
	h, err := l.Digest()
	if err != nil {
		return l // a streaming layer: its digest is known only after upload
	}
	size, err := l.Size()
	if err != nil {
		return l
	}
	mt, err := l.MediaType()
	if err != nil {
		return l
	}
	desc := ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(h.String()), Size: size}
	p.mu.Lock()
	p.blobs[h.String()] = desc
	p.mu.Unlock()

	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: &progressLayer{Layer: ml.Layer, desc: desc, progress: p.progress}, Reference: ml.Reference}
	}
	pl := &progressLayer{Layer: l, desc: desc, progress: p.progress}
	if src, ok := p.mountSource(desc.Digest); ok {
		return &remote.MountableLayer{Layer: pl, Reference: src}
	}
	return pl
}

// mountSource is the blob d in the repository that the caller named for
// it, when that is another repository of the destination's registry.
func (p *transferPlan) mountSource(d digest.Digest) (name.Reference, bool) {
	src, ok := p.mountFrom[d]
	if !ok || src.Domain() != p.dst.Domain() || src.Path() == p.dst.Path() {
		return nil, false
	}
	blob, err := src.Name().WithDigest(d)
	if err != nil {
		return nil, false
	}
	ref, err := p.c.nameRef(blob)
	return ref, err == nil
}

// observe reports the blobs that the registry had (a HEAD that found it)
// or mounted (a mount that answered 201 Created).
func (p *transferPlan) observe(req *http.Request, resp *http.Response) {
	var state State
	var dgst string
	switch {
	case req.Method == http.MethodHead && resp.StatusCode == http.StatusOK && path.Base(path.Dir(req.URL.Path)) == "blobs":
		state, dgst = Exists, path.Base(req.URL.Path)
	case req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated && req.URL.Query().Get("mount") != "":
		state, dgst = Mounted, req.URL.Query().Get("mount")
	default:
		return
	}
	p.mu.Lock()
	desc, ok := p.blobs[dgst]
	p.mu.Unlock()
	if ok {
		p.progress.report(desc, desc.Size, state)
	}
}

// planImage is an image whose layers go through transferPlan.layer.
type planImage struct {
	v1.Image
	plan *transferPlan
}

func (i *planImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for n, l := range ls {
		out[n] = i.plan.layer(l)
	}
	return out, nil
}

func (i *planImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return i.plan.layer(l), nil
}

// ConfigLayer keeps the image's own config layer, which a remote image
// makes mountable.
func (i *planImage) ConfigLayer() (v1.Layer, error) { return partial.ConfigLayer(i.Image) }

// planIndex is an index whose images go through transferPlan. It names
// its inner index, since it overrides the method named like the type.
type planIndex struct {
	inner v1.ImageIndex
	plan  *transferPlan
}

func (x *planIndex) MediaType() (types.MediaType, error)       { return x.inner.MediaType() }
func (x *planIndex) Digest() (v1.Hash, error)                  { return x.inner.Digest() }
func (x *planIndex) Size() (int64, error)                      { return x.inner.Size() }
func (x *planIndex) IndexManifest() (*v1.IndexManifest, error) { return x.inner.IndexManifest() }
func (x *planIndex) RawManifest() ([]byte, error)              { return x.inner.RawManifest() }

func (x *planIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := x.inner.Image(h)
	if err != nil {
		return nil, err
	}
	return x.plan.image(img), nil
}

func (x *planIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	idx, err := x.inner.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return x.plan.index(idx), nil
}

// Layer returns an entry of the index that is neither image nor index,
// such as an artifact's blob, when the index can give one.
func (x *planIndex) Layer(h v1.Hash) (v1.Layer, error) {
	wl, ok := x.inner.(interface {
		Layer(v1.Hash) (v1.Layer, error)
	})
	if !ok {
		return nil, fmt.Errorf("index entry %s is neither image nor index", h)
	}
	return wl.Layer(h)
}
