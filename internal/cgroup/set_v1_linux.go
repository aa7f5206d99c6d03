package cgroup

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func (m *Manager) setV1(r *specs.LinuxResources) error {
	if len(r.Unified) > 0 {
		return errors.New("set unified resources: they need cgroup v2, this host runs cgroup v1")
	}
	steps := []struct {
		name string
		set  func(*specs.LinuxResources) error
	}{
		{"cpuset", m.setCpusetV1},
		{"devices", m.setDevicesV1},
		{"memory", m.setMemoryV1},
		{"cpu", m.setCPUV1},
		{"pids", m.setPidsV1},
		{"blkio", m.setBlkioV1},
		{"hugetlb", m.setHugetlbV1},
		{"network", m.setNetworkV1},
		{"rdma", m.setRdmaV1},
	}
	for _, s := range steps {
		if err := s.set(r); err != nil {
			return fmt.Errorf("set %s limits: %w", s.name, err)
		}
	}
	return nil
}

func (m *Manager) setCpusetV1(r *specs.LinuxResources) error {
	if r.CPU == nil || (r.CPU.Cpus == "" && r.CPU.Mems == "") {
		return nil
	}
	dir, err := m.needDir("cpuset")
	if err != nil {
		return err
	}
	return m.writeCpuset(dir, r.CPU)
}

// writeCpuset writes the CPUs and memory nodes that are set; the files
// have the same names on v1 and v2.
func (m *Manager) writeCpuset(dir string, c *specs.LinuxCPU) error {
	if c.Cpus != "" {
		if err := m.write(dir, "cpuset.cpus", c.Cpus); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		return m.write(dir, "cpuset.mems", c.Mems)
	}
	return nil
}

func (m *Manager) setDevicesV1(r *specs.LinuxResources) error {
	if r.Devices == nil {
		return nil
	}
	dir, err := m.needDir("devices")
	if err != nil {
		return err
	}
	current, _ := readFile(dir, "devices.list")
	writes, err := v1DeviceWrites(r.Devices, current)
	if err != nil {
		return err
	}
	for _, w := range writes {
		if err := m.write(dir, w.file, w.line); err != nil {
			return err
		}
	}
	return nil
}

// setMemoryV1 writes memory and memory+swap limits in the order the kernel
// accepts (the memory limit may never exceed memory.memsw.limit_in_bytes):
// when the new swap limit is above the current memory limit, memsw goes
// first, otherwise the memory limit does. A limit of 0 means "not set".
// The kernel-memory limit is ignored: kernels since 5.16 reject it and
// cgroup v2 has no equivalent.
func (m *Manager) setMemoryV1(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	dir, err := m.needDir("memory")
	if err != nil {
		return err
	}
	limit, swap := deref(mem.Limit), deref(mem.Swap)
	const memsw = "memory.memsw.limit_in_bytes"
	haveSwap := exists(dir, memsw)
	if limit == -1 && swap == 0 && haveSwap {
		swap = -1 // unlimited memory means unlimited swap too
	}
	if limit > 0 && swap > 0 && swap < limit {
		return fmt.Errorf("memory+swap limit %d is below the memory limit %d", swap, limit)
	}
	if swap != 0 && !haveSwap {
		if swap != -1 && swap != limit {
			return fmt.Errorf("memory+swap limit %d requested but %s is missing (swap accounting is off in this kernel)", swap, memsw)
		}
		swap = 0 // no swap accounting: nothing limits swap anyway
	}
	setLimit := func() error {
		if limit == 0 {
			return nil
		}
		return m.write(dir, "memory.limit_in_bytes", itoa(limit))
	}
	setSwap := func() error {
		if swap == 0 {
			return nil
		}
		return m.write(dir, memsw, itoa(swap))
	}
	first, second := setLimit, setSwap
	if limit != 0 && swap != 0 {
		cur, err := readUint(dir, "memory.limit_in_bytes")
		if err != nil {
			return err
		}
		if swap == -1 || cur < uint64(swap) {
			first, second = setSwap, setLimit
		}
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	if mem.Reservation != nil && *mem.Reservation != 0 {
		if err := m.write(dir, "memory.soft_limit_in_bytes", itoa(*mem.Reservation)); err != nil {
			return err
		}
	}
	if mem.KernelTCP != nil && *mem.KernelTCP != 0 {
		if err := m.write(dir, "memory.kmem.tcp.limit_in_bytes", itoa(*mem.KernelTCP)); err != nil {
			return err
		}
	}
	if mem.Swappiness != nil {
		if *mem.Swappiness > 100 {
			return fmt.Errorf("invalid swappiness %d: want 0 to 100", *mem.Swappiness)
		}
		if err := m.write(dir, "memory.swappiness", utoa(*mem.Swappiness)); err != nil {
			return err
		}
	}
	if mem.UseHierarchy != nil {
		if err := m.write(dir, "memory.use_hierarchy", boolString(*mem.UseHierarchy)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil {
		if err := m.write(dir, "memory.oom_control", boolString(*mem.DisableOOMKiller)); err != nil {
			return err
		}
	}
	return nil
}

// setCPUV1 writes cpu shares, CFS bandwidth, burst, realtime and idle.
// Burst and idle are newer kernel features: asking for their default (0)
// on a kernel without them is not an error.
func (m *Manager) setCPUV1(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil || (c.Shares == nil && c.Quota == nil && c.Period == nil && c.Burst == nil &&
		c.RealtimePeriod == nil && c.RealtimeRuntime == nil && c.Idle == nil) {
		return nil
	}
	dir, err := m.needDir("cpu")
	if err != nil {
		return err
	}
	if shares := deref(c.Shares); shares != 0 {
		if err := m.write(dir, "cpu.shares", utoa(shares)); err != nil {
			return err
		}
		got, err := readUint(dir, "cpu.shares")
		if err == nil && got != shares {
			return fmt.Errorf("cpu shares %d out of range: the kernel set %d", shares, got)
		}
	}
	// A period shorter than the current one may be refused (EINVAL) while
	// the old quota is in place; then it is retried after the quota.
	period, quota := deref(c.Period), deref(c.Quota)
	retryPeriod := false
	if period != 0 {
		if err := m.write(dir, "cpu.cfs_period_us", utoa(period)); err != nil {
			if !errors.Is(err, unix.EINVAL) || quota == 0 {
				return err
			}
			retryPeriod = true
		}
	}
	if quota != 0 {
		if err := m.write(dir, "cpu.cfs_quota_us", itoa(quota)); err != nil {
			return err
		}
		if retryPeriod {
			if err := m.write(dir, "cpu.cfs_period_us", utoa(period)); err != nil {
				return err
			}
		}
	}
	if c.Burst != nil && (*c.Burst != 0 || exists(dir, "cpu.cfs_burst_us")) {
		if err := m.write(dir, "cpu.cfs_burst_us", utoa(*c.Burst)); err != nil {
			return err
		}
	}
	if p := deref(c.RealtimePeriod); p != 0 {
		if err := m.write(dir, "cpu.rt_period_us", utoa(p)); err != nil {
			return err
		}
	}
	if rt := deref(c.RealtimeRuntime); rt != 0 {
		if err := m.write(dir, "cpu.rt_runtime_us", itoa(rt)); err != nil {
			return err
		}
	}
	if c.Idle != nil && (*c.Idle != 0 || exists(dir, "cpu.idle")) {
		if err := m.write(dir, "cpu.idle", itoa(*c.Idle)); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) setPidsV1(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	dir, err := m.needDir("pids")
	if err != nil {
		return err
	}
	return m.write(dir, "pids.max", pidsMax(*r.Pids.Limit))
}

// setBlkioV1 writes blkio weights (CFQ's blkio.weight or, on newer
// kernels, BFQ's blkio.bfq.weight) and throttling limits.
func (m *Manager) setBlkioV1(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	dir, err := m.needDir("blkio")
	if err != nil {
		return err
	}
	weightFile, weightDevFile := "blkio.weight", "blkio.weight_device"
	if !exists(dir, weightFile) && exists(dir, "blkio.bfq.weight") {
		weightFile, weightDevFile = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	// A weight of 0 means "not set": Docker always sends one.
	if b.Weight != nil && *b.Weight != 0 {
		if err := m.write(dir, weightFile, strconv.Itoa(int(*b.Weight))); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := m.write(dir, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight))); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			if err := m.write(dir, weightDevFile, devNum(wd.LinuxBlockIODevice)+" "+strconv.Itoa(int(*wd.Weight))); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := m.write(dir, "blkio.leaf_weight_device", devNum(wd.LinuxBlockIODevice)+" "+strconv.Itoa(int(*wd.LeafWeight))); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			if err := m.write(dir, t.file, devNum(d.LinuxBlockIODevice)+" "+utoa(d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// pageSizeRE matches the OCI hugepage size format ("2MB", "1GB", "64KB").
var pageSizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+[KMGTPE]?B$`) })

// setHugetlbV1 writes hugetlb limits, and the reservation limits too
// where the kernel has them, as the OCI spec asks.
func (m *Manager) setHugetlbV1(r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	dir, err := m.needDir("hugetlb")
	if err != nil {
		return err
	}
	return m.writeHugetlb(dir, r.HugepageLimits, "limit_in_bytes")
}

// writeHugetlb writes each limit to hugetlb.SIZE.SUFFIX, and to the
// reservation limit hugetlb.SIZE.rsvd.SUFFIX where the kernel has it.
func (m *Manager) writeHugetlb(dir string, limits []specs.LinuxHugepageLimit, suffix string) error {
	for _, l := range limits {
		if !pageSizeRE().MatchString(l.Pagesize) {
			return fmt.Errorf("invalid hugepage size %q", l.Pagesize)
		}
		if err := m.write(dir, "hugetlb."+l.Pagesize+"."+suffix, utoa(l.Limit)); err != nil {
			return err
		}
		if rsvd := "hugetlb." + l.Pagesize + ".rsvd." + suffix; exists(dir, rsvd) {
			if err := m.write(dir, rsvd, utoa(l.Limit)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setNetworkV1 writes the net_cls class ID and net_prio priorities when
// those controllers are mounted, and ignores them otherwise: they only
// tag traffic for the host's own tc and qdisc setup.
func (m *Manager) setNetworkV1(r *specs.LinuxResources) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if dir, ok := m.controllerDir("net_cls"); ok && n.ClassID != nil {
		if err := m.write(dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	if dir, ok := m.controllerDir("net_prio"); ok {
		for _, p := range n.Priorities {
			if err := m.write(dir, "net_prio.ifpriomap", p.Name+" "+strconv.FormatUint(uint64(p.Priority), 10)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Manager) setRdmaV1(r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	dir, err := m.needDir("rdma")
	if err != nil {
		return err
	}
	return m.writeRdma(dir, r.Rdma)
}

// writeRdma writes rdma.max, which has the same format in v1 and v2.
func (m *Manager) writeRdma(dir string, limits map[string]specs.LinuxRdma) error {
	names := make([]string, 0, len(limits))
	for name := range limits {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		l := limits[name]
		line := name
		if l.HcaHandles != nil {
			line += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			line += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if line == name {
			continue
		}
		if err := m.write(dir, "rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}

// pidsMax formats an OCI pids limit: zero or negative means no limit.
func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return itoa(limit)
}

func devNum(d specs.LinuxBlockIODevice) string {
	return itoa(d.Major) + ":" + itoa(d.Minor)
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
