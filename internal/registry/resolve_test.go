package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"berth/internal/errdefs"
	"berth/internal/registrytest"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestResolveAndOpenLayers(t *testing.T) {
	reg := registrytest.Start(t)
	img := randomImage(t, 3)
	pushWithGGCR(t, reg.Ref("app:v1"), img)

	c := newClient(t, nil)
	ctx := context.Background()
	r, err := c.Resolve(ctx, mustParse(t, reg.Ref("app:v1")), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.Manifest.Descriptor.Digest), digestOf(t, img); got != want {
		t.Errorf("manifest digest = %s, want %s", got, want)
	}
	if r.Index != nil || r.Digest() != r.Manifest.Descriptor.Digest {
		t.Errorf("an image manifest resolved with an index: %+v", r.Index)
	}
	if r.Endpoint != reg.Host {
		t.Errorf("Endpoint = %q, want %q", r.Endpoint, reg.Host)
	}
	wantConfig, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Config, wantConfig) {
		t.Errorf("config differs from the pushed one")
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Image.Layers) != len(layers) {
		t.Fatalf("%d layers, want %d", len(r.Image.Layers), len(layers))
	}
	var rec recorder
	for i, desc := range r.Image.Layers {
		rc, err := r.Open(ctx, desc, rec.progress)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("reading layer %d: %v", i, err)
		}
		if !bytes.Equal(got, compressed(t, layers[i])) {
			t.Errorf("layer %d differs from the pushed one", i)
		}
	}
	last := rec.last()
	for _, desc := range r.Image.Layers {
		if u := last[string(desc.Digest)]; u.State != Complete || u.Done != desc.Size {
			t.Errorf("last progress of %s = %+v, want complete at %d", desc.Digest, u, desc.Size)
		}
	}
}

func TestOpenChecksTheDescriptor(t *testing.T) {
	reg := registrytest.Start(t)
	img := randomImage(t, 1)
	pushWithGGCR(t, reg.Ref("app:v1"), img)
	c := newClient(t, nil)
	ctx := context.Background()
	r, err := c.Resolve(ctx, mustParse(t, reg.Ref("app:v1")), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	desc := r.Image.Layers[0]

	wrongSize := desc
	wrongSize.Size++
	if _, err := r.Open(ctx, wrongSize, nil); err == nil || !strings.Contains(err.Error(), "the manifest says") {
		t.Errorf("Open with a wrong size = %v", err)
	}

	// The config blob, read as if it had the layer's digest, has the
	// wrong digest; the reader says so at the end instead of io.EOF.
	wrongDigest := r.Image.Config
	wrongDigest.Digest = desc.Digest
	wrongDigest.Size = desc.Size
	rc, err := r.Open(ctx, ocispec.Descriptor{Digest: r.Image.Config.Digest, Size: r.Image.Config.Size}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	br := &blobReader{rc: io.NopCloser(bytes.NewReader(r.Config)), desc: wrongDigest, verifier: wrongDigest.Digest.Verifier()}
	br.desc.Size = int64(len(r.Config))
	if _, err := io.ReadAll(br); err == nil || !strings.Contains(err.Error(), "another digest") {
		t.Errorf("reading a blob with another digest = %v", err)
	}
	short := &blobReader{rc: io.NopCloser(bytes.NewReader(r.Config[:10])), desc: r.Image.Config, verifier: r.Image.Config.Digest.Verifier()}
	if _, err := io.ReadAll(short); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a short blob = %v, want io.ErrUnexpectedEOF", err)
	}
	long := &blobReader{rc: io.NopCloser(bytes.NewReader(append(r.Config, 'x'))), desc: r.Image.Config, verifier: r.Image.Config.Digest.Verifier()}
	if _, err := io.ReadAll(long); err == nil || !strings.Contains(err.Error(), "longer") {
		t.Errorf("reading a long blob = %v", err)
	}
}

func TestResolveIndexPicksThePlatform(t *testing.T) {
	reg := registrytest.Start(t)
	idx, amd64, arm64 := twoPlatformIndex(t)
	pushIndexWithGGCR(t, reg.Ref("multi:v1"), idx)
	ref := mustParse(t, reg.Ref("multi:v1"))
	ctx := context.Background()

	c := newClient(t, nil, WithPlatform(ocispec.Platform{OS: "linux", Architecture: "amd64"}))
	r, err := c.Resolve(ctx, ref, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.Manifest.Descriptor.Digest), digestOf(t, amd64); got != want {
		t.Errorf("linux/amd64 resolved to %s, want %s", got, want)
	}
	if r.Index == nil || string(r.Digest()) != digestOf(t, idx) {
		t.Errorf("Digest() = %s, want the index's %s", r.Digest(), digestOf(t, idx))
	}
	if p := r.Manifest.Descriptor.Platform; p == nil || p.Architecture != "amd64" {
		t.Errorf("manifest descriptor platform = %+v", p)
	}

	for _, s := range []string{"linux/arm64/v8", "linux/arm64", "linux/aarch64", "arm64"} {
		p, err := ParsePlatform(s)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Resolve(ctx, ref, ResolveOptions{Platform: &p})
		if err != nil {
			t.Fatalf("--platform %s: %v", s, err)
		}
		if got, want := string(r.Manifest.Descriptor.Digest), digestOf(t, arm64); got != want {
			t.Errorf("--platform %s resolved to %s, want %s", s, got, want)
		}
		if len(r.Image.Layers) != 1 {
			t.Errorf("--platform %s: %d layers, want 1", s, len(r.Image.Layers))
		}
	}

	s390x := ocispec.Platform{OS: "linux", Architecture: "s390x"}
	_, err = c.Resolve(ctx, ref, ResolveOptions{Platform: &s390x})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "no matching manifest for linux/s390x") ||
		!strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
		t.Errorf("--platform linux/s390x = %v, want a not-found error that lists the platforms", err)
	}

	// By digest, the index's own digest pins it.
	byDigest, err := ref.WithDigest(r.Digest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(ctx, byDigest, ResolveOptions{}); err != nil {
		t.Errorf("resolving by digest: %v", err)
	}
}

func TestResolveNotFound(t *testing.T) {
	reg := registrytest.Start(t)
	pushWithGGCR(t, reg.Ref("x:y"), randomImage(t, 1))
	c := newClient(t, nil)
	_, err := c.Resolve(context.Background(), mustParse(t, reg.Ref("x:nope")), ResolveOptions{})
	want := "pull " + reg.Host + "/x:nope: manifest unknown (404)"
	if err == nil || err.Error() != want {
		t.Errorf("Resolve = %v, want %q", err, want)
	}
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("%v is not errdefs.ErrNotFound", err)
	}
	var rerr *Error
	if !errors.As(err, &rerr) || rerr.Status != 404 {
		t.Errorf("%v is not a *registry.Error with status 404", err)
	}
}

func TestResolveSchema1(t *testing.T) {
	reg := registrytest.Start(t)
	reg.PutManifest(t, "old", "v1", registrytest.Schema1Manifest("old", "v1"))
	c := newClient(t, nil)
	_, err := c.Resolve(context.Background(), mustParse(t, reg.Ref("old:v1")), ResolveOptions{})
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "schema 1 manifests are not supported") {
		t.Errorf("Resolve of a schema 1 manifest = %v", err)
	}
}

func TestResolveArtifactIsNotAnImage(t *testing.T) {
	reg := registrytest.Start(t)
	img := randomImage(t, 1)
	pushWithGGCR(t, reg.Ref("chart:v1"), withConfigMediaType(t, img, "application/vnd.cncf.helm.config.v1+json"))
	c := newClient(t, nil)
	_, err := c.Resolve(context.Background(), mustParse(t, reg.Ref("chart:v1")), ResolveOptions{})
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "not a container image") {
		t.Errorf("Resolve of an artifact = %v", err)
	}
}
