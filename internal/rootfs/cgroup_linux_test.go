package rootfs

import (
	"reflect"
	"testing"
)

const sampleMountInfo = `22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 27 0:32 /sub /srv/mem rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 27 0:40 / /mnt/with\040space rw master:3 - tmpfs tmpfs rw
`

func TestParseMountInfo(t *testing.T) {
	infos, err := parseMountInfo(sampleMountInfo)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 9 {
		t.Fatalf("got %d entries", len(infos))
	}
	if !infos[0].shared() || infos[2].shared() || infos[8].shared() {
		t.Error("shared() wrong")
	}
	if infos[8].mountPoint != "/mnt/with space" {
		t.Errorf("unescape: %q", infos[8].mountPoint)
	}
	want := mountInfo{root: "/sub", mountPoint: "/srv/mem", opts: []string{"rw", "relatime"}, optional: []string{}, fstype: "cgroup", source: "cgroup", superOpts: []string{"rw", "memory"}}
	if !reflect.DeepEqual(infos[5], want) {
		t.Errorf("got %+v\nwant %+v", infos[5], want)
	}
	if got := controllersOf(infos[6]); !reflect.DeepEqual(got, []string{"name=systemd"}) {
		t.Errorf("controllers of systemd: %v", got)
	}
	if _, err := parseMountInfo("1 2 3\n"); err == nil {
		t.Error("malformed line accepted")
	}
}

func TestV1Hierarchies(t *testing.T) {
	infos, err := parseMountInfo(sampleMountInfo)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"": "/", "cpu,cpuacct": "/c1", "memory": "/c1", "name=systemd": "/c1", "rdma": "/c1"}
	hs := v1Hierarchies(infos, paths, false)
	var got []string
	for _, h := range hs {
		dir, err := hostCgroupDir(h.mount, paths[h.key])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.key+"="+dir)
	}
	want := []string{
		"cpu,cpuacct=/sys/fs/cgroup/cpu,cpuacct/c1",
		"memory=/sys/fs/cgroup/memory/c1",
		"name=systemd=/sys/fs/cgroup/systemd/c1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	// Without paths, every host hierarchy, once.
	hs = v1Hierarchies(infos, nil, false)
	got = nil
	for _, h := range hs {
		got = append(got, h.key)
	}
	if want := []string{"cpu,cpuacct", "memory", "name=systemd"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// A path under the root of a non-standard mount of the hierarchy.
	dir, err := hostCgroupDir(infos[5], "/sub/c2")
	if err != nil || dir != "/srv/mem/c2" {
		t.Errorf("hostCgroupDir = %q, %v", dir, err)
	}
	if _, err := hostCgroupDir(infos[5], "/other"); err == nil {
		t.Error("path outside the mount root accepted")
	}
}
