package registry

import (
	"context"
	"strings"
	"testing"

	"berth/internal/reference"
	"berth/internal/registrytest"

	"github.com/opencontainers/go-digest"
)

func TestPushSkipsExistingBlobs(t *testing.T) {
	reg := registrytest.Start(t)
	c := newClient(t, nil)
	ctx := context.Background()
	img := randomImage(t, 3)

	var first recorder
	d, err := c.Push(ctx, mustParse(t, reg.Ref("app:v1")), img, PushOptions{Progress: first.progress})
	if err != nil {
		t.Fatal(err)
	}
	if string(d) != digestOf(t, img) {
		t.Errorf("Push = %s, want %s", d, digestOf(t, img))
	}
	// Three layers and the config.
	if n := countRequests(reg, "POST", "/v2/app/blobs/uploads/"); n != 4 {
		t.Errorf("the first push started %d uploads, want 4", n)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		if u := first.last()[digestOf(t, l)]; u.State != Complete {
			t.Errorf("first push: last progress of layer %s = %+v, want complete", digestOf(t, l), u)
		}
	}

	var second recorder
	if _, err := c.Push(ctx, mustParse(t, reg.Ref("app:v2")), img, PushOptions{Progress: second.progress}); err != nil {
		t.Fatal(err)
	}
	if n := countRequests(reg, "POST", "/v2/app/blobs/uploads/"); n != 4 {
		t.Errorf("the second push started %d more uploads, want none", n-4)
	}
	for _, l := range layers {
		if u := second.last()[digestOf(t, l)]; u.State != Exists {
			t.Errorf("second push: progress of layer %s = %+v, want exists", digestOf(t, l), u)
		}
	}
	r, err := c.Resolve(ctx, mustParse(t, reg.Ref("app:v2")), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Manifest.Descriptor.Digest != d {
		t.Errorf("app:v2 is %s, want %s", r.Manifest.Descriptor.Digest, d)
	}
}

func TestPushMountsFromAnotherRepository(t *testing.T) {
	reg := registrytest.Start(t)
	c := newClient(t, nil)
	ctx := context.Background()
	img := randomImage(t, 2)
	src := mustParse(t, reg.Ref("base:v1"))
	if _, err := c.Push(ctx, src, img, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	from := map[digest.Digest]reference.Ref{}
	for _, l := range layers {
		from[digest.Digest(digestOf(t, l))] = src
	}

	var rec recorder
	if _, err := c.Push(ctx, mustParse(t, reg.Ref("derived:v1")), img, PushOptions{MountFrom: from, Progress: rec.progress}); err != nil {
		t.Fatal(err)
	}
	mounts := 0
	for _, req := range reg.Requests() {
		if req.Method == "POST" && strings.HasPrefix(req.Path, "/v2/derived/blobs/uploads/?") &&
			strings.Contains(req.Path, "from=base") && req.Status == 201 {
			mounts++
		}
	}
	if mounts != len(layers) {
		t.Errorf("%d layers were mounted, want %d", mounts, len(layers))
	}
	if n := countRequests(reg, "PATCH", "/v2/derived/"); n > 1 {
		t.Errorf("%d blobs were uploaded to derived, want at most the config", n)
	}
	for _, l := range layers {
		if u := rec.last()[digestOf(t, l)]; u.State != Mounted {
			t.Errorf("progress of layer %s = %+v, want mounted", digestOf(t, l), u)
		}
	}
	if _, err := c.Resolve(ctx, mustParse(t, reg.Ref("derived:v1")), ResolveOptions{}); err != nil {
		t.Errorf("resolving the pushed image: %v", err)
	}
}

func TestCopyBetweenRegistries(t *testing.T) {
	src, dst := registrytest.Start(t), registrytest.Start(t)
	c := newClient(t, nil)
	ctx := context.Background()

	idx, _, arm64 := twoPlatformIndex(t)
	pushIndexWithGGCR(t, src.Ref("multi:v1"), idx)
	var rec recorder
	d, err := c.Copy(ctx, mustParse(t, src.Ref("multi:v1")), mustParse(t, dst.Ref("copied/multi:v1")), CopyOptions{Progress: rec.progress})
	if err != nil {
		t.Fatal(err)
	}
	if string(d) != digestOf(t, idx) {
		t.Errorf("Copy = %s, want the index's %s", d, digestOf(t, idx))
	}
	if len(rec.last()) != 3 {
		t.Errorf("progress reported %d layers, want 3", len(rec.last()))
	}
	p, _ := ParsePlatform("linux/arm64")
	r, err := c.Resolve(ctx, mustParse(t, dst.Ref("copied/multi:v1")), ResolveOptions{Platform: &p})
	if err != nil {
		t.Fatal(err)
	}
	if r.Digest() != d || string(r.Manifest.Descriptor.Digest) != digestOf(t, arm64) {
		t.Errorf("the copy resolves to %s / %s", r.Digest(), r.Manifest.Descriptor.Digest)
	}

	img := randomImage(t, 2)
	pushWithGGCR(t, src.Ref("single:v1"), img)
	d, err = c.Copy(ctx, mustParse(t, src.Ref("single:v1")), mustParse(t, dst.Ref("single:v2")), CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(d) != digestOf(t, img) {
		t.Errorf("Copy = %s, want %s", d, digestOf(t, img))
	}
	if _, err := c.Resolve(ctx, mustParse(t, dst.Ref("single:v2")), ResolveOptions{}); err != nil {
		t.Error(err)
	}

	// Within one registry, the layers are mounted.
	if _, err := c.Copy(ctx, mustParse(t, src.Ref("single:v1")), mustParse(t, src.Ref("other:v1")), CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := countRequests(src, "PATCH", "/v2/other/"); n != 0 {
		t.Errorf("copying within a registry uploaded %d blobs, want them mounted", n)
	}
}
