package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// newTestRoot makes a directory with symlinks that would escape it if
// followed by the host, and returns it opened as a root.
func newTestRoot(t testing.TB) (*root, string, string) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "rootfs")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dir, outside, filepath.Join(dir, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"evil":         "../../..",
		"abs":          outside,
		"dangling":     outside + "/new",
		"etc/relative": "../../../../outside",
		"file":         "etc/passwd",
		"loop":         "loop",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "passwd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r, dir, outside
}

func TestMkdirAllStaysInRoot(t *testing.T) {
	r, dir, outside := newTestRoot(t)
	tests := []struct{ path, want string }{
		{"/evil/x", "/x"},
		{"evil/../../y/z", "/y/z"},
		{"/abs/p", outside + "/p"},
		{"/dangling/q", outside + "/new/q"},
		{"/etc/relative/r", "/outside/r"},
		{"/", "/"},
	}
	for _, tt := range tests {
		fd, err := r.mkdirAll(tt.path, 0o755)
		if err != nil {
			t.Errorf("mkdirAll(%q): %v", tt.path, err)
			continue
		}
		got, err := r.resolved(fd)
		unix.Close(fd)
		if err != nil || got != tt.want {
			t.Errorf("mkdirAll(%q) resolved to %q, %v; want %q", tt.path, got, err, tt.want)
		}
		if fi, err := os.Stat(filepath.Join(dir, tt.want)); err != nil || !fi.IsDir() {
			t.Errorf("mkdirAll(%q): %s not a directory in the root: %v", tt.path, tt.want, err)
		}
	}
	entries, err := os.ReadDir(outside)
	if err != nil || len(entries) != 0 {
		t.Errorf("something was created outside the root: %v %v", entries, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x")); err == nil {
		t.Error("evil/x created outside the root")
	}
}

func TestCreateFileStaysInRoot(t *testing.T) {
	r, dir, outside := newTestRoot(t)
	fd, err := r.createFile("/dangling", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.resolved(fd)
	unix.Close(fd)
	if got != outside+"/new" {
		t.Errorf("dangling resolved to %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, outside, "new")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("file not made in the root: %v", err)
	}
	// An existing file is returned as it is, through a symlink.
	fd, err = r.createFile("/file", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = r.resolved(fd)
	unix.Close(fd)
	if got != "/etc/passwd" {
		t.Errorf("file resolved to %q", got)
	}
	if _, err := r.mkdirAll("/file/sub", 0o755); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("mkdirAll through a file: %v, want ENOTDIR", err)
	}
	if _, err := r.mkdirAll("/loop/x", 0o755); !errors.Is(err, unix.ELOOP) {
		t.Errorf("mkdirAll through a loop: %v, want ELOOP", err)
	}
	if _, err := r.open("/proc/self/root", unix.O_PATH); err == nil {
		t.Error("opened a path missing from the root")
	}
}

func TestOpenRefusesMagicLinks(t *testing.T) {
	r, err := openRoot("/")
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if err := checkProcfs(); err != nil {
		t.Skipf("needs procfs on /proc: %v", err)
	}
	if _, err := r.open("/proc/self/root/etc", unix.O_PATH); !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.EXDEV) {
		t.Errorf("magic link followed: %v", err)
	}
}
