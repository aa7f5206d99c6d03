package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/archive"
	"berth/internal/container"
	"berth/internal/errdefs"
	"berth/internal/image"
	"berth/internal/metadata"
	"berth/internal/testfixture"
)

func TestMain(m *testing.M) {
	// Containers' inits are this test binary started again.
	if container.IsInit() {
		container.InitMain()
	}
	os.Exit(m.Run())
}

// newEngine returns an engine under a temp root with a busybox image
// imported as busybox:test.
func newEngine(t *testing.T) *Engine {
	t.Helper()
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	root := t.TempDir()
	e, err := Open(root, filepath.Join(root, "runtime"))
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := testfixture.BusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	os.Chmod(rootfs, 0o755) // the temp dir's 0700 would lock users out of /
	os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc/group"), []byte("root:x:0:\napp:x:1000:\nextra:x:2000:app\n"), 0o644)
	var layer bytes.Buffer
	if err := archive.Tar(context.Background(), &layer, rootfs); err != nil {
		t.Fatal(err)
	}
	cfg := image.ContainerConfig{Cmd: []string{"sh"}, Env: []string{"FROM_IMAGE=1"}}
	if _, err := e.Images.Import(context.Background(), &layer, image.ImportOptions{Names: []string{"docker.io/library/busybox:test"}, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		list, _ := e.List()
		for _, s := range list {
			e.Remove(s.Container, RemoveOptions{Force: true})
		}
		e.ReleaseNetworks()
	})
	return e
}

// run creates and runs a container attached, returning its exit code and
// what it wrote.
func run(t *testing.T, e *Engine, opts CreateOptions) (int, string) {
	t.Helper()
	c, err := e.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code, err := e.RunAttached(c, Stdio{Out: f, Err: f})
	var ie *container.InitError
	if err != nil && !errors.As(err, &ie) {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	return code, string(b)
}

func TestRunAttached(t *testing.T) {
	e := newEngine(t)
	code, out := run(t, e, CreateOptions{Image: "busybox:test", Name: "one", Hostname: "box",
		Args: []string{"sh", "-c", "hostname; echo $FROM_IMAGE $X; cat /etc/hostname; exit 7"}, Env: []string{"X=2"}})
	if code != 7 || out != "box\n1 2\nbox\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
	c, err := e.Lookup("one")
	if err != nil {
		t.Fatal(err)
	}
	if e.Status(c) != StatusExited || c.State.ExitCode != 7 {
		t.Errorf("recorded %s, code %d", e.Status(c), c.State.ExitCode)
	}
	// The log holds what the container wrote.
	if b, _ := os.ReadFile(e.LogPath(c.ID)); !strings.Contains(string(b), `"log":"box\n","stream":"stdout"`) {
		t.Errorf("log: %s", b)
	}
	// A missing command is 127, as the shell says.
	code, _ = run(t, e, CreateOptions{Image: "busybox:test", Args: []string{"/nope"}})
	if code != 127 {
		t.Errorf("missing command: exit %d, want 127", code)
	}
}

func TestUserLookup(t *testing.T) {
	e := newEngine(t)
	for _, c := range []struct{ user, want string }{
		{"app", "uid=1000 gid=1000 groups=1000,2000"},
		{"1000", "uid=1000 gid=1000 groups=1000,2000"},
		{"1000:5", "uid=1000 gid=5 groups=5,2000"},
		{"4242", "uid=4242 gid=0 groups=0"},
	} {
		_, out := run(t, e, CreateOptions{Image: "busybox:test", User: c.user, Args: []string{"sh", "-c", "echo uid=$(id -u) gid=$(id -g) groups=$(id -G | tr ' ' ,)"}})
		if strings.TrimSpace(out) != c.want {
			t.Errorf("-u %s: %q, want %q", c.user, out, c.want)
		}
	}
	c, err := e.Create(CreateOptions{Image: "busybox:test", User: "nobody-here", Args: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.RunAttached(c, Stdio{Out: os.Stderr, Err: os.Stderr}); err == nil || !strings.Contains(err.Error(), "unable to find user nobody-here") {
		t.Errorf("unknown user: %v", err)
	}
}

// Of 20 creates with one name at once, exactly one succeeds.
func TestNameRace(t *testing.T) {
	e := newEngine(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Create(CreateOptions{Image: "busybox:test", Name: "same", Args: []string{"true"}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, errdefs.ErrConflict) && strings.Contains(err.Error(), "already in use"):
				conflicts++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || conflicts != 19 {
		t.Errorf("%d created, %d name conflicts; want 1 and 19", ok, conflicts)
	}
	entries, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	if len(entries) != 1 {
		t.Errorf("%d container directories, want 1", len(entries))
	}
}

func TestRemoveFreesItsImageOnlyWhenUnused(t *testing.T) {
	e := newEngine(t)
	run(t, e, CreateOptions{Image: "busybox:test", Name: "user", Args: []string{"true"}})
	if _, err := e.Images.Remove("busybox:test", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("rmi of an image a container uses: %v", err)
	}
	c, _ := e.Lookup("user")
	if err := e.Remove(c, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.dir(c.ID)); !os.IsNotExist(err) {
		t.Errorf("container directory left: %v", err)
	}
	if _, err := e.Images.Remove("busybox:test", false); err != nil {
		t.Errorf("rmi once the container is gone: %v", err)
	}
}

func TestEvents(t *testing.T) {
	e := newEngine(t)
	run(t, e, CreateOptions{Image: "busybox:test", Name: "ev", Args: []string{"sh", "-c", "exit 4"}})
	c, _ := e.Lookup("ev")
	if err := e.Remove(c, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := e.Events(time.Time{}, false, nil, func(ev Event) {
		if ev.Actor.Attributes["name"] == "ev" {
			got = append(got, ev.Action+ev.Actor.Attributes["exitCode"])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "create start die4 destroy" {
		t.Errorf("events %v", got)
	}
}

// A removed container goes to the trash, keeps its layers even when its
// image is removed, and comes back with its data.
func TestTrashAndRestore(t *testing.T) {
	e := newEngine(t)
	run(t, e, CreateOptions{Image: "busybox:test", Name: "precious", Args: []string{"sh", "-c", "echo kept > /data"}})
	c, _ := e.Lookup("precious")
	if err := e.Remove(c, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Lookup("precious"); err == nil {
		t.Fatal("a removed container is still listed")
	}
	// Its name is free meanwhile, so restoring under it is refused.
	run(t, e, CreateOptions{Image: "busybox:test", Name: "precious", Args: []string{"true"}})
	if _, err := e.Restore("precious", ""); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("restore onto a taken name: %v", err)
	}
	other, _ := e.Lookup("precious")
	e.Remove(other, RemoveOptions{Purge: true})
	// Its layers stay even when its image goes.
	if _, err := e.Images.Remove("busybox:test", false); err != nil {
		t.Fatalf("rmi after rm: %v", err)
	}
	if _, err := e.Images.Collect(true); err != nil {
		t.Fatal(err)
	}
	r, err := e.Restore(c.ID[:12], "precious2")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir(r.ID), "upper", "data")); err != nil || string(b) != "kept\n" {
		t.Errorf("restored data: %q, %v", b, err)
	}
	code, err := e.RunAttached(r, Stdio{Out: os.Stderr, Err: os.Stderr})
	if err != nil || code != 0 {
		t.Errorf("the restored container runs with exit %d", code)
	}
	if err := e.Remove(r, RemoveOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.TrashList(); len(list) != 0 {
		t.Errorf("trash after --purge: %d entries", len(list))
	}
}

// Docker's smallest memory limit, 6 MiB, leaves room for the container:
// the init's own runtime is not charged to it.
func TestSmallMemoryLimit(t *testing.T) {
	e := newEngine(t)
	limit, swap := int64(6<<20), int64(6<<20)
	cfg := Config{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap}}}
	code, out := run(t, e, CreateOptions{Image: "busybox:test", Config: cfg,
		Args: []string{"sh", "-c", "grep memory /proc/self/cgroup; head -c 64m /dev/zero | tail; echo tail=$?"}})
	if code != 0 || !strings.Contains(out, ":memory:/\n") || !strings.Contains(out, "tail=137") {
		t.Errorf("exit %d, output %q; want the container in its memory cgroup, its reader killed", code, out)
	}
}

// rm frees what has been in the trash past its grace period, looking
// through the trash at most once every trashCheckInterval.
func TestTrashExpires(t *testing.T) {
	e := newEngine(t)
	old := func(name string) string {
		run(t, e, CreateOptions{Image: "busybox:test", Name: name, Args: []string{"true"}})
		c, _ := e.Lookup(name)
		if err := e.Remove(c, RemoveOptions{}); err != nil {
			t.Fatal(err)
		}
		// Removed longer ago than the grace period.
		err := e.DB.Update(func(tx *metadata.Tx) error {
			tr := &metadata.Trashed{Container: *c, Removed: time.Now().Add(-trashTime() - time.Hour)}
			return tx.PutTrashed(tr)
		})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	inTrash := func(id string) bool {
		list, _ := e.TrashList()
		for _, tr := range list {
			if tr.Container.ID == id {
				return true
			}
		}
		return false
	}
	first := old("expired1")
	os.Remove(filepath.Join(e.root, "trash", ".checked")) // as if not looked through lately
	if _, err := e.PurgeTrash(false); err != nil {
		t.Fatal(err)
	}
	if inTrash(first) {
		t.Error("a container past its grace period is still in the trash")
	}
	if _, err := os.Stat(e.trashDir(first)); !os.IsNotExist(err) {
		t.Errorf("its directory is still there: %v", err)
	}
	// Within the interval, rm does not look again; an explicit purge does.
	second := old("expired2")
	e.PurgeTrash(false)
	if !inTrash(second) {
		t.Error("the trash was looked through twice within the interval")
	}
	if _, err := e.PurgeTrash(true); err != nil || inTrash(second) {
		t.Errorf("purge of everything left %s: %v", second, err)
	}
}
