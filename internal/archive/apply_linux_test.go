package archive

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// tree describes every file under root, root itself included, by path
// relative to it.
func tree(t testing.TB, root string) []string {
	t.Helper()
	var lines []string
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		lines = append(lines, "."+strings.TrimPrefix(describe(t, p), root))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestApplyTypes(t *testing.T) {
	exe := reg("bin/tool", "#!/bin/sh\n")
	exe.Mode = 0o4755
	fifo := entry{Header: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o620, ModTime: testTime}}
	private := dir("private/")
	private.Mode = 0o700
	readOnly := dir("ro/")
	readOnly.Mode = 0o555
	older := reg("private/old", "old")
	older.ModTime = testTime.Add(-time.Hour)
	older.AccessTime = testTime.Add(-2 * time.Hour)
	older.Format = tar.FormatPAX // the others drop atimes
	data := makeTar(t,
		dir("bin/"), exe,
		dir("run/"), fifo,
		private, older,
		readOnly, reg("ro/f", "f"),
		symlink("bin/sh", "tool"),
		hardlink("bin/tool2", "bin/tool"),
		reg("empty", ""),
	)
	dir := newLayer(t)
	res, err := applyBytes(dir, data, Limits{})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if want := (Result{Bytes: int64(len("#!/bin/sh\n") + len("old") + len("f")), Entries: 11, Rebuildable: true}); res != want {
		t.Errorf("Apply = %+v, want %+v", res, want)
	}
	for _, c := range []struct {
		name string
		mode uint32
	}{
		{"bin", unix.S_IFDIR | 0o755},
		{"bin/tool", unix.S_IFREG | 0o4755},
		{"bin/sh", unix.S_IFLNK | 0o777},
		{"run/fifo", unix.S_IFIFO | 0o620},
		{"private", unix.S_IFDIR | 0o700},
		{"private/old", unix.S_IFREG | 0o644},
		{"ro", unix.S_IFDIR | 0o555},
		{"ro/f", unix.S_IFREG | 0o644},
		{"empty", unix.S_IFREG | 0o644},
	} {
		st := lstat(t, filepath.Join(dir, c.name))
		if st.Mode != c.mode {
			t.Errorf("mode of %s = %o, want %o", c.name, st.Mode, c.mode)
		}
		wantTime := testTime
		if c.name == "private/old" {
			wantTime = older.ModTime
			if got := time.Unix(st.Atim.Unix()); !got.Equal(older.AccessTime) {
				t.Errorf("atime of %s = %v, want %v", c.name, got, older.AccessTime)
			}
		}
		// Directories too: their times are set after what they hold.
		if got := time.Unix(st.Mtim.Unix()); !got.Equal(wantTime) {
			t.Errorf("mtime of %s = %v, want %v", c.name, got, wantTime)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "tool" {
		t.Errorf("Readlink(bin/sh) = %q, %v, want tool", target, err)
	}
	a, b := lstat(t, filepath.Join(dir, "bin/tool")), lstat(t, filepath.Join(dir, "bin/tool2"))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("bin/tool2 is not a hardlink of bin/tool: inodes %d, %d, nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "bin/tool2")); string(got) != "#!/bin/sh\n" {
		t.Errorf("bin/tool2 holds %q", got)
	}
}

func TestApplyReplaces(t *testing.T) {
	dir := mustApply(t,
		dir("d/"), reg("d/inner", "x"), dir("d/sub/"),
		reg("f", "file"),
		symlink("s", "/etc"),
		dir("keep/"), reg("keep/a", "a"),
		// Later entries of the same name win.
		reg("d", "now a file"),
		dir("f/"),
		reg("s", "no longer a link"),
		dir("keep/"), // listed again: keeps what it holds
	)
	want := map[string]string{"d": "now a file", "s": "no longer a link", "keep/a": "a"}
	for name, body := range want {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != body {
			t.Errorf("ReadFile(%s) = %q, %v, want %q", name, got, err, body)
		}
	}
	if st := lstat(t, filepath.Join(dir, "f")); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("f is %o, want a directory", st.Mode)
	}
}

func TestApplyRootEntry(t *testing.T) {
	root := dir("./")
	root.Mode = 0o750
	for _, e := range []entry{root, dir("/"), dir(".")} {
		layer := t.TempDir()
		want := root.Mode
		if e.Name != "./" {
			want = 0o755
		}
		if _, err := applyBytes(layer, makeTar(t, e, reg("a", "a")), Limits{}); err != nil {
			t.Fatalf("Apply(%q): %v", e.Name, err)
		}
		st := lstat(t, layer)
		if st.Mode&0o7777 != uint32(want) || !time.Unix(st.Mtim.Unix()).Equal(testTime) {
			t.Errorf("after %q the layer's root has mode %o, mtime %v; want %o, %v", e.Name, st.Mode&0o7777, time.Unix(st.Mtim.Unix()), want, testTime)
		}
	}
	layer := t.TempDir()
	_, err := applyBytes(layer, makeTar(t, reg(".", "not a dir")), Limits{})
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Apply(a file named ./) = %v, want an invalid-argument error", err)
	}
}

func TestApplyMissingParents(t *testing.T) {
	dir := mustApply(t, reg("a/b/c/f", "f"))
	for _, p := range []string{"a", "a/b", "a/b/c"} {
		if st := lstat(t, filepath.Join(dir, p)); st.Mode&unix.S_IFMT != unix.S_IFDIR {
			t.Errorf("%s is %o, want a directory", p, st.Mode)
		}
	}
}

// TestApplyPathSafety: whatever the names, symlinks and hardlinks in a
// layer, Apply writes inside the layer directory only.
func TestApplyPathSafety(t *testing.T) {
	cases := []struct {
		name    string
		entries func(s *sandbox) []entry
		wantErr bool
		// want maps paths in the layer to what they must hold.
		want map[string]string
	}{{
		name:    "absolute name",
		entries: func(s *sandbox) []entry { return []entry{reg("/abs", "x"), reg("//twice/f", "y")} },
		want:    map[string]string{"abs": "x", "twice/f": "y"},
	}, {
		name:    "dot-dot",
		entries: func(*sandbox) []entry { return []entry{reg("../sentinel", "overwritten")} },
		wantErr: true,
	}, {
		name:    "dot-dot inside",
		entries: func(*sandbox) []entry { return []entry{dir("a/"), reg("a/../../sentinel", "overwritten")} },
		wantErr: true,
	}, {
		name:    "dot-dot that stays inside",
		entries: func(*sandbox) []entry { return []entry{reg("a/../b", "b")} },
		want:    map[string]string{"b": "b"},
	}, {
		name: "through a symlink to the parent",
		entries: func(*sandbox) []entry {
			return []entry{symlink("up", ".."), reg("up/sentinel", "overwritten"), reg("up/up/new", "new")}
		},
		want: map[string]string{"sentinel": "overwritten", "new": "new"},
	}, {
		name: "through a symlink to /",
		entries: func(s *sandbox) []entry {
			return []entry{symlink("root", "/"), reg("root"+s.parent+"/sentinel", "overwritten")}
		},
		want: map[string]string{"PARENT/sentinel": "overwritten"},
	}, {
		name: "through an absolute symlink to the parent",
		entries: func(s *sandbox) []entry {
			return []entry{dir(s.parent), symlink("p", s.parent), reg("p/sentinel", "overwritten"), dir("p/sentinel-dir/"), reg("p/sentinel-dir/f", "overwritten")}
		},
		want: map[string]string{"PARENT/sentinel": "overwritten", "PARENT/sentinel-dir/f": "overwritten"},
	}, {
		name: "symlink then a file of the same name",
		entries: func(*sandbox) []entry {
			return []entry{symlink("s", "../sentinel"), reg("s", "replaced")}
		},
		want: map[string]string{"s": "replaced"},
	}, {
		name: "symlink then a directory of the same name",
		entries: func(*sandbox) []entry {
			return []entry{symlink("d", "../sentinel-dir"), dir("d/"), reg("d/f", "mine")}
		},
		want: map[string]string{"d/f": "mine"},
	}, {
		name: "symlink chain out",
		entries: func(*sandbox) []entry {
			return []entry{symlink("a", "b/../../.."), dir("b/"), symlink("b/c", "../a"), reg("b/c/sentinel", "overwritten")}
		},
		want: map[string]string{"sentinel": "overwritten"},
	}, {
		name: "a directory's path leads elsewhere by the end",
		entries: func(*sandbox) []entry {
			// Unprivileged, Apply sets d's mode 0555 at the end, when
			// a/d leads through the symlink a to x/d, a symlink out.
			readOnly := dir("a/d/")
			readOnly.Mode = 0o555
			return []entry{dir("x/"), symlink("x/d", "../../sentinel"), dir("a/"), readOnly, symlink("a", "x")}
		},
		want: map[string]string{},
	}, {
		name:    "hardlink to outside",
		entries: func(*sandbox) []entry { return []entry{hardlink("h", "../sentinel")} },
		wantErr: true,
	}, {
		name:    "hardlink to an absolute path outside",
		entries: func(s *sandbox) []entry { return []entry{hardlink("h", s.parent+"/sentinel")} },
		wantErr: true,
	}, {
		name: "hardlink through a symlink to outside",
		entries: func(*sandbox) []entry {
			return []entry{symlink("up", ".."), hardlink("h", "up/sentinel")}
		},
		wantErr: true,
	}, {
		name: "hardlink to a symlink to outside",
		entries: func(*sandbox) []entry {
			return []entry{symlink("s", "../sentinel"), hardlink("h", "s"), reg("h2", "x")}
		},
		want: map[string]string{"h2": "x"},
	}, {
		name:    "hardlink to the root",
		entries: func(*sandbox) []entry { return []entry{hardlink("h", "/")} },
		wantErr: true,
	}, {
		name:    "hardlink to itself",
		entries: func(*sandbox) []entry { return []entry{reg("h", "h"), hardlink("h", "./h")} },
		wantErr: true,
	}, {
		name:    "parent is a file",
		entries: func(*sandbox) []entry { return []entry{reg("f", "f"), reg("f/g", "g")} },
		wantErr: true,
	}, {
		name:    "parent is a dangling symlink",
		entries: func(*sandbox) []entry { return []entry{symlink("d", "nowhere"), reg("d/g", "g")} },
		wantErr: true,
	}, {
		name:    "parent is a dangling symlink out",
		entries: func(*sandbox) []entry { return []entry{symlink("d", "../nowhere"), reg("d/g", "g")} },
		wantErr: true,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t)
			entries := c.entries(s)
			_, err := applyBytes(s.layer, makeTar(t, entries...), Limits{})
			s.check(t)
			if c.wantErr {
				if !errors.Is(err, errdefs.ErrInvalid) {
					t.Fatalf("Apply = %v, want an invalid-argument error", err)
				}
				name := entries[len(entries)-1].Name
				if !strings.Contains(err.Error(), `layer entry "`+name+`"`) {
					t.Errorf("error %q does not name the entry %q", err, name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			for p, body := range c.want {
				p = strings.ReplaceAll(p, "PARENT", s.parent)
				if got, err := os.ReadFile(filepath.Join(s.layer, p)); err != nil || string(got) != body {
					t.Errorf("ReadFile(%s) in the layer = %q, %v, want %q", p, got, err, body)
				}
			}
		})
	}
}

func TestSyncfs(t *testing.T) {
	dir := mustApply(t, reg("f", "f"))
	if err := Syncfs(dir); err != nil {
		t.Errorf("Syncfs(%s) = %v", dir, err)
	}
	if err := Syncfs(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Syncfs(missing) = %v, want not exist", err)
	}
}
