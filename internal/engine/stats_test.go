package engine

import (
	"strings"
	"testing"

	"berth/internal/cgroup"
)

func TestNetDev(t *testing.T) {
	const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    9000      10    0    0    0     0          0         0     9000      10    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0      700       6    0    0    0     0       0          0
  eth1:     500       2    0    0    0     0          0         0      300       1    0    0    0     0       0          0
`
	rx, tx := netDev(strings.NewReader(dev))
	if rx != 2000 || tx != 1000 {
		t.Errorf("rx %d tx %d, want 2000 and 1000 (loopback left out)", rx, tx)
	}
}

func TestParseSystemCPU(t *testing.T) {
	// Docker sums user to softirq; steal and guest are not counted.
	stat := "cpu  100 1 20 300 4 5 6 77 88 99\ncpu0 50 0 10 150 2 2 3 0 0 0\n"
	got, err := parseSystemCPU(strings.NewReader(stat))
	if want := uint64(436) * 1e7; err != nil || got != want {
		t.Errorf("got %d, %v; want %d", got, err, want)
	}
	if _, err := parseSystemCPU(strings.NewReader("intr 1 2 3\n")); err == nil {
		t.Error("no cpu line was accepted")
	}
}

func TestMemoryNoCache(t *testing.T) {
	v1 := cgroup.Memory{Usage: cgroup.MemoryEntry{Usage: 1000}, Raw: map[string]uint64{"total_inactive_file": 300, "inactive_file": 100}}
	v2 := cgroup.Memory{Usage: cgroup.MemoryEntry{Usage: 1000}, Raw: map[string]uint64{"inactive_file": 100}}
	odd := cgroup.Memory{Usage: cgroup.MemoryEntry{Usage: 1000}, Raw: map[string]uint64{"total_inactive_file": 5000}}
	if got := memoryNoCache(&v1); got != 700 {
		t.Errorf("v1: %d, want 700", got)
	}
	if got := memoryNoCache(&v2); got != 900 {
		t.Errorf("v2: %d, want 900", got)
	}
	if got := memoryNoCache(&odd); got != 1000 {
		t.Errorf("cache above usage: %d, want the usage", got)
	}
}

func TestCPUPercent(t *testing.T) {
	prev := &ContainerStats{Running: true, CPU: 1e9, System: 100e9, OnlineCPUs: 2}
	cur := &ContainerStats{Running: true, CPU: 2e9, System: 102e9, OnlineCPUs: 2}
	// One second of CPU while the host's two CPUs ran one second each:
	// one whole CPU, 100%.
	if got := cur.CPUPercent(prev); got != 100 {
		t.Errorf("got %v, want 100", got)
	}
	if got := cur.CPUPercent(nil); got != 0 {
		t.Errorf("without a previous reading: %v", got)
	}
	restarted := &ContainerStats{Running: true, CPU: 1e6, System: 103e9, OnlineCPUs: 2}
	if got := restarted.CPUPercent(cur); got != 0 {
		t.Errorf("after a restart: %v", got)
	}
	m := &ContainerStats{Memory: 25, MemoryLimit: 100}
	if m.MemoryPercent() != 25 || (&ContainerStats{}).MemoryPercent() != 0 {
		t.Error("memory percent")
	}
}

func TestBlockIO(t *testing.T) {
	b := cgroup.Blkio{IoServiceBytesRecursive: []cgroup.BlkioEntry{
		{Major: 8, Op: "Read", Value: 10}, {Major: 8, Op: "Write", Value: 20}, {Major: 8, Op: "Total", Value: 30},
		{Major: 9, Op: "read", Value: 1}, {Major: 9, Op: "Discard", Value: 5},
	}}
	if r, w := blockIO(&b); r != 11 || w != 20 {
		t.Errorf("read %d write %d", r, w)
	}
}
