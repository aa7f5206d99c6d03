package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/image"
	"berth/internal/testfixture"
	"berth/internal/volume"
)

// volumeImage imports vimg:test: busybox with /srv/data (a file 0640 of
// 1000:2000, a directory 0750 of 1000:1000, the directory itself 0770 of
// 1000:1000) as a VOLUME, and /evil, a symlink to hostDir, a directory
// on the host.
func volumeImage(t *testing.T, e *Engine, hostDir string) {
	t.Helper()
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := testfixture.BusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	os.Chmod(rootfs, 0o755)
	data := filepath.Join(rootfs, "srv", "data")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(data, "sub"), 0o750))
	must(os.WriteFile(filepath.Join(data, "file"), []byte("from the image"), 0o640))
	must(os.Chown(filepath.Join(data, "file"), 1000, 2000))
	must(os.Chown(filepath.Join(data, "sub"), 1000, 1000))
	must(os.Chmod(data, 0o770))
	must(os.Chown(data, 1000, 1000))
	must(os.Symlink(hostDir, filepath.Join(rootfs, "evil")))
	var layer bytes.Buffer
	must(archive.Tar(context.Background(), &layer, rootfs))
	cfg := image.ContainerConfig{Cmd: []string{"sh"}, Volumes: map[string]struct{}{"/srv/data": {}}}
	_, err := e.Images.Import(context.Background(), &layer, image.ImportOptions{Names: []string{"docker.io/library/vimg:test"}, Config: cfg})
	must(err)
}

// runMounts runs script in img with the -v specs given.
func runMounts(t *testing.T, e *Engine, img, name, script string, vols ...string) (int, string) {
	t.Helper()
	var cfg Config
	for _, v := range vols {
		m, err := ParseVolume(v)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Binds = append(cfg.Binds, m)
	}
	return run(t, e, CreateOptions{Image: img, Name: name, Args: []string{"sh", "-c", script}, Config: cfg})
}

func TestVolumeOutlivesContainers(t *testing.T) {
	e := newEngine(t)
	code, out := runMounts(t, e, "busybox:test", "writer", "echo kept > /d/f", "data:/d")
	if code != 0 {
		t.Fatalf("writer: %d %s", code, out)
	}
	c, _ := e.Lookup("writer")
	// rm -v removes anonymous volumes only: a named one stays.
	if err := e.Remove(c, RemoveOptions{Volumes: true, Purge: true}); err != nil {
		t.Fatal(err)
	}
	code, out = runMounts(t, e, "busybox:test", "reader", "cat /d/f", "data:/d")
	if code != 0 || out != "kept\n" {
		t.Errorf("reader: %d %q, want the first container's data", code, out)
	}
	// A read-only mount refuses writes; the data is still readable.
	code, out = runMounts(t, e, "busybox:test", "", "cat /d/f && ! touch /d/g 2>/dev/null", "data:/d:ro")
	if code != 0 || out != "kept\n" {
		t.Errorf("read-only: %d %q", code, out)
	}
	// --volumes-from: the reader's volume, read-only.
	code, out = run(t, e, CreateOptions{Image: "busybox:test", Args: []string{"sh", "-c", "cat /d/f; touch /d/x 2>&1"},
		Config: Config{VolumesFrom: []string{"reader:ro"}}})
	if code == 0 || !strings.HasPrefix(out, "kept\n") || !strings.Contains(out, "Read-only") {
		t.Errorf("--volumes-from reader:ro: %d %q", code, out)
	}
	if err := e.RemoveVolume("data", false, false); err == nil || !strings.Contains(err.Error(), "volume is in use") {
		t.Errorf("rm of a volume in use: %v", err)
	}
	r, _ := e.Lookup("reader")
	ins, err := e.Inspect(r)
	if err != nil || len(ins.Mounts) != 1 {
		t.Fatalf("inspect: %+v %v", ins, err)
	}
	want := MountJSON{Type: "volume", Name: "data", Source: e.Volumes.Path("data"), Destination: "/d", Driver: "local", Mode: "z", RW: true}
	if ins.Mounts[0] != want {
		t.Errorf("Mounts = %+v, want %+v", ins.Mounts[0], want)
	}
}

func TestVolumeCopyUpAndImageVolumes(t *testing.T) {
	e := newEngine(t)
	volumeImage(t, e, t.TempDir())
	stat := "stat -c '%n %a %u:%g' /srv/data /srv/data/file /srv/data/sub; cat /srv/data/file; echo"
	want := "/srv/data 770 1000:1000\n/srv/data/file 640 1000:2000\n/srv/data/sub 750 1000:1000\nfrom the image\n"
	code, out := runMounts(t, e, "vimg:test", "named", stat, "fresh:/srv/data")
	if code != 0 || out != want {
		t.Errorf("copy-up into a named volume: %d %q, want %q", code, out, want)
	}
	if b, err := os.ReadFile(filepath.Join(e.Volumes.Path("fresh"), "file")); err != nil || string(b) != "from the image" {
		t.Errorf("the volume holds %q, %v", b, err)
	}
	code, out = runMounts(t, e, "vimg:test", "", "ls -A /srv/data | wc -l", "empty:/srv/data:nocopy")
	if code != 0 || strings.TrimSpace(out) != "0" {
		t.Errorf("nocopy: %d %q, want an empty volume", code, out)
	}
	// The image's VOLUME gets an anonymous volume, filled the same way.
	code, out = runMounts(t, e, "vimg:test", "anon", stat+"; echo new > /srv/data/new")
	if code != 0 || out != want {
		t.Errorf("image VOLUME: %d %q", code, out)
	}
	c, _ := e.Lookup("anon")
	if len(c.Volumes) != 1 {
		t.Fatalf("the container names %v, want one anonymous volume", c.Volumes)
	}
	anon := c.Volumes[0]
	if b, _ := os.ReadFile(filepath.Join(e.Volumes.Path(anon), "new")); string(b) != "new\n" {
		t.Errorf("anonymous volume holds %q", b)
	}
	// rm without -v leaves it; prune keeps the volumes in use and takes
	// the anonymous one no container uses.
	if err := e.Remove(c, RemoveOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Volumes.Get(anon); err != nil {
		t.Errorf("rm without -v removed the anonymous volume: %v", err)
	}
	rep, err := e.PruneVolumes(volume.PruneOptions{}, false)
	if err != nil || !slices.Equal(rep.Deleted, []string{anon}) {
		t.Errorf("prune = %+v, %v, want %s only", rep, err, anon)
	}
	rep, err = e.PruneVolumes(volume.PruneOptions{All: true}, false)
	if err != nil || len(rep.Deleted) != 0 {
		t.Errorf("prune -a took volumes that containers use: %+v, %v", rep, err)
	}
	// The trash keeps it, and restore brings it back.
	if _, err := e.Volumes.Restore(anon, ""); err != nil {
		t.Errorf("restore: %v", err)
	}
	// rm -v removes a container's anonymous volumes, not its named ones.
	runMounts(t, e, "vimg:test", "both", "true", "keepme:/k")
	c, _ = e.Lookup("both")
	if err := e.Remove(c, RemoveOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Volumes.Get("keepme"); err != nil {
		t.Errorf("rm -v removed a named volume: %v", err)
	}
	for _, n := range c.Volumes {
		if _, err := e.Volumes.Get(n); n != "keepme" && err == nil {
			t.Errorf("rm -v left anonymous volume %s", n)
		}
	}
}

func TestVolumeSymlinkedTarget(t *testing.T) {
	e := newEngine(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	volumeImage(t, e, host)
	// /evil leads to host's path, inside the container's root: the
	// volume is mounted there, filled from there, never from the host.
	code, out := runMounts(t, e, "vimg:test", "", "echo in > /evil/x; ls /evil", "evil:/evil")
	if code != 0 || out != "x\n" {
		t.Errorf("container: %d %q", code, out)
	}
	if entries, _ := os.ReadDir(host); len(entries) != 1 {
		t.Errorf("the host directory was written: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(e.Volumes.Path("evil"), "secret")); err == nil {
		t.Error("copy-up read the host's directory")
	}
	if b, _ := os.ReadFile(filepath.Join(e.Volumes.Path("evil"), "x")); string(b) != "in\n" {
		t.Errorf("the volume holds %q", b)
	}
}

func TestBindReadOnlyRecursiveAndChown(t *testing.T) {
	e := newEngine(t)
	src := t.TempDir()
	sub := filepath.Join(src, "sub")
	os.Mkdir(sub, 0o755)
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	code, out := runMounts(t, e, "busybox:test", "", "touch /b/sub/x 2>&1; touch /b/y 2>&1", src+":/b:ro")
	if code == 0 || strings.Count(out, "Read-only") != 2 {
		t.Errorf("read-only bind with a mount under it: %d %q, want both writes refused", code, out)
	}
	// A missing -v source is made, as Docker does.
	missing := filepath.Join(t.TempDir(), "made", "here")
	if code, out := runMounts(t, e, "busybox:test", "", "true", missing+":/m"); code != 0 {
		t.Errorf("missing source: %d %q", code, out)
	}
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Errorf("the missing source was not made: %v", err)
	}
	// :U gives a fresh volume and a bind to the container's user.
	write := "touch /v/x && touch /b/x && stat -c %u:%g /v /b/x"
	var cfg Config
	for _, v := range []string{"owned:/v:U", src + "/sub:/b:U"} {
		m, _ := ParseVolume(v)
		cfg.Binds = append(cfg.Binds, m)
	}
	code, out = run(t, e, CreateOptions{Image: "busybox:test", User: "1000:1000", Args: []string{"sh", "-c", write}, Config: cfg})
	if code != 0 || out != "1000:1000\n1000:1000\n" {
		t.Errorf(":U: %d %q", code, out)
	}
	code, _ = runMounts(t, e, "busybox:test", "", "su app -c 'touch /v/y' 2>/dev/null", "rootowned:/v")
	if code == 0 {
		t.Error("a non-root user wrote a fresh root-owned volume without :U")
	}
}

func TestVolumeDiskUsage(t *testing.T) {
	e := newEngine(t)
	runMounts(t, e, "busybox:test", "", "head -c 100000 /dev/zero > /d/f", "big:/d")
	if _, err := e.Volumes.Create("idle", volume.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, err := e.DiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rows, func(r DiskUsage) bool { return r.Type == "Local Volumes" })
	if i < 0 || rows[i].Total != 2 || rows[i].Active != 1 || rows[i].Size < 100000 || rows[i].Reclaimable >= 100000 {
		t.Errorf("Local Volumes = %+v", rows[i])
	}
}

func TestVolumeRemovedUnderContainerAndRestored(t *testing.T) {
	e := newEngine(t)
	if code, out := runMounts(t, e, "busybox:test", "keeper", "echo kept > /d/f", "kept:/d"); code != 0 {
		t.Fatalf("%d %s", code, out)
	}
	if err := e.RemoveVolume("kept", true, false); err != nil {
		t.Fatalf("rm -f of a volume in use: %v", err)
	}
	c, _ := e.Lookup("keeper")
	_, err := e.RunAttached(c, Stdio{Out: os.Stderr, Err: os.Stderr})
	if err == nil || !strings.Contains(err.Error(), "berth volume restore kept") {
		t.Errorf("start without its volume: %v", err)
	}
	// Restoring the container restores its volume from the trash.
	if err := e.Remove(c, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Restore("keeper", ""); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(e.Volumes.Path("kept"), "f")); err != nil || string(b) != "kept\n" {
		t.Errorf("restored volume holds %q, %v", b, err)
	}
}

func TestVolumeClaimRacesRemove(t *testing.T) {
	e := newEngine(t)
	m, _ := ParseVolume("race:/d")
	for i := 0; i < 20; i++ {
		done := make(chan error)
		go func() {
			_, err := e.Create(CreateOptions{Image: "busybox:test", Args: []string{"true"}, Config: Config{Binds: []Bind{m}}})
			done <- err
		}()
		e.RemoveVolume("race", false, true)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Whichever came first, the container's volume exists.
		if _, err := e.Volumes.Get("race"); err != nil {
			t.Fatalf("round %d: a container names a volume that is gone: %v", i, err)
		}
		list, _ := e.List()
		for _, s := range list {
			e.Remove(s.Container, RemoveOptions{Purge: true})
		}
	}
	// A create that fails leaves no volume it made.
	if _, err := e.Create(CreateOptions{Image: "busybox:test", Name: "dup", Args: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	m2, _ := ParseVolume("orphan:/o")
	if _, err := e.Create(CreateOptions{Image: "busybox:test", Name: "dup", Args: []string{"true"}, Config: Config{Binds: []Bind{m2}}}); err == nil {
		t.Fatal("a second container named dup")
	}
	if _, err := e.Volumes.Get("orphan"); err == nil {
		t.Error("a failed create left its volume's record")
	}
	if _, err := os.Stat(filepath.Join(e.Volumes.Dir, "orphan")); err == nil {
		t.Error("a failed create left its volume's directory")
	}
}

func TestCopyThroughVolumes(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in-bind"), []byte("bound"), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg Config
	for _, v := range []string{"cpdata:/d", host + ":/h:ro"} {
		m, _ := ParseVolume(v)
		cfg.Binds = append(cfg.Binds, m)
	}
	c, err := e.Create(CreateOptions{Image: "busybox:test", Name: "cpv", Args: []string{"cat", "/d/f"}, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile("/proc/self/mountinfo")
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("copied in"), 0o644)
	// Into a volume of a container that never ran: the file lands in
	// the volume, where the container finds it.
	if _, err := e.CopyToContainer(ctx, c, src, nil, "/d/", CopyOptions{}); err != nil {
		t.Fatalf("cp into a volume: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(e.Volumes.Path("cpdata"), "f")); err != nil || string(b) != "copied in" {
		t.Errorf("the volume holds %q, %v", b, err)
	}
	out := t.TempDir()
	if _, err := e.CopyFromContainer(ctx, c, "/h/in-bind", out, nil, CopyOptions{}); err != nil {
		t.Fatalf("cp out of a bind: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "in-bind")); string(b) != "bound" {
		t.Errorf("copied out %q", b)
	}
	if _, err := e.CopyToContainer(ctx, c, src, nil, "/h/", CopyOptions{}); err == nil {
		t.Error("cp into a read-only bind succeeded")
	}
	if _, err := os.Stat(filepath.Join(host, "f")); err == nil {
		t.Error("cp wrote into a read-only bind's host directory")
	}
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if string(before) != string(after) {
		t.Errorf("cp changed the host's mount table:\n%s\n---\n%s", before, after)
	}
	f, _ := os.CreateTemp(t.TempDir(), "out")
	defer f.Close()
	if code, err := e.RunAttached(c, Stdio{Out: f, Err: f}); code != 0 || err != nil {
		t.Fatalf("run: %d %v", code, err)
	}
	if b, _ := os.ReadFile(f.Name()); string(b) != "copied in" {
		t.Errorf("the container read %q", b)
	}
}
