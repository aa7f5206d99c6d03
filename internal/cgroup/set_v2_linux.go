package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func (m *Manager) setV2(r *specs.LinuxResources) error {
	dir, _ := m.unifiedDir()
	steps := []struct {
		name string
		set  func(string, *specs.LinuxResources) error
	}{
		{"cpuset", m.setCpusetV2},
		{"memory", m.setMemoryV2},
		{"cpu", m.setCPUV2},
		{"pids", m.setPidsV2},
		{"io", m.setIOV2},
		{"hugetlb", m.setHugetlbV2},
		{"rdma", m.setRdmaV2},
		{"devices", m.setDevicesV2},
		{"unified", m.setUnified},
	}
	for _, s := range steps {
		if err := s.set(dir, r); err != nil {
			return fmt.Errorf("set %s limits: %w", s.name, err)
		}
	}
	return nil
}

func (m *Manager) setCpusetV2(dir string, r *specs.LinuxResources) error {
	if r.CPU == nil {
		return nil
	}
	return m.writeCpuset(dir, r.CPU)
}

// swapV2 converts the OCI memory+swap limit to a cgroup v2 swap-only limit
// (memory.swap.max), as runc does. set is false when nothing is to be
// written. -1 means "max"; with an unlimited memory limit and no swap
// limit, swap is unlimited too; a swap limit equal to the memory limit
// gives 0, no swap at all.
func swapV2(swap, limit int64) (v int64, set bool, err error) {
	if limit == -1 && swap == 0 {
		return -1, true, nil
	}
	if swap == 0 {
		return 0, false, nil
	}
	if swap == -1 {
		return -1, true, nil
	}
	if limit == 0 || limit == -1 {
		return 0, false, errors.New("a memory+swap limit needs a memory limit")
	}
	if limit < 0 || swap < 0 {
		return 0, false, fmt.Errorf("invalid memory limits: memory %d, memory+swap %d", limit, swap)
	}
	if swap < limit {
		return 0, false, fmt.Errorf("memory+swap limit %d is below the memory limit %d", swap, limit)
	}
	return swap - limit, true, nil
}

// maxOr formats a limit where -1 means unlimited.
func maxOr(v int64) string {
	if v == -1 {
		return "max"
	}
	return itoa(v)
}

// setMemoryV2 writes memory.swap.max, memory.max and memory.low.
// Swappiness, the OOM-killer switch and kernel-memory limits have no v2
// counterpart and are ignored, like runc does.
func (m *Manager) setMemoryV2(dir string, r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	limit := deref(mem.Limit)
	swap, setSwap, err := swapV2(deref(mem.Swap), limit)
	if err != nil {
		return err
	}
	if setSwap {
		const file = "memory.swap.max"
		if !exists(dir, file) {
			if swap > 0 {
				return fmt.Errorf("swap limit requested but %s is missing (swap accounting is off in this kernel)", file)
			}
		} else if err := m.write(dir, file, maxOr(swap)); err != nil {
			return err
		}
	}
	if limit != 0 {
		if err := m.write(dir, "memory.max", maxOr(limit)); err != nil {
			return err
		}
	}
	if res := deref(mem.Reservation); res != 0 {
		if err := m.write(dir, "memory.low", maxOr(res)); err != nil {
			return err
		}
	}
	return nil
}

// sharesToWeight converts cgroup v1 cpu.shares [2, 262144] to cgroup v2
// cpu.weight [1, 10000] with runc's linear mapping; 0 stays "not set".
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// blkioToIOWeight converts a v1 blkio weight [10, 1000] to a cgroup v2
// io.weight [1, 10000]; 0 stays "not set".
func blkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	v := uint64(min(max(w, 10), 1000))
	return 1 + (v-10)*9999/990
}

// setCPUV2 writes cpu.weight, cpu.max, cpu.max.burst and cpu.idle. Burst
// and idle at their default (0) are skipped on kernels without them.
func (m *Manager) setCPUV2(dir string, r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if deref(c.RealtimeRuntime) != 0 || deref(c.RealtimePeriod) != 0 {
		return errors.New("realtime cpu limits need cgroup v1")
	}
	if w := sharesToWeight(deref(c.Shares)); w != 0 {
		if err := m.write(dir, "cpu.weight", utoa(w)); err != nil {
			return err
		}
	}
	if quota, period := deref(c.Quota), deref(c.Period); quota != 0 || period != 0 {
		v := "max"
		if quota > 0 {
			v = itoa(quota)
		}
		if period != 0 {
			v += " " + utoa(period)
		}
		if err := m.write(dir, "cpu.max", v); err != nil {
			return err
		}
	}
	if c.Burst != nil && (*c.Burst != 0 || exists(dir, "cpu.max.burst")) {
		if err := m.write(dir, "cpu.max.burst", utoa(*c.Burst)); err != nil {
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

func (m *Manager) setPidsV2(dir string, r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	return m.write(dir, "pids.max", pidsMax(*r.Pids.Limit))
}

// setIOV2 writes the io weight (BFQ's io.bfq.weight when the kernel has
// it, taking v1 weights as they are; else io.weight, converted) and io.max
// throttling, one line per device with every limit for it. Leaf weights
// were a CFQ feature and are ignored.
func (m *Manager) setIOV2(dir string, r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	bfq := exists(dir, "io.bfq.weight")
	weightLine := func(prefix string, w uint16) (string, string) {
		if bfq {
			return "io.bfq.weight", prefix + strconv.Itoa(int(w))
		}
		return "io.weight", prefix + utoa(blkioToIOWeight(w))
	}
	if b.Weight != nil && *b.Weight != 0 {
		file, line := weightLine("", *b.Weight)
		if err := m.write(dir, file, line); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight == nil || *wd.Weight == 0 {
			continue
		}
		file, line := weightLine(devNum(wd.LinuxBlockIODevice)+" ", *wd.Weight)
		if err := m.write(dir, file, line); err != nil {
			return err
		}
	}
	var order []string
	limits := map[string][]string{}
	for _, t := range []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			dev := devNum(d.LinuxBlockIODevice)
			if _, ok := limits[dev]; !ok {
				order = append(order, dev)
			}
			rate := utoa(d.Rate)
			if d.Rate == 0 {
				rate = "max" // 0 removes the limit, as it does in v1
			}
			limits[dev] = append(limits[dev], t.key+"="+rate)
		}
	}
	for _, dev := range order {
		if err := m.write(dir, "io.max", dev+" "+strings.Join(limits[dev], " ")); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) setHugetlbV2(dir string, r *specs.LinuxResources) error {
	return m.writeHugetlb(dir, r.HugepageLimits, "max")
}

func (m *Manager) setRdmaV2(dir string, r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	return m.writeRdma(dir, r.Rdma)
}

// setDevicesV2 installs an eBPF device filter built from r.Devices.
func (m *Manager) setDevicesV2(dir string, r *specs.LinuxResources) error {
	if r.Devices == nil {
		return nil
	}
	insts, err := deviceFilter(r.Devices)
	if err != nil {
		return err
	}
	return m.attachDevices(dir, insts)
}

// validUnifiedKey reports whether k names a plain file in the cgroup
// directory, such as "memory.high".
func validUnifiedKey(k string) bool {
	return k != "" && k != "." && k != ".." && !strings.ContainsAny(k, "/\x00")
}

// setUnified writes the OCI "unified" map verbatim, after the typed
// resources so that it can refine them. Keys are written in sorted order.
func (m *Manager) setUnified(dir string, r *specs.LinuxResources) error {
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		if !validUnifiedKey(k) {
			return fmt.Errorf("invalid unified key %q: want a plain file name", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := m.write(dir, k, r.Unified[k]); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				ctrl, _, _ := strings.Cut(k, ".")
				return fmt.Errorf("unified key %q: no such file; is the %s controller enabled? %w", k, ctrl, err)
			}
			return err
		}
	}
	return nil
}
