package cgroup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeTree creates files (path relative to root -> content) and their
// directories. A path ending in "/" creates just the directory.
func fakeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readFake returns the trimmed content of a file under root.
func readFake(t *testing.T, root, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// recordWrites makes m log every control-file write as "path=value", with
// path relative to root, while still writing the file.
func recordWrites(t *testing.T, m *Manager, root string) *[]string {
	t.Helper()
	var log []string
	m.write = func(dir, name, value string) error {
		rel, err := filepath.Rel(root, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, rel+"="+value)
		return writeFile(dir, name, value)
	}
	return &log
}

// newFake builds a manager over a fake tree without consulting the real
// /proc/self/cgroup.
func newFake(t *testing.T, root string, mode Mode, cgroupsPath string, own map[string]string) *Manager {
	t.Helper()
	var hs []hierarchy
	if mode == Unified {
		hs = []hierarchy{{mount: root, root: "/"}}
	} else {
		var err error
		if hs, err = scanLegacy(root); err != nil {
			t.Fatal(err)
		}
	}
	m, err := newManager(mode, hs, cgroupsPath, "ctr", own)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ptr[T any](v T) *T { return &v }

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// withKernelLimit sets the deprecated kernel-memory limit, which Set must
// ignore.
func withKernelLimit(m *specs.LinuxMemory) *specs.LinuxMemory {
	//lint:ignore SA1019 the point is to check that the field is ignored
	m.Kernel = ptr[int64](1 << 20)
	return m
}
