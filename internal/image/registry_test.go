package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"berth/internal/imagetest"
	"berth/internal/reference"
	"berth/internal/registry"
	"berth/internal/registrytest"
)

func mustRef(t *testing.T, s string) reference.Ref {
	t.Helper()
	r, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// skopeoPush pushes img to the registry with skopeo, as another tool
// would have.
func skopeoPush(t *testing.T, img *imagetest.Image, dst string) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("needs skopeo (scripts/setup.sh installs it)")
	}
	dir := t.TempDir()
	if err := img.WriteOCIDir(dir, ""); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "oci:"+dir, "docker://"+dst).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
}

// An image of several layers that skopeo pushed is pulled whole; the
// same pull again fetches nothing.
func TestPullWhatSkopeoPushed(t *testing.T) {
	reg := registrytest.Start(t)
	img := imagetest.Build([][]byte{baseLayer, appLayer, otherLayer}, true, "/app/main")
	skopeoPush(t, img, reg.Ref("team/app:1"))

	s := newStore(t)
	c := registry.NewClient(nil)
	defer c.Close()
	res, err := s.Pull(context.Background(), c, mustRef(t, reg.Ref("team/app:1")), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.ID != img.ConfigDigest || res.UpToDate {
		t.Fatalf("pulled %+v, want image %s", res.Image, img.ConfigDigest)
	}
	dirs, err := s.Snaps.LowerDirs(res.Image.Chain)
	if err != nil || len(dirs) != 3 {
		t.Fatalf("layers %v, %v", dirs, err)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[1], "app/main")); err != nil || string(b) != "main\n" {
		t.Errorf("app/main = %q, %v", b, err)
	}
	again, err := s.Pull(context.Background(), c, mustRef(t, reg.Ref("team/app:1")), nil, nil)
	if err != nil || !again.UpToDate {
		t.Errorf("second pull: %+v, %v", again, err)
	}
	in, err := s.Inspect(res.Image)
	if err != nil || len(in.RepoDigests) != 1 || !strings.HasSuffix(in.RepoDigests[0], "@"+res.Digest.String()) {
		t.Errorf("repo digests %v, %v", in.RepoDigests, err)
	}
}

// What berth pushes, skopeo reads with the same digest.
func TestPushIsReadBySkopeo(t *testing.T) {
	reg := registrytest.Start(t)
	s := newStore(t)
	img := imagetest.Build([][]byte{baseLayer, appLayer}, true, "/app/main")
	load(t, s, img.DockerArchive(reg.Ref("pushed/app:1")))
	c := registry.NewClient(nil)
	defer c.Close()
	d, err := s.Push(context.Background(), c, mustRef(t, reg.Ref("pushed/app:1")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d != img.ManifestDigest() {
		t.Errorf("pushed digest %s, want the stored manifest's %s", d, img.ManifestDigest())
	}
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("needs skopeo")
	}
	out, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+reg.Ref("pushed/app:1")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != d.String() {
		t.Errorf("skopeo inspect: %s, %v; want %s", out, err, d)
	}
	dir := t.TempDir()
	if out, err := exec.Command("skopeo", "copy", "--src-tls-verify=false", "docker://"+reg.Ref("pushed/app:1"), "oci:"+dir).CombinedOutput(); err != nil {
		t.Errorf("skopeo copy from the registry: %v\n%s", err, out)
	}
}

// Layers kept as split records are pushed rebuilt, the bytes that were
// loaded: a pull elsewhere gets them back.
func TestPushSplitLayers(t *testing.T) {
	reg := registrytest.Start(t)
	s := newStore(t)
	img := imagetest.Build([][]byte{baseLayer, appLayer}, false, "/app/main")
	load(t, s, img.DockerArchive(reg.Ref("split/app:1")))
	c := registry.NewClient(nil)
	defer c.Close()
	ref := mustRef(t, reg.Ref("split/app:1"))
	if _, err := s.Push(context.Background(), c, ref, nil); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t)
	if _, err := s2.Pull(context.Background(), c, ref, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := savedLayers(t, s2, reg.Ref("split/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	sameLayers(t, got, img.Layers)
}

// Pulls of one image at once all succeed; a pull racing an rmi leaves a
// store whose every image is whole.
func TestConcurrentPullsAndRmi(t *testing.T) {
	reg := registrytest.Start(t)
	img := imagetest.Build([][]byte{baseLayer, appLayer, otherLayer}, true)
	skopeoPush(t, img, reg.Ref("race/app:1"))
	root := t.TempDir()
	ref := mustRef(t, reg.Ref("race/app:1"))
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root)
			if err != nil {
				t.Error(err)
				return
			}
			c := registry.NewClient(nil)
			defer c.Close()
			if i%2 == 1 {
				s.Remove(ref.String(), false) // may find nothing yet, or race
				return
			}
			if _, err := s.Pull(context.Background(), c, ref, nil, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	checkStore(t, root)
	s, _ := Open(root)
	c := registry.NewClient(nil)
	defer c.Close()
	if _, err := s.Pull(context.Background(), c, ref, nil, nil); err != nil {
		t.Fatalf("pull after the race: %v", err)
	}
	checkStore(t, root)
}
