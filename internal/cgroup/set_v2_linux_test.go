package cgroup

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v2Files are the control files of a fake cgroup2 container directory.
var v2Files = []string{
	"cgroup.procs", "cgroup.freeze", "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle",
	"cpuset.cpus", "cpuset.mems", "memory.max", "memory.low", "memory.swap.max", "memory.high",
	"pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.1GB.max", "hugetlb.2MB.rsvd.max", "rdma.max",
}

func fakeV2(t *testing.T, skip ...string) (root string, m *Manager, log *[]string) {
	t.Helper()
	root = t.TempDir()
	files := map[string]string{}
outer:
	for _, f := range v2Files {
		for _, s := range skip {
			if s == f {
				continue outer
			}
		}
		files["c/"+f] = ""
	}
	fakeTree(t, root, files)
	m = newFake(t, root, Unified, "/c", nil)
	return root, m, recordWrites(t, m, root)
}

func TestSetV2(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    specs.LinuxResources
		skip []string // files absent from the fake tree
		want []string
	}{
		{name: "empty", r: specs.LinuxResources{}},
		{
			name: "memory limit swap reservation",
			r: specs.LinuxResources{Memory: withKernelLimit(&specs.LinuxMemory{
				Limit: ptr[int64](100 << 20), Swap: ptr[int64](300 << 20), Reservation: ptr[int64](50 << 20),
				Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(true),
			})},
			want: []string{"c/memory.swap.max=209715200", "c/memory.max=104857600", "c/memory.low=52428800"},
		},
		{
			name: "unlimited memory implies unlimited swap",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}},
			want: []string{"c/memory.swap.max=max", "c/memory.max=max"},
		},
		{
			name: "swap equal to limit disables swap",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1000), Swap: ptr[int64](1000)}},
			want: []string{"c/memory.swap.max=0", "c/memory.max=1000"},
		},
		{
			name: "unlimited swap without swap accounting is skipped",
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](1000), Swap: ptr[int64](-1)}},
			skip: []string{"memory.swap.max"},
			want: []string{"c/memory.max=1000"},
		},
		{
			name: "cpu shares quota period",
			r: specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Period: ptr[uint64](100000),
				Burst: ptr[uint64](1000), Idle: ptr[int64](1), Cpus: "0-1", Mems: "0",
			}},
			want: []string{"c/cpuset.cpus=0-1", "c/cpuset.mems=0", "c/cpu.weight=39", "c/cpu.max=50000 100000",
				"c/cpu.max.burst=1000", "c/cpu.idle=1"},
		},
		{
			name: "cpu unlimited quota keeps period",
			r:    specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1), Period: ptr[uint64](20000)}},
			want: []string{"c/cpu.max=max 20000"},
		},
		{
			name: "default idle and burst on an older kernel",
			r:    specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](0), Burst: ptr[uint64](0)}},
			skip: []string{"cpu.idle", "cpu.max.burst"},
		},
		{
			name: "cpu quota alone",
			r:    specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](25000)}},
			want: []string{"c/cpu.max=25000"},
		},
		{name: "pids limit", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](42)}}, want: []string{"c/pids.max=42"}},
		{name: "pids zero is max", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](0)}}, want: []string{"c/pids.max=max"}},
		{name: "pids negative is max", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}}, want: []string{"c/pids.max=max"}},
		{
			name: "io weight and throttling",
			r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight:     ptr[uint16](500),
				LeafWeight: ptr[uint16](300),
				WeightDevice: []specs.LinuxWeightDevice{
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](1000)},
				},
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 2097152}},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 100}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 0}},
			}},
			want: []string{"c/io.weight=4950", "c/io.weight=8:0 10000",
				"c/io.max=8:0 rbps=1048576 wbps=2097152 wiops=max", "c/io.max=8:16 riops=100"},
		},
		{
			name: "hugetlb with reservation file",
			r:    specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 0}}},
			want: []string{"c/hugetlb.2MB.max=4194304", "c/hugetlb.2MB.rsvd.max=4194304", "c/hugetlb.1GB.max=0"},
		},
		{
			name: "rdma",
			r:    specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_1": {HcaHandles: ptr[uint32](3)}, "mlx4_0": {HcaHandles: ptr[uint32](2), HcaObjects: ptr[uint32](10)}}},
			want: []string{"c/rdma.max=mlx4_0 hca_handle=2 hca_object=10", "c/rdma.max=mlx5_1 hca_handle=3"},
		},
		{
			name: "unified after typed, sorted",
			r:    specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}, Unified: map[string]string{"memory.high": "1G", "cpu.weight": "7"}},
			want: []string{"c/pids.max=5", "c/cpu.weight=7", "c/memory.high=1G"},
		},
		{
			name: "network is v1 only and ignored",
			r:    specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](7)}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, m, log := fakeV2(t, tc.skip...)
			if err := m.Set(&tc.r); err != nil {
				t.Fatal(err)
			}
			equalLines(t, "writes", *log, tc.want)
			// The files hold the last value written.
			last := map[string]string{}
			for _, w := range *log {
				k, v, _ := strings.Cut(w, "=")
				last[k] = v
			}
			for k, v := range last {
				if got := readFake(t, root, k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestSetV2Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    specs.LinuxResources
		skip []string
		want string
	}{
		{"swap below limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](50)}}, nil, "below the memory limit"},
		{"swap without limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](50)}}, nil, "needs a memory limit"},
		{"swap without accounting", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100), Swap: ptr[int64](200)}}, []string{"memory.swap.max"}, "memory.swap.max is missing"},
		{"idle on an older kernel", specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr[int64](1)}}, []string{"cpu.idle"}, "cpu.idle"},
		{"realtime", specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](100)}}, nil, "realtime"},
		{"bad unified key", specs.LinuxResources{Unified: map[string]string{"../cgroup.procs": "1"}}, nil, "plain file name"},
		{"dot unified key", specs.LinuxResources{Unified: map[string]string{"..": "1"}}, nil, "plain file name"},
		{"unknown unified key", specs.LinuxResources{Unified: map[string]string{"nope.max": "1"}}, nil, "nope controller"},
		{"missing controller file", specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](3)}}, []string{"pids.max"}, "pids.max"},
		{"bad hugepage size", specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB/../x"}}}, nil, "invalid hugepage size"},
		{"bad device type", specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}}, nil, "invalid type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m, _ := fakeV2(t, tc.skip...)
			err := m.Set(&tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Set error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSetNil(t *testing.T) {
	_, m, log := fakeV2(t)
	if err := m.Set(nil); err != nil || len(*log) != 0 {
		t.Fatalf("Set(nil) = %v, writes %q", err, *log)
	}
}

func TestSetV2DevicesAttachesFilter(t *testing.T) {
	root, m, _ := fakeV2(t)
	var gotDir string
	var gotInsts asm.Instructions
	m.attachDevices = func(dir string, insts asm.Instructions) error {
		gotDir, gotInsts = dir, insts
		return nil
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](1)}}); err != nil || gotInsts != nil {
		t.Fatalf("Set without devices attached a filter (err %v)", err)
	}
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"}}
	if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
		t.Fatal(err)
	}
	if gotDir != root+"/c" {
		t.Errorf("attached to %q, want %q", gotDir, root+"/c")
	}
	if len(gotInsts) == 0 || gotInsts[len(gotInsts)-1].OpCode.JumpOp() != asm.Exit {
		t.Errorf("attached program does not end in exit:\n%v", gotInsts)
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{
		0: 0, 1: 1, 2: 1, 3: 1, 1024: 39, 2048: 79, 262143: 9999, 262144: 10000, 1 << 30: 10000,
	} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	for w, want := range map[uint16]uint64{0: 0, 10: 1, 500: 4950, 1000: 10000} {
		if got := blkioToIOWeight(w); got != want {
			t.Errorf("blkioToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
}

func TestSwapV2(t *testing.T) {
	for _, tc := range []struct {
		swap, limit, want int64
		set, err          bool
	}{
		{0, 0, 0, false, false}, {0, 100, 0, false, false}, {-1, 100, -1, true, false}, {0, -1, -1, true, false},
		{300, 100, 200, true, false}, {100, 100, 0, true, false},
		{50, 100, 0, false, true}, {50, 0, 0, false, true}, {50, -1, 0, false, true}, {50, -5, 0, false, true},
	} {
		got, set, err := swapV2(tc.swap, tc.limit)
		if (err != nil) != tc.err || got != tc.want || set != tc.set {
			t.Errorf("swapV2(%d, %d) = %d, %v, %v; want %d, %v, err %v", tc.swap, tc.limit, got, set, err, tc.want, tc.set, tc.err)
		}
	}
}
