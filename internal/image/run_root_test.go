package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/container"
	"berth/internal/imagetest"
	"berth/internal/registry"
	"berth/internal/registrytest"
	"berth/internal/spec"
	"berth/internal/testfixture"
)

// A busybox image of two layers that skopeo pushed is pulled by berth
// and runs: its layers, stacked by overlayfs, are a root filesystem.
func TestPulledImageRuns(t *testing.T) {
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := testfixture.BusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	var base bytes.Buffer
	if err := archive.Tar(context.Background(), &base, rootfs); err != nil {
		t.Fatal(err)
	}
	reg := registrytest.Start(t)
	img := imagetest.Build([][]byte{base.Bytes(), appLayer}, true, "/bin/sh", "-c", "cat /app/main; hostname")
	skopeoPush(t, img, reg.Ref("run/busybox:1"))

	s := newStore(t)
	c := registry.NewClient(nil)
	defer c.Close()
	res, err := s.Pull(context.Background(), c, mustRef(t, reg.Ref("run/busybox:1")), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	lower, err := s.Snaps.LowerDirs(res.Image.Chain)
	if err != nil {
		t.Fatal(err)
	}
	bundle := t.TempDir()
	merged := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"upper", "work", "rootfs"} {
		os.Mkdir(filepath.Join(bundle, d), 0o755)
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + filepath.Join(bundle, "upper") + ",workdir=" + filepath.Join(bundle, "work")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)

	cfg, err := s.Config(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	sp := spec.Default(false, 0, 0)
	sp.Process.Terminal = false
	sp.Process.Args = cfg.Config.Cmd
	sp.Hostname = "from-image"
	if err := testfixture.WriteSpec(bundle, sp); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(bundle, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	rt := &container.Runtime{Root: t.TempDir()}
	code, err := rt.Run("pulled", container.CreateOptions{Bundle: bundle, Stdout: out, Stderr: out}, false, false)
	if err != nil || code != 0 {
		t.Fatalf("run: exit %d, %v", code, err)
	}
	b, _ := os.ReadFile(filepath.Join(bundle, "out"))
	if string(b) != "main\nfrom-image\n" {
		t.Errorf("the container said %q", b)
	}
}
