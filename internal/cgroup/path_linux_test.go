package cgroup

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanCgroupsPath(t *testing.T) {
	for _, tc := range []struct {
		in, id   string
		want     string
		relative bool
		wantErr  string
	}{
		{in: "", id: "abc", want: "/berth/abc"},
		{in: "/docker/abc", want: "/docker/abc"},
		{in: "/docker//abc/", want: "/docker/abc"},
		{in: "/../../etc", want: "/etc"},
		{in: "foo/bar", want: "foo/bar", relative: true},
		{in: "./foo", want: "foo", relative: true},
		{in: "system.slice:berth:abc", wantErr: "systemd"},
		{in: ":berth:abc", wantErr: "systemd"},
		{in: "", id: "", wantErr: "invalid container id"},
		{in: "", id: "a/b", wantErr: "invalid container id"},
		{in: "", id: "..", wantErr: "invalid container id"},
		{in: "/a\x00b", wantErr: "NUL"},
	} {
		got, rel, err := cleanCgroupsPath(tc.in, tc.id)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("cleanCgroupsPath(%q, %q) error = %v, want %q", tc.in, tc.id, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want || rel != tc.relative {
			t.Errorf("cleanCgroupsPath(%q, %q) = %q, %v, %v; want %q, %v", tc.in, tc.id, got, rel, err, tc.want, tc.relative)
		}
	}
}

func TestSystemdPathIsErrSystemdUnsupported(t *testing.T) {
	_, err := NewAt(t.TempDir(), Unified, "system.slice:berth:abc", "abc")
	if !errors.Is(err, ErrSystemdUnsupported) {
		t.Fatalf("err = %v, want ErrSystemdUnsupported", err)
	}
}

func TestResolveDir(t *testing.T) {
	h := hierarchy{controllers: []string{"memory"}, mount: "/sys/fs/cgroup/memory", root: "/"}
	sub := hierarchy{controllers: []string{"memory"}, mount: "/sys/fs/cgroup/memory", root: "/docker/x"}
	for _, tc := range []struct {
		h        hierarchy
		p        string
		relative bool
		own      string
		want     string
	}{
		{h, "/docker/abc", false, "/user.slice", "/sys/fs/cgroup/memory/docker/abc"},
		{h, "foo/bar", true, "/user.slice/s1", "/sys/fs/cgroup/memory/user.slice/s1/foo/bar"},
		{h, "../../../../x", true, "/a", "/sys/fs/cgroup/memory/x"},
		{sub, "foo", true, "/docker/x/inner", "/sys/fs/cgroup/memory/inner/foo"},
		{sub, "/abs", false, "/docker/x", "/sys/fs/cgroup/memory/abs"},
	} {
		if got := resolveDir(tc.h, tc.p, tc.relative, tc.own); got != tc.want {
			t.Errorf("resolveDir(%+v, %q, %v, %q) = %q, want %q", tc.h, tc.p, tc.relative, tc.own, got, tc.want)
		}
	}
}

func TestNewLegacyPaths(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{
		"cpu,cpuacct/": "", "memory/": "", "pids/": "", "systemd/": "", "unified/": "",
	})
	if err := os.Symlink("cpu,cpuacct", filepath.Join(root, "cpu")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("cpu,cpuacct", filepath.Join(root, "cpuacct")); err != nil {
		t.Fatal(err)
	}
	own := map[string]string{"cpu": "/u", "cpuacct": "/u", "memory": "/m", "pids": "/p", "name=systemd": "/s", "": "/x"}

	abs := newFake(t, root, Legacy, "/docker/abc", own).Paths()
	cpuDir := abs["cpu"]
	if abs["cpuacct"] != cpuDir || !strings.HasSuffix(cpuDir, "/docker/abc") {
		t.Errorf("cpu and cpuacct should share one dir, got %q and %q", cpuDir, abs["cpuacct"])
	}
	for k, want := range map[string]string{
		"memory":       "memory/docker/abc",
		"pids":         "pids/docker/abc",
		"name=systemd": "systemd/docker/abc",
		"":             "unified/docker/abc",
	} {
		if abs[k] != filepath.Join(root, want) {
			t.Errorf("Paths()[%q] = %q, want %q", k, abs[k], filepath.Join(root, want))
		}
	}

	rel := newFake(t, root, Legacy, "sub", own).Paths()
	if got, want := rel["memory"], filepath.Join(root, "memory/m/sub"); got != want {
		t.Errorf("relative memory path = %q, want %q", got, want)
	}
	if got, want := rel[""], filepath.Join(root, "unified/x/sub"); got != want {
		t.Errorf("relative unified path = %q, want %q", got, want)
	}

	def := newFake(t, root, Legacy, "", own).Paths()
	if got, want := def["pids"], filepath.Join(root, "pids/berth/ctr"); got != want {
		t.Errorf("default pids path = %q, want %q", got, want)
	}
}

func TestNewRelativeNeedsOwnCgroup(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{"memory/": ""})
	hs, err := scanLegacy(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newManager(Legacy, hs, "rel", "id", map[string]string{}); err == nil {
		t.Fatal("relative path without own cgroup: want error")
	}
}

func TestNewUnifiedPaths(t *testing.T) {
	root := t.TempDir()
	m := newFake(t, root, Unified, "rel/x", map[string]string{"": "/user.slice/me"})
	want := map[string]string{"": filepath.Join(root, "user.slice/me/rel/x")}
	if got := m.Paths(); !maps.Equal(got, want) {
		t.Errorf("Paths() = %v, want %v", got, want)
	}
	if m.Exists() {
		t.Error("Exists() before Apply = true")
	}
	if m.Mode() != Unified || m.Mode().String() != "v2" {
		t.Errorf("Mode() = %v", m.Mode())
	}
}

func TestParseProcCgroup(t *testing.T) {
	in := `12:hugetlb:/
9:name=systemd:/user.slice/session-1.scope
4:cpu,cpuacct:/docker/abc
3:net_cls,net_prio:/
0::/user.slice/session-1.scope
`
	got, err := ParseProcCgroup(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"hugetlb":      "/",
		"name=systemd": "/user.slice/session-1.scope",
		"cpu":          "/docker/abc",
		"cpuacct":      "/docker/abc",
		"net_cls":      "/",
		"net_prio":     "/",
		"":             "/user.slice/session-1.scope",
	}
	if !maps.Equal(got, want) {
		t.Errorf("ParseProcCgroup = %v, want %v", got, want)
	}
	entries, err := ParseProcCgroupEntries(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[2]; e.ID != 4 || strings.Join(e.Controllers, ",") != "cpu,cpuacct" || e.Path != "/docker/abc" {
		t.Errorf("entry 2 = %+v", e)
	}
	// A path may itself contain colons.
	got, err = ParseProcCgroup(strings.NewReader("0::/a:b\n"))
	if err != nil || got[""] != "/a:b" {
		t.Errorf("path with colon: %v, %v", got, err)
	}
	for _, bad := range []string{"garbage\n", "x:cpu:/\n", "0:cpu:/\n", "3::/\n"} {
		if _, err := ParseProcCgroup(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseProcCgroup(%q): want error", bad)
		}
	}
}

func TestParseProcCgroupSelf(t *testing.T) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Skip("no /proc/self/cgroup:", err)
	}
	defer f.Close()
	if _, err := ParseProcCgroup(f); err != nil {
		t.Fatal(err)
	}
}

func TestParseMountInfo(t *testing.T) {
	in := `25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
40 35 0:35 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:16 - cgroup cgroup rw,cpu,cpuacct
41 35 0:36 /docker/x /sys/fs/cgroup/memory rw,nosuid shared:17 - cgroup cgroup rw,memory
90 20 0:36 / /mnt/with\040space rw - cgroup cgroup rw,memory
`
	mounts, err := parseMountInfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 5 {
		t.Fatalf("got %d cgroup mounts, want 5: %+v", len(mounts), mounts)
	}
	if mounts[4].mountpoint != "/mnt/with space" {
		t.Errorf("unescaped mountpoint = %q", mounts[4].mountpoint)
	}
	hs := hierarchiesFromMounts(mounts, Legacy, DefaultRoot)
	var got []string
	for _, h := range hs {
		got = append(got, strings.Join(h.controllers, ",")+"@"+h.mount+"@"+h.root)
	}
	equalLines(t, "hierarchies", got, []string{
		"@/sys/fs/cgroup/unified@/",
		"name=systemd@/sys/fs/cgroup/systemd@/",
		"cpu,cpuacct@/sys/fs/cgroup/cpu,cpuacct@/",
		"memory@/sys/fs/cgroup/memory@/docker/x",
	})

	v2 := hierarchiesFromMounts([]mountEntry{{root: "/", mountpoint: "/sys/fs/cgroup", fstype: "cgroup2"}}, Unified, DefaultRoot)
	if len(v2) != 1 || !v2[0].unified() || v2[0].mount != "/sys/fs/cgroup" {
		t.Errorf("unified hierarchies = %+v", v2)
	}
}

func TestDetect(t *testing.T) {
	if m := Detect(); m != Legacy && m != Unified {
		t.Fatalf("Detect() = %v", m)
	}
	if m := detectAt(t.TempDir()); m != Legacy {
		t.Errorf("detectAt(tempdir) = %v, want Legacy", m)
	}
}
