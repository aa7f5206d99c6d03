package cgroup

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v1Files are the control files of a fake v1 tree, per hierarchy
// directory, for a container at /c. Values are the initial contents.
var v1Files = map[string]map[string]string{
	"cpu,cpuacct": {
		"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
		"cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0",
	},
	"cpuset":  {"cpuset.cpus": "", "cpuset.mems": ""},
	"memory":  {"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712", "memory.soft_limit_in_bytes": "", "memory.kmem.tcp.limit_in_bytes": "", "memory.swappiness": "60", "memory.oom_control": "", "memory.use_hierarchy": "1"},
	"devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
	"blkio": {
		"blkio.bfq.weight": "", "blkio.bfq.weight_device": "", "blkio.throttle.read_bps_device": "",
		"blkio.throttle.write_bps_device": "", "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
	},
	"pids":             {"pids.max": "max"},
	"hugetlb":          {"hugetlb.2MB.limit_in_bytes": "", "hugetlb.2MB.rsvd.limit_in_bytes": "", "hugetlb.1GB.limit_in_bytes": ""},
	"net_cls,net_prio": {"net_cls.classid": "", "net_prio.ifpriomap": ""},
	"freezer":          {"freezer.state": "THAWED"},
	"systemd":          {"cgroup.procs": ""},
}

// fakeV1 builds a v1 tree. without lists "dir" (a whole hierarchy) or
// "dir/file" entries to leave out; set overrides initial contents.
func fakeV1(t *testing.T, without []string, set map[string]string) (root string, m *Manager, log *[]string) {
	t.Helper()
	root = t.TempDir()
	files := map[string]string{}
	skip := map[string]bool{}
	for _, w := range without {
		skip[w] = true
	}
	for dir, fs := range v1Files {
		if skip[dir] {
			continue
		}
		files[dir+"/c/cgroup.procs"] = ""
		for f, v := range fs {
			if !skip[dir+"/"+f] {
				files[dir+"/c/"+f] = v
			}
		}
	}
	for k, v := range set {
		files[k] = v
	}
	fakeTree(t, root, files)
	m = newFake(t, root, Legacy, "/c", nil)
	return root, m, recordWrites(t, m, root)
}

func TestSetV1(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       specs.LinuxResources
		without []string
		set     map[string]string
		want    []string
	}{
		{
			name: "memory raise writes memsw first",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](200 << 20), Swap: ptr[int64](400 << 20)}},
			set:  map[string]string{"memory/c/memory.limit_in_bytes": "104857600"},
			want: []string{"memory/c/memory.memsw.limit_in_bytes=419430400", "memory/c/memory.limit_in_bytes=209715200"},
		},
		{
			name: "memory lower writes limit first",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 << 20), Swap: ptr[int64](200 << 20)}},
			set:  map[string]string{"memory/c/memory.limit_in_bytes": "1073741824"},
			want: []string{"memory/c/memory.limit_in_bytes=104857600", "memory/c/memory.memsw.limit_in_bytes=209715200"},
		},
		{
			name: "unlimited memory unlimits swap first",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: []string{"memory/c/memory.memsw.limit_in_bytes=-1", "memory/c/memory.limit_in_bytes=-1"},
		},
		{
			name:    "no swap accounting and swap equal to limit",
			r:       specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1 << 20), Swap: ptr[int64](1 << 20)}},
			without: []string{"memory/memory.memsw.limit_in_bytes"},
			want:    []string{"memory/c/memory.limit_in_bytes=1048576"},
		},
		{
			name: "memory extras",
			r: specs.LinuxResources{Memory: withKernelLimit(&specs.LinuxMemory{
				Reservation: ptr[int64](1 << 20), KernelTCP: ptr[int64](2 << 20),
				Swappiness: ptr[uint64](0), DisableOOMKiller: ptr(true), UseHierarchy: ptr(true),
			})},
			want: []string{
				"memory/c/memory.soft_limit_in_bytes=1048576", "memory/c/memory.kmem.tcp.limit_in_bytes=2097152",
				"memory/c/memory.swappiness=0", "memory/c/memory.use_hierarchy=1", "memory/c/memory.oom_control=1",
			},
		},
		{
			name: "cpu",
			r: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](10),
				RealtimePeriod: ptr[uint64](1000000), RealtimeRuntime: ptr[int64](950000), Idle: ptr[int64](0),
				Cpus: "0", Mems: "0",
			}},
			want: []string{
				"cpuset/c/cpuset.cpus=0", "cpuset/c/cpuset.mems=0",
				"cpu,cpuacct/c/cpu.shares=512", "cpu,cpuacct/c/cpu.cfs_period_us=100000", "cpu,cpuacct/c/cpu.cfs_quota_us=50000",
				"cpu,cpuacct/c/cpu.cfs_burst_us=10", "cpu,cpuacct/c/cpu.rt_period_us=1000000", "cpu,cpuacct/c/cpu.rt_runtime_us=950000",
				"cpu,cpuacct/c/cpu.idle=0",
			},
		},
		{
			name: "pids",
			r:    specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](64)}},
			want: []string{"pids/c/pids.max=64"},
		},
		{
			name: "blkio falls back to bfq",
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight:                  ptr[uint16](300),
				WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](400)}},
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1000}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 10}},
			}},
			want: []string{
				"blkio/c/blkio.bfq.weight=300", "blkio/c/blkio.bfq.weight_device=8:0 400",
				"blkio/c/blkio.throttle.read_bps_device=8:0 1000", "blkio/c/blkio.throttle.write_iops_device=8:16 10",
			},
		},
		{
			name: "blkio prefers cfq weight",
			r:    specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](300)}},
			set:  map[string]string{"blkio/c/blkio.weight": ""},
			want: []string{"blkio/c/blkio.weight=300"},
		},
		{
			name: "hugetlb",
			r:    specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 2 << 20}, {Pagesize: "1GB", Limit: 1 << 30}}},
			want: []string{
				"hugetlb/c/hugetlb.2MB.limit_in_bytes=2097152", "hugetlb/c/hugetlb.2MB.rsvd.limit_in_bytes=2097152",
				"hugetlb/c/hugetlb.1GB.limit_in_bytes=1073741824",
			},
		},
		{
			name: "network",
			r:    specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}}}},
			want: []string{"net_cls,net_prio/c/net_cls.classid=1048577", "net_cls,net_prio/c/net_prio.ifpriomap=eth0 5"},
		},
		{
			name:    "network without net_cls is ignored",
			r:       specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](1)}},
			without: []string{"net_cls,net_prio"},
		},
		{
			name: "devices from allow-all parent",
			r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"},
				{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
				{Allow: true, Type: "c", Major: ptr[int64](136), Access: "rw"},
			}},
			want: []string{"devices/c/devices.deny=a", "devices/c/devices.allow=c 1:3 rwm", "devices/c/devices.allow=c 136:* rw"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m, log := fakeV1(t, tc.without, tc.set)
			if err := m.Set(&tc.r); err != nil {
				t.Fatal(err)
			}
			equalLines(t, "writes", *log, tc.want)
		})
	}
}

func TestSetV1Errors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       specs.LinuxResources
		without []string
		want    string
	}{
		{"swap without memsw", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](200)}},
			[]string{"memory/memory.memsw.limit_in_bytes"}, "memory.memsw.limit_in_bytes is missing"},
		{"swap below limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](50)}}, nil, "below the memory limit"},
		{"swappiness", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}}, nil, "swappiness"},
		{"unified", specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, nil, "cgroup v2"},
		{"hugetlb not mounted", specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB"}}}, []string{"hugetlb"}, `"hugetlb" is not mounted`},
		{"pids not mounted", specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](1)}}, []string{"pids"}, `"pids" is not mounted`},
		{"leaf weight without cfq", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](10)}}, nil, "blkio.leaf_weight"},
		{"hole punch", specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "c", Access: "rwm"},
			{Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "w"},
		}}, nil, "punch a hole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m, _ := fakeV1(t, tc.without, nil)
			err := m.Set(&tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Set error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
