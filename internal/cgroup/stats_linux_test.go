package cgroup

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestStatsV1(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{
		"cpu,cpuacct/c/cpuacct.usage":               "5000000000\n",
		"cpu,cpuacct/c/cpuacct.usage_percpu":        "3000000000 2000000000 \n",
		"cpu,cpuacct/c/cpuacct.usage_all":           "cpu user system\n0 2000 1000\n1 1500 500\n",
		"cpu,cpuacct/c/cpuacct.stat":                "user 300\nsystem 100\n",
		"cpu,cpuacct/c/cpu.stat":                    "nr_periods 10\nnr_throttled 3\nthrottled_time 123456\nnr_bursts 0\n",
		"memory/c/memory.stat":                      "cache 4096\nrss 8192\ntotal_cache 4096\n",
		"memory/c/memory.usage_in_bytes":            "12288\n",
		"memory/c/memory.max_usage_in_bytes":        "20480\n",
		"memory/c/memory.failcnt":                   "2\n",
		"memory/c/memory.limit_in_bytes":            "8388608\n",
		"memory/c/memory.memsw.usage_in_bytes":      "12288\n",
		"memory/c/memory.memsw.limit_in_bytes":      "9223372036854771712\n",
		"pids/c/pids.current":                       "3\n",
		"pids/c/pids.max":                           "max\n",
		"blkio/c/blkio.throttle.io_service_bytes":   "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\nTotal 12288\n",
		"blkio/c/blkio.throttle.io_serviced":        "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
		"hugetlb/c/hugetlb.2MB.limit_in_bytes":      "4194304\n",
		"hugetlb/c/hugetlb.2MB.rsvd.limit_in_bytes": "4194304\n",
		"hugetlb/c/hugetlb.2MB.usage_in_bytes":      "2097152\n",
		"hugetlb/c/hugetlb.2MB.max_usage_in_bytes":  "2097152\n",
		"hugetlb/c/hugetlb.2MB.failcnt":             "1\n",
		"freezer/c/":                                "",
	})
	m := newFake(t, root, Legacy, "/c", nil)
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{
		CPU: CPU{
			Usage: CPUUsage{Total: 5e9, Percpu: []uint64{3e9, 2e9}, PercpuUser: []uint64{2000, 1500},
				PercpuKernel: []uint64{1000, 500}, User: 3e9, Kernel: 1e9},
			Throttling: Throttling{Periods: 10, ThrottledPeriods: 3, ThrottledTime: 123456},
		},
		Memory: Memory{
			Cache: 4096,
			Usage: MemoryEntry{Limit: 8388608, Usage: 12288, Max: 20480, Failcnt: 2},
			Swap:  MemoryEntry{Limit: 9223372036854771712, Usage: 12288},
			Raw:   map[string]uint64{"cache": 4096, "rss": 8192, "total_cache": 4096},
		},
		Pids: Pids{Current: 3},
		Blkio: Blkio{
			IoServiceBytesRecursive: []BlkioEntry{{8, 0, "Read", 4096}, {8, 0, "Write", 8192}, {8, 0, "Sync", 0}},
			IoServicedRecursive:     []BlkioEntry{{8, 0, "Read", 1}, {8, 0, "Write", 2}},
		},
		Hugetlb: map[string]Hugetlb{"2MB": {Usage: 2097152, Max: 2097152, Failcnt: 1}},
	}
	if !reflect.DeepEqual(*st, want) {
		t.Errorf("Stats() =\n%+v\nwant\n%+v", *st, want)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"cpu":{"usage":{"total":5000000000,"percpu":[`, `"throttling":{"periods":10,"throttledPeriods":3,"throttledTime":123456}`,
		`"memory":{"cache":4096,"usage":{"limit":8388608,"usage":12288,"max":20480,"failcnt":2}`, `"pids":{"current":3}`,
		`"blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":4096}`, `"hugetlb":{"2MB":{"usage":2097152`, `"kernel":1000000000,"user":3000000000`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s:\n%s", key, b)
		}
	}
}

func TestStatsV1MissingFiles(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{"memory/c/": "", "pids/c/": "", "cpu/c/": "", "blkio/c/": ""})
	st, err := newFake(t, root, Legacy, "/c", nil).Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Usage != 0 || st.CPU.Usage.Total != 0 || len(st.Blkio.IoServiceBytesRecursive) != 0 {
		t.Errorf("stats from empty dirs = %+v", st)
	}
}

func TestStatsMalformed(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{"c/pids.current": "lots\n"})
	if _, err := newFake(t, root, Unified, "/c", nil).Stats(); err == nil || !strings.Contains(err.Error(), "pids.current") {
		t.Fatalf("Stats() error = %v, want one naming pids.current", err)
	}
}

func TestStatsV2(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{
		"c/cpu.stat":             "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 7\nnr_throttled 2\nthrottled_usec 40\n",
		"c/memory.current":       "1048576\n",
		"c/memory.max":           "max\n",
		"c/memory.peak":          "2097152\n",
		"c/memory.stat":          "anon 524288\nfile 262144\n",
		"c/memory.events":        "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
		"c/memory.swap.current":  "4096\n",
		"c/memory.swap.max":      "max\n",
		"c/pids.current":         "2\n",
		"c/pids.max":             "100\n",
		"c/io.stat":              "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
		"c/hugetlb.2MB.current":  "0\n",
		"c/hugetlb.2MB.max":      "max\n",
		"c/hugetlb.2MB.rsvd.max": "max\n",
		"c/hugetlb.2MB.events":   "max 5\n",
	})
	st, err := newFake(t, root, Unified, "/c", nil).Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CPU; got.Usage.Total != 5e6 || got.Usage.User != 3e6 || got.Usage.Kernel != 2e6 ||
		got.Throttling != (Throttling{7, 2, 40000}) {
		t.Errorf("cpu = %+v", got)
	}
	mem := st.Memory
	if mem.Usage != (MemoryEntry{Limit: math.MaxUint64, Usage: 1048576, Max: 2097152, Failcnt: 4}) {
		t.Errorf("memory usage = %+v", mem.Usage)
	}
	if mem.Cache != 262144 || mem.Raw["anon"] != 524288 {
		t.Errorf("memory cache/raw = %d %v", mem.Cache, mem.Raw)
	}
	if mem.SwapOnly.Usage != 4096 || mem.Swap.Usage != 1048576+4096 || mem.Swap.Limit != math.MaxUint64 {
		t.Errorf("swap = %+v, swapOnly = %+v", mem.Swap, mem.SwapOnly)
	}
	if st.Pids != (Pids{Current: 2, Limit: 100}) {
		t.Errorf("pids = %+v", st.Pids)
	}
	wantIO := []BlkioEntry{{8, 0, "Read", 4096}, {8, 0, "Write", 8192}, {8, 0, "Discard", 0}, {253, 1, "Read", 1}, {253, 1, "Write", 0}, {253, 1, "Discard", 0}}
	if !reflect.DeepEqual(st.Blkio.IoServiceBytesRecursive, wantIO) {
		t.Errorf("io bytes = %+v", st.Blkio.IoServiceBytesRecursive)
	}
	if len(st.Blkio.IoServicedRecursive) != 6 || st.Blkio.IoServicedRecursive[1].Value != 2 {
		t.Errorf("io ops = %+v", st.Blkio.IoServicedRecursive)
	}
	if !reflect.DeepEqual(st.Hugetlb, map[string]Hugetlb{"2MB": {Failcnt: 5}}) {
		t.Errorf("hugetlb = %+v", st.Hugetlb)
	}
}

func TestStatsV2SwapLimitAddsMemory(t *testing.T) {
	root := t.TempDir()
	fakeTree(t, root, map[string]string{
		"c/memory.current": "10\n", "c/memory.max": "1000\n",
		"c/memory.swap.current": "5\n", "c/memory.swap.max": "500\n",
	})
	st, err := newFake(t, root, Unified, "/c", nil).Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Swap.Limit != 1500 || st.Memory.Swap.Usage != 15 || st.Memory.SwapOnly.Limit != 500 {
		t.Errorf("swap = %+v, swapOnly = %+v", st.Memory.Swap, st.Memory.SwapOnly)
	}
}
