package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseMountOptions: options come from configs and CLI strings; the
// parser must not panic, and what it calls data must hold no option it
// knows.
func FuzzParseMountOptions(f *testing.F) {
	f.Add("bind", "rbind,ro,nosuid,rshared")
	f.Add("tmpfs", "nosuid,strictatime,mode=755,size=65536k")
	f.Add("", "rro,rnoatime,ratime,rw,remount")
	f.Add("none", "idmap")
	f.Fuzz(func(t *testing.T, typ, options string) {
		c, err := parseMountOptions(typ, strings.Split(options, ","))
		if err != nil {
			return
		}
		if c.bind != (c.flags&unix.MS_BIND != 0) {
			t.Errorf("bind %v but flags %#x", c.bind, c.flags)
		}
		if c.flags&c.cleared != 0 {
			t.Errorf("flags %#x both set and cleared", c.flags&c.cleared)
		}
		for _, d := range strings.Split(c.data, ",") {
			_, flag := mountFlagOptions[d]
			_, prop := propagationOptions[d]
			_, rec := recursiveAttrOptions[d]
			if flag || prop || rec {
				t.Errorf("option %q passed on as data", d)
			}
		}
	})
}

// FuzzMkdirAllStaysInRoot: whatever the path, what mkdirAll makes or
// opens is inside the root, symlinks planted in it notwithstanding.
func FuzzMkdirAllStaysInRoot(f *testing.F) {
	for _, p := range []string{"/evil/x", "../../a", "/abs/p/q", "/dangling", "/etc/relative/r/../s", "/loop", "/file/x", "a//b/./c"} {
		f.Add(p)
	}
	r, dir, outside := newTestRoot(f)
	// What the root's parents and the planted symlinks' targets hold:
	// the tree newTestRoot made, nothing else.
	b := filepath.Dir(dir)
	a := filepath.Dir(b)
	allowed := map[string]string{b: "rootfs", a: "b", filepath.Dir(a): "a outside", outside: ""}
	f.Fuzz(func(t *testing.T, p string) {
		if strings.ContainsRune(p, 0) {
			return
		}
		if fd, err := r.mkdirAll(p, 0o755); err == nil {
			got, rerr := r.resolved(fd)
			unix.Close(fd)
			if rerr != nil || got != cleanPath(got) {
				t.Fatalf("mkdirAll(%q) resolved to %q, %v", p, got, rerr)
			}
		}
		for d, want := range allowed {
			entries, err := os.ReadDir(d)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if got := strings.Join(names, " "); got != want {
				t.Fatalf("mkdirAll(%q) made something outside the root: %s holds %q", p, d, got)
			}
		}
	})
}
