package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// tarEntry is one entry of a tar stream, read back.
type tarEntry struct {
	hdr  *tar.Header
	body string
}

func readTar(t *testing.T, r io.Reader) map[string]tarEntry {
	t.Helper()
	out := map[string]tarEntry{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hdr.Name] = tarEntry{hdr: hdr, body: string(b)}
	}
}

func names(m map[string]tarEntry) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// copyOut copies path of c to a tar stream and reads it back.
func copyOut(t *testing.T, e *Engine, c *metadata.Container, path string, opts CopyOptions) map[string]tarEntry {
	t.Helper()
	var buf bytes.Buffer
	if _, err := e.CopyFromContainer(context.Background(), c, path, "-", &buf, opts); err != nil {
		t.Fatalf("cp %s:%s -: %v", c.Name, path, err)
	}
	return readTar(t, &buf)
}

// ranContainer runs script in a new container named name and returns
// it, stopped.
func ranContainer(t *testing.T, e *Engine, name, script string) *metadata.Container {
	t.Helper()
	if code, out := run(t, e, CreateOptions{Image: "busybox:test", Name: name, Args: []string{"sh", "-c", script}}); code != 0 {
		t.Fatalf("%s: exit %d: %s", script, code, out)
	}
	c, err := e.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCopyFromContainer(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	c := ranContainer(t, e, "src", "mkdir -p /data/sub && echo one > /data/f && echo two > /data/sub/g && chown 1000:1000 /data/f && "+
		"ln -s /etc /hostetc && ln -s ../../../../../../../../../../etc/passwd /passwd-link")

	// A file, to a new file and into an existing directory.
	dir := t.TempDir()
	if _, err := e.CopyFromContainer(ctx, c, "/data/f", filepath.Join(dir, "f1"), nil, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CopyFromContainer(ctx, c, "/data/f", dir, nil, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"f1", "f"} {
		if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != "one\n" {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
	// Without -a the copy is berth's; with it, the container's owner.
	var st0, st1 os.FileInfo
	st0, _ = os.Stat(filepath.Join(dir, "f"))
	if _, err := e.CopyFromContainer(ctx, c, "/data/f", filepath.Join(dir, "fa"), nil, CopyOptions{Archive: true}); err != nil {
		t.Fatal(err)
	}
	st1, _ = os.Stat(filepath.Join(dir, "fa"))
	if uid(st0) != 0 || uid(st1) != 1000 {
		t.Errorf("owners: without -a %d, with -a %d; want 0 and 1000", uid(st0), uid(st1))
	}

	// A directory: to a new path it becomes that directory; onto an
	// existing one it goes inside; "/." copies its contents.
	if _, err := e.CopyFromContainer(ctx, c, "/data", filepath.Join(dir, "new"), nil, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "into"), 0o755)
	if _, err := e.CopyFromContainer(ctx, c, "/data", filepath.Join(dir, "into"), nil, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "contents"), 0o755)
	if _, err := e.CopyFromContainer(ctx, c, "/data/.", filepath.Join(dir, "contents"), nil, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"new/sub/g", "into/data/sub/g", "contents/sub/g"} {
		if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != "two\n" {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}

	// Symlinks resolve inside the container: its /etc, not the host's.
	want := "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n" // newEngine's
	if got := copyOut(t, e, c, "/hostetc/passwd", CopyOptions{}); got["passwd"].body != want {
		t.Errorf("/hostetc/passwd: %q, want the image's %q", got["passwd"].body, want)
	}
	if got := copyOut(t, e, c, "/passwd-link", CopyOptions{FollowLink: true}); got["passwd-link"].body != want {
		t.Errorf("cp -L /passwd-link: %v, want the image's passwd", names(got))
	}
	// Without -L the link itself is copied.
	if got := copyOut(t, e, c, "/passwd-link", CopyOptions{}); got["passwd-link"].hdr.Typeflag != tar.TypeSymlink {
		t.Errorf("/passwd-link without -L: %+v", got["passwd-link"].hdr)
	}

	// The stream names entries after the source; "/." gives "./".
	if got := names(copyOut(t, e, c, "/data", CopyOptions{})); !slices.Equal(got, []string{"data/", "data/f", "data/sub/", "data/sub/g"}) {
		t.Errorf("cp /data -: %v", got)
	}
	if got := names(copyOut(t, e, c, "/data/.", CopyOptions{})); !slices.Equal(got, []string{"./", "./f", "./sub/", "./sub/g"}) {
		t.Errorf("cp /data/. -: %v", got)
	}

	for _, bad := range []struct {
		src, dst string
		want     error
	}{
		{"/nope", dir, errdefs.ErrNotFound},
		{"/data/f/", dir, errdefs.ErrInvalid},
		{"/data", filepath.Join(dir, "f1"), errdefs.ErrInvalid},
		{"/data/f", filepath.Join(dir, "missing") + "/", errdefs.ErrInvalid},
		{"/data/f", filepath.Join(dir, "missing/f"), errdefs.ErrInvalid},
	} {
		if _, err := e.CopyFromContainer(ctx, c, bad.src, bad.dst, nil, CopyOptions{}); !errors.Is(err, bad.want) {
			t.Errorf("cp %s %s: %v, want %v", bad.src, bad.dst, err, bad.want)
		}
	}
	// The container's root filesystem is unmounted again.
	if mounted(filepath.Join(e.dir(c.ID), "rootfs")) {
		t.Error("the root filesystem of the stopped container is left mounted")
	}
}

func TestCopyToContainer(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	host := t.TempDir()
	secret := filepath.Join(host, "secret")
	os.WriteFile(secret, []byte("host secret\n"), 0o644)
	// Links in the container at host paths: /etc, a file of the host's
	// temp dir (whose path the container also has), and a directory of
	// the host's that the container lacks.
	// Run again, it shows what was copied in.
	c := ranContainer(t, e, "dst", "test -e /done && exec cat /etc/injected /data/tree/sub/g; touch /done && "+
		"mkdir -p "+host+" /data && ln -s /etc /hostetc && ln -s "+secret+" /secret-link && "+
		"ln -s "+filepath.Join(host, "only-on-host")+" /dir-link")
	os.Mkdir(filepath.Join(host, "only-on-host"), 0o755)

	src := t.TempDir()
	file := filepath.Join(src, "file")
	os.WriteFile(file, []byte("copied\n"), 0o640)
	os.Chown(file, 1234, 1234)
	os.MkdirAll(filepath.Join(src, "tree/sub"), 0o755)
	os.WriteFile(filepath.Join(src, "tree/sub/g"), []byte("g\n"), 0o644)

	for _, dst := range []string{"/hostetc/injected", "/secret-link", "/data/file", "/data/"} {
		if _, err := e.CopyToContainer(ctx, c, file, nil, dst, CopyOptions{}); err != nil {
			t.Fatalf("cp %s %s: %v", file, dst, err)
		}
	}
	if _, err := e.CopyToContainer(ctx, c, file, nil, "/dir-link/x", CopyOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("cp through a link to a directory only the host has: %v", err)
	}
	// Nothing reached the host's files.
	if b, _ := os.ReadFile(secret); string(b) != "host secret\n" {
		t.Errorf("the host's file was written: %q", b)
	}
	if _, err := os.Lstat("/etc/injected"); err == nil {
		t.Error("/etc/injected was created on the host")
	}
	if ents, _ := os.ReadDir(filepath.Join(host, "only-on-host")); len(ents) != 0 {
		t.Errorf("the host's directory got %v", ents)
	}
	// Each copy landed in the container, owned by root without -a.
	for _, p := range []string{"/etc/injected", secret, "/data/file"} {
		got := copyOut(t, e, c, p, CopyOptions{})[filepath.Base(p)]
		if got.body != "copied\n" || got.hdr.Uid != 0 || got.hdr.Mode != 0o640 {
			t.Errorf("%s in the container: %q, uid %d, mode %o", p, got.body, got.hdr.Uid, got.hdr.Mode)
		}
	}

	// -a keeps the owner; a directory goes inside an existing one, or
	// becomes a new one; "/." copies the contents.
	if _, err := e.CopyToContainer(ctx, c, file, nil, "/kept", CopyOptions{Archive: true}); err != nil {
		t.Fatal(err)
	}
	if h := copyOut(t, e, c, "/kept", CopyOptions{})["kept"].hdr; h.Uid != 1234 || h.Gid != 1234 {
		t.Errorf("cp -a: owner %d:%d", h.Uid, h.Gid)
	}
	for _, cp := range []struct{ src, dst, want string }{
		{"tree", "/data", "data/tree/sub/g"},
		{"tree", "/newtree", "newtree/sub/g"},
		{"tree/.", "/data", "data/sub/g"},
	} {
		// Not filepath.Join, which would drop the "/.".
		if _, err := e.CopyToContainer(ctx, c, src+"/"+cp.src, nil, cp.dst, CopyOptions{}); err != nil {
			t.Fatalf("cp %s %s: %v", cp.src, cp.dst, err)
		}
		top := strings.Split(cp.want, "/")[0]
		if got := copyOut(t, e, c, "/"+top, CopyOptions{}); got[cp.want].body != "g\n" {
			t.Errorf("cp %s %s: %v", cp.src, cp.dst, names(got))
		}
	}

	// A tar stream: unpacked into a directory, nothing outside it.
	var stream bytes.Buffer
	tw := tar.NewWriter(&stream)
	for _, h := range []*tar.Header{
		{Name: "in-stream", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3, Uid: 77},
		{Name: "out", Typeflag: tar.TypeSymlink, Linkname: host},
		{Name: "out/evil", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
	} {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("ok\n"))
		}
	}
	tw.Close()
	if _, err := e.CopyToContainer(ctx, c, "-", bytes.NewReader(stream.Bytes()), "/data", CopyOptions{}); err == nil {
		t.Error("a stream that writes through its own symlink was accepted")
	}
	if _, err := os.Lstat(filepath.Join(host, "evil")); err == nil {
		t.Error("the stream wrote to the host")
	}
	if got := copyOut(t, e, c, "/data/in-stream", CopyOptions{})["in-stream"]; got.body != "ok\n" || got.hdr.Uid != 0 {
		t.Errorf("the stream's first file: %q, uid %d", got.body, got.hdr.Uid)
	}
	// Compressed, as Docker takes it too.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	tw = tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "zipped", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	tw.Write([]byte("gz\n"))
	tw.Close()
	zw.Close()
	if _, err := e.CopyToContainer(ctx, c, "-", &gz, "/data", CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := copyOut(t, e, c, "/data/zipped", CopyOptions{})["zipped"]; got.body != "gz\n" {
		t.Errorf("a gzip stream: %q", got.body)
	}
	// A stream needs a directory; a directory does not replace a file.
	if _, err := e.CopyToContainer(ctx, c, "-", bytes.NewReader(stream.Bytes()), "/data/file", CopyOptions{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a stream to a file: %v", err)
	}
	if _, err := e.CopyToContainer(ctx, c, filepath.Join(src, "tree"), nil, "/data/file", CopyOptions{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a directory onto a file: %v", err)
	}
	os.WriteFile(filepath.Join(src, "sub"), nil, 0o644)
	if _, err := e.CopyToContainer(ctx, c, filepath.Join(src, "sub"), nil, "/data/tree", CopyOptions{}); err == nil {
		t.Error("a file replaced the directory /data/tree/sub")
	}

	// The container sees it all when it runs again.
	f, _ := os.CreateTemp(t.TempDir(), "out")
	defer f.Close()
	c, _ = e.Lookup(c.ID)
	if code, err := e.RunAttached(c, Stdio{Out: f, Err: f}); code != 0 || err != nil {
		t.Fatalf("run: %d, %v", code, err)
	}
	if b, _ := os.ReadFile(f.Name()); string(b) != "copied\ng\n" {
		t.Errorf("the container sees %q", b)
	}
}

func uid(fi os.FileInfo) int {
	if fi == nil {
		return -1
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}
