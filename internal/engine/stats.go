package engine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"berth/internal/cgroup"
	"berth/internal/metadata"
)

// ContainerStats is one reading of a container's resource use, with the
// figures `stats` shows. A container that is not running reads as zeros.
type ContainerStats struct {
	ID, Name string
	Running  bool
	Read     time.Time
	// CPU is the container's CPU time and System the host's, in
	// nanoseconds summed over all CPUs. CPU % is the growth of the one
	// over the growth of the other between two readings.
	CPU, System uint64
	OnlineCPUs  int
	// Memory is the usage less the inactive file cache, as Docker 20 and
	// later count it; MemoryLimit is the host's memory when the
	// container has no lower limit.
	Memory, MemoryLimit   uint64
	NetRx, NetTx          uint64 // bytes, every interface but loopback
	BlockRead, BlockWrite uint64 // bytes
	Pids                  uint64
}

// Stats reads container c's resource use now.
func (e *Engine) Stats(c *metadata.Container) (*ContainerStats, error) {
	s := &ContainerStats{ID: c.ID, Name: c.Name, Read: time.Now()}
	if st := e.status(c); st != StatusRunning && st != StatusPaused {
		return s, nil
	}
	cg, err := e.Runtime.Stats(c.ID)
	if err != nil {
		if st := e.status(c); st != StatusRunning && st != StatusPaused {
			return s, nil // it stopped meanwhile
		}
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	s.Running = true
	if s.System, err = systemCPU(); err != nil {
		return nil, err
	}
	s.OnlineCPUs = onlineCPUs()
	s.CPU = cg.CPU.Usage.Total
	s.Memory = memoryNoCache(&cg.Memory)
	s.MemoryLimit = cg.Memory.Usage.Limit
	if host := hostMemory(); host > 0 && (s.MemoryLimit == 0 || s.MemoryLimit > host) {
		s.MemoryLimit = host
	}
	s.BlockRead, s.BlockWrite = blockIO(&cg.Blkio)
	s.Pids = cg.Pids.Current
	if rs, err := e.Runtime.State(c.ID); err == nil && rs.Pid > 0 {
		// The init's network namespace is the container's. A process
		// that is gone leaves the counters at zero.
		if f, err := os.Open("/proc/" + strconv.Itoa(rs.Pid) + "/net/dev"); err == nil {
			s.NetRx, s.NetTx = netDev(f)
			f.Close()
		}
	}
	return s, nil
}

// CPUPercent is the container's CPU use between reading prev and s, in
// percent of one CPU, as Docker computes it: the container's CPU time
// over the host's, times the number of CPUs.
func (s *ContainerStats) CPUPercent(prev *ContainerStats) float64 {
	if prev == nil || !prev.Running || !s.Running || s.CPU < prev.CPU || s.System <= prev.System {
		return 0
	}
	cpu := float64(s.CPU - prev.CPU)
	system := float64(s.System - prev.System)
	return cpu / system * float64(s.OnlineCPUs) * 100
}

// MemoryPercent is the memory usage in percent of the limit.
func (s *ContainerStats) MemoryPercent() float64 {
	if s.MemoryLimit == 0 {
		return 0
	}
	return float64(s.Memory) / float64(s.MemoryLimit) * 100
}

// memoryNoCache is the usage less the inactive file cache, which the
// kernel drops first: total_inactive_file on cgroup v1, inactive_file on
// v2, as Docker's CLI subtracts them.
func memoryNoCache(m *cgroup.Memory) uint64 {
	usage := m.Usage.Usage
	if v, ok := m.Raw["total_inactive_file"]; ok {
		if v < usage {
			return usage - v
		}
		return usage
	}
	if v := m.Raw["inactive_file"]; v < usage {
		return usage - v
	}
	return usage
}

// blockIO sums the bytes read and written over every device.
func blockIO(b *cgroup.Blkio) (read, write uint64) {
	for _, en := range b.IoServiceBytesRecursive {
		switch strings.ToLower(en.Op) {
		case "read":
			read += en.Value
		case "write":
			write += en.Value
		}
	}
	return read, write
}

// netDev sums the received and sent bytes of /proc/PID/net/dev, leaving
// out loopback, whose traffic never leaves the container.
func netDev(r io.Reader) (rx, tx uint64) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, counters, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue // the two header lines have no colon
		}
		f := strings.Fields(counters)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx, tx = rx+r, tx+t
		}
	}
	return rx, tx
}

// clockTicks is USER_HZ, the unit of /proc/stat.
const clockTicks = 100

// systemCPU is the host's CPU time in nanoseconds: the first seven
// fields of /proc/stat's "cpu" line (user to softirq), as Docker sums
// them.
func systemCPU() (uint64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseSystemCPU(f)
}

func parseSystemCPU(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[0] != "cpu" {
			continue
		}
		var ticks uint64
		for _, v := range f[1:8] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat: bad cpu line %q", sc.Text())
			}
			ticks += n
		}
		return ticks * (1e9 / clockTicks), nil
	}
	return 0, fmt.Errorf("/proc/stat: no cpu line")
}

// hostMemory is the host's RAM in bytes; 0 when unknown.
func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}
