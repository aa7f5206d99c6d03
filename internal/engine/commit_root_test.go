package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"berth/internal/image"
)

// changesScript adds, changes and deletes files, and replaces a
// directory of the image with a new one (an opaque directory).
const changesScript = "echo new > /etc/added && echo x >> /etc/passwd && rm /etc/group && mkdir -p /home/app/sub && " +
	"rm -rf /root && mkdir /root && echo r > /root/new && rm -rf /tmp"

func TestDiff(t *testing.T) {
	e := newEngine(t)
	c := ranContainer(t, e, "changed", changesScript)
	changes, err := e.Diff(c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range changes {
		got = append(got, ch.String())
	}
	want := []string{
		"C /etc", "A /etc/added", "D /etc/group", "C /etc/passwd",
		"C /home", "C /home/app", "A /home/app/sub",
		"C /root", "A /root/new",
		"D /tmp",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The mount points that a start leaves in the writable layer are
	// not the container's changes.
	for _, args := range [][]string{nil, {"true"}} {
		c, err := e.Create(CreateOptions{Image: "busybox:test", Args: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		if args != nil {
			if code, err := e.RunAttached(c, Stdio{Out: os.Stderr, Err: os.Stderr}); code != 0 || err != nil {
				t.Fatal(code, err)
			}
		}
		if changes, err := e.Diff(c); err != nil || len(changes) != 0 {
			t.Errorf("diff of a container that changed nothing: %v, %v", changes, err)
		}
	}
	// Nor are those of its own mounts, such as --tmpfs, where the image
	// lacks the path; what it writes beside them is.
	c, err = e.Create(CreateOptions{Image: "busybox:test", Args: []string{"sh", "-c", "echo x > /scratch/file"},
		Config: Config{HostOptions: HostOptions{Tmpfs: map[string]string{"/scratch/tmp": "", "/home/app/t": ""}}}})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := e.RunAttached(c, Stdio{Out: os.Stderr, Err: os.Stderr}); code != 0 || err != nil {
		t.Fatal(code, err)
	}
	if changes, err := e.Diff(c); err != nil || fmt.Sprint(changes) != "[A /scratch A /scratch/file]" {
		t.Errorf("diff with tmpfs mounts: %v, %v", changes, err)
	}
}

func TestCommit(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	base, err := e.Images.Lookup("busybox:test")
	if err != nil {
		t.Fatal(err)
	}
	c := ranContainer(t, e, "tocommit", changesScript)
	img, err := e.Commit(ctx, c, CommitOptions{Author: "A <a@example.com>", Message: "the changes",
		Changes: []string{"ENV C=1", `CMD ["cat", "/etc/added"]`}, Pause: true,
		Names: []string{"docker.io/library/committed:test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Chain) != len(base.Chain)+1 {
		t.Errorf("%d layers, want %d", len(img.Chain), len(base.Chain)+1)
	}
	// The new image runs with the changes, its CMD and ENV, and the
	// image's own environment; what was deleted stays deleted.
	if code, out := run(t, e, CreateOptions{Image: "committed:test"}); code != 0 || out != "new\n" {
		t.Errorf("run committed:test: %d %q", code, out)
	}
	script := "ls /etc/group /tmp 2>&1; echo $C $FROM_IMAGE; tail -n1 /etc/passwd; cat /root/new; ls /home/app"
	code, out := run(t, e, CreateOptions{Image: "committed:test", Args: []string{"sh", "-c", script}})
	want := "ls: /etc/group: No such file or directory\nls: /tmp: No such file or directory\n1 1\nx\nr\nsub\n"
	if out != want {
		t.Errorf("the committed image: exit %d\n%s\nwant\n%s", code, out, want)
	}
	// The layer holds no mount points of the runtime's.
	snap, err := e.Images.Snaps.Get(img.Chain[len(img.Chain)-1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(e.Images.Snaps.Dir(snap), "etc/hostname")); !os.IsNotExist(err) {
		t.Errorf("the layer has the runtime's /etc/hostname: %v", err)
	}
	cfg, err := e.Images.DockerConfig(img)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Author != "A <a@example.com>" || strings.Join(cfg.Config.Cmd, " ") != "cat /etc/added" {
		t.Errorf("config: author %q, cmd %q", cfg.Author, cfg.Config.Cmd)
	}
	hist, err := e.Images.History(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) < 2 || hist[0].Comment != "the changes" || hist[0].CreatedBy != "sh -c "+changesScript || hist[0].Size == 0 {
		t.Errorf("history: %+v", hist)
	}

	// A container that changed nothing adds no layer, only history.
	same := ranContainer(t, e, "same", "true")
	img2, err := e.Commit(ctx, same, CommitOptions{Pause: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(img2.Chain) != len(base.Chain) {
		t.Errorf("an empty commit has %d layers, want %d", len(img2.Chain), len(base.Chain))
	}
	if hist, _ := e.Images.History(img2); len(hist) != 2 || hist[0].Size != 0 {
		t.Errorf("history of an empty commit: %+v", hist)
	}
	// A bad --change fails before anything is stored.
	if _, err := e.Commit(ctx, same, CommitOptions{Changes: []string{"RUN true"}}); err == nil {
		t.Error("commit -c 'RUN true' was accepted")
	}
}

func TestExportImport(t *testing.T) {
	e := newEngine(t)
	c := ranContainer(t, e, "toexport", changesScript)
	var buf bytes.Buffer
	if err := e.Export(context.Background(), c, &buf); err != nil {
		t.Fatal(err)
	}
	entries := readTar(t, bytes.NewReader(buf.Bytes()))
	for name := range entries {
		if strings.Contains(name, ".wh.") {
			t.Errorf("export has a whiteout: %s", name)
		}
	}
	for _, gone := range []string{"etc/group", "tmp/"} {
		if _, ok := entries[gone]; ok {
			t.Errorf("export has %s, which the container deleted", gone)
		}
	}
	if entries["etc/added"].body != "new\n" || entries["bin/busybox"].hdr == nil || entries["root/new"].body != "r\n" {
		t.Errorf("export lacks the container's files: %v", names(entries))
	}
	if mounted(filepath.Join(e.dir(c.ID), "rootfs")) {
		t.Error("the root filesystem of the stopped container is left mounted")
	}
	if _, err := e.Images.Import(context.Background(), &buf, image.ImportOptions{Names: []string{"docker.io/library/exported:test"}}); err != nil {
		t.Fatal(err)
	}
	code, out := run(t, e, CreateOptions{Image: "exported:test", Args: []string{"sh", "-c", "cat /etc/added; ls /etc/group 2>&1"}})
	if code == 0 || out != "new\nls: /etc/group: No such file or directory\n" {
		t.Errorf("run exported:test: %d %q", code, out)
	}
}

// A running container, through the berth binary: cp in and out, diff,
// commit (paused, then running on) and export.
func TestCopyCommitExportRunning(t *testing.T) {
	c := newCLI(t)
	c.run("run", "-d", "--name", "live", "busybox:test", "sh", "-c", "echo live > /live; while true; do sleep 0.1; done")
	eventually(t, "the container's file", func() bool {
		out, err := c.runErr(nil, "exec", "live", "cat", "/live")
		return err == nil && out == "live\n"
	})

	var stream bytes.Buffer
	tw := tar.NewWriter(&stream)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	tw.Write([]byte("in\n"))
	tw.Close()
	if out := c.runIn(stream.Bytes(), "cp", "-", "live:/tmp"); out != "" {
		t.Errorf("cp - live:/tmp printed %q", out)
	}
	if got := c.run("exec", "live", "cat", "/tmp/f"); got != "in\n" {
		t.Errorf("the running container sees %q", got)
	}
	dir := t.TempDir()
	c.run("cp", "live:/live", dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "live")); string(b) != "live\n" {
		t.Errorf("cp live:/live: %q", b)
	}
	if got := readTar(t, strings.NewReader(c.run("cp", "live:/tmp/f", "-"))); got["f"].body != "in\n" {
		t.Errorf("cp live:/tmp/f -: %v", names(got))
	}

	if got := c.run("diff", "live"); got != "A /live\nC /tmp\nA /tmp/f\n" {
		t.Errorf("diff live:\n%s", got)
	}

	id := strings.TrimSpace(c.run("commit", "-m", "live", "-c", "CMD cat /live /tmp/f", "live", "live:img"))
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Errorf("commit printed %q", id)
	}
	if got := strings.TrimSpace(c.run("inspect", "-f", "{{.State.Status}}", "live")); got != "running" {
		t.Errorf("after commit the container is %s", got)
	}
	if got := c.run("run", "--rm", "live:img"); got != "live\nin\n" {
		t.Errorf("run live:img: %q", got)
	}

	file := filepath.Join(dir, "live.tar")
	c.run("export", "-o", file, "live")
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export -o: %v, %v", fi, err)
	}
	exported, _ := os.ReadFile(file)
	if !bytes.Equal(exported, []byte(c.run("export", "live"))) {
		t.Error("export -o and export to stdout differ")
	}
	c.runIn(exported, "import", "-", "exported:img")
	if got := c.run("run", "--rm", "exported:img", "cat", "/live", "/tmp/f"); got != "live\nin\n" {
		t.Errorf("run exported:img: %q", got)
	}
	if out, err := c.runErr(nil, "cp", "live:/nope", dir); err == nil || !strings.Contains(out, "Could not find the file /nope in container live") {
		t.Errorf("cp of a missing file: %v: %s", err, out)
	}
	// stop waits for the monitor, whose cleanup would otherwise still
	// write under the root while the test removes it.
	c.run("stop", "-t", "1", "live")
}
