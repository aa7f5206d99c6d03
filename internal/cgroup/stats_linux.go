package cgroup

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of cpuacct.stat: USER_HZ, 100 on every Linux
// architecture's user-visible ABI.
const userHZ = 100

// Stats reads the container's counters. Files the kernel does not provide
// are skipped; only unreadable or malformed files are errors.
func (m *Manager) Stats() (*Stats, error) {
	st := &Stats{Hugetlb: map[string]Hugetlb{}}
	var err error
	if m.mode == Unified {
		dir, _ := m.unifiedDir()
		err = statsV2(dir, st)
	} else {
		err = m.statsV1(st)
	}
	if err != nil {
		return nil, fmt.Errorf("read cgroup stats: %w", err)
	}
	return st, nil
}

func (m *Manager) statsV1(st *Stats) error {
	readers := []struct {
		ctrl string
		read func(string, *Stats) error
	}{
		{"cpuacct", cpuacctStatsV1},
		{"cpu", cpuStatsV1},
		{"memory", memoryStatsV1},
		{"pids", pidsStats},
		{"blkio", blkioStatsV1},
		{"hugetlb", hugetlbStatsV1},
	}
	for _, r := range readers {
		dir, ok := m.controllerDir(r.ctrl)
		if !ok {
			continue
		}
		if err := r.read(dir, st); err != nil {
			return err
		}
	}
	return nil
}

// readUintOpt reads a number, leaving *dst alone when the file is missing.
func readUintOpt(dir, name string, dst *uint64) error {
	v, err := readUint(dir, name)
	if err != nil {
		return optional(err)
	}
	*dst = v
	return nil
}

// readUints reads the numbers of a one-line list file.
func readUints(dir, name string) ([]uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return nil, optional(err)
	}
	var out []uint64
	for _, f := range strings.Fields(s) {
		v, err := parseUint(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
		}
		out = append(out, v)
	}
	return out, nil
}

func cpuacctStatsV1(dir string, st *Stats) error {
	u := &st.CPU.Usage
	if err := readUintOpt(dir, "cpuacct.usage", &u.Total); err != nil {
		return err
	}
	var err error
	if u.Percpu, err = readUints(dir, "cpuacct.usage_percpu"); err != nil {
		return err
	}
	// cpuacct.usage_all: a header line, then "cpu user system" rows.
	if s, err := readFile(dir, "cpuacct.usage_all"); err == nil {
		for _, line := range strings.Split(s, "\n")[1:] {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			user, uerr := parseUint(f[1])
			sys, serr := parseUint(f[2])
			if uerr != nil || serr != nil {
				return fmt.Errorf("read %s: bad line %q", filepath.Join(dir, "cpuacct.usage_all"), line)
			}
			u.PercpuUser = append(u.PercpuUser, user)
			u.PercpuKernel = append(u.PercpuKernel, sys)
		}
	}
	kv, err := readKV(dir, "cpuacct.stat")
	if err != nil {
		return optional(err)
	}
	u.User = kv["user"] * (1e9 / userHZ)
	u.Kernel = kv["system"] * (1e9 / userHZ)
	return nil
}

func cpuStatsV1(dir string, st *Stats) error {
	kv, err := readKV(dir, "cpu.stat")
	if err != nil {
		return optional(err)
	}
	st.CPU.Throttling = Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_time"],
	}
	return nil
}

func memoryStatsV1(dir string, st *Stats) error {
	raw, err := readKV(dir, "memory.stat")
	if err = optional(err); err != nil {
		return err
	}
	st.Memory.Raw = raw
	st.Memory.Cache = raw["cache"]
	for _, e := range []struct {
		prefix string
		dst    *MemoryEntry
	}{
		{"memory.", &st.Memory.Usage},
		{"memory.memsw.", &st.Memory.Swap},
		{"memory.kmem.", &st.Memory.Kernel},
		{"memory.kmem.tcp.", &st.Memory.KernelTCP},
	} {
		for _, f := range []struct {
			name string
			dst  *uint64
		}{
			{"usage_in_bytes", &e.dst.Usage},
			{"max_usage_in_bytes", &e.dst.Max},
			{"failcnt", &e.dst.Failcnt},
			{"limit_in_bytes", &e.dst.Limit},
		} {
			if err := readUintOpt(dir, e.prefix+f.name, f.dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// pidsStats reads pids.current and pids.max, the same in v1 and v2.
func pidsStats(dir string, st *Stats) error {
	if err := readUintOpt(dir, "pids.current", &st.Pids.Current); err != nil {
		return err
	}
	if err := readUintOpt(dir, "pids.max", &st.Pids.Limit); err != nil {
		return err
	}
	if st.Pids.Limit == math.MaxUint64 {
		st.Pids.Limit = 0
	}
	return nil
}

// blkioStatsV1 reads the first blkio file that exists for each counter:
// CFQ's, then BFQ's, then the throttling layer's (which counts all I/O).
func blkioStatsV1(dir string, st *Stats) error {
	b := &st.Blkio
	for _, c := range []struct {
		dst   *[]BlkioEntry
		files []string
	}{
		{&b.IoServiceBytesRecursive, []string{"blkio.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive",
			"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_service_bytes"}},
		{&b.IoServicedRecursive, []string{"blkio.io_serviced_recursive", "blkio.bfq.io_serviced_recursive",
			"blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced"}},
		{&b.IoQueuedRecursive, []string{"blkio.io_queued_recursive"}},
		{&b.IoServiceTimeRecursive, []string{"blkio.io_service_time_recursive"}},
		{&b.IoWaitTimeRecursive, []string{"blkio.io_wait_time_recursive"}},
		{&b.IoMergedRecursive, []string{"blkio.io_merged_recursive"}},
		{&b.IoTimeRecursive, []string{"blkio.time_recursive"}},
		{&b.SectorsRecursive, []string{"blkio.sectors_recursive"}},
	} {
		for _, name := range c.files {
			entries, err := readBlkioFile(dir, name)
			if err != nil {
				if optional(err) == nil {
					continue
				}
				return err
			}
			*c.dst = entries
			break
		}
	}
	return nil
}

// readBlkioFile parses "maj:min Op value" or "maj:min value" lines,
// skipping the "Total value" summary.
func readBlkioFile(dir, name string) ([]BlkioEntry, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries := []BlkioEntry{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.Contains(fields[0], ":") {
			continue
		}
		major, minor, err := parseDevNum(fields[0])
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
		}
		e := BlkioEntry{Major: major, Minor: minor}
		val := fields[1]
		if len(fields) == 3 {
			e.Op, val = fields[1], fields[2]
		}
		if e.Value, err = parseUint(val); err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
	}
	return entries, nil
}

func parseDevNum(s string) (major, minor uint64, err error) {
	a, b, _ := strings.Cut(s, ":")
	if major, err = strconv.ParseUint(a, 10, 64); err == nil {
		minor, err = strconv.ParseUint(b, 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("bad device number %q", s)
	}
	return major, minor, nil
}

// hugePageSizes lists the page sizes that have a file named
// hugetlb.<size><suffix> in dir, ignoring reservation files.
func hugePageSizes(dir, suffix string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "hugetlb.*"+suffix))
	var out []string
	for _, p := range matches {
		size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "hugetlb."), suffix)
		if !strings.Contains(size, ".") {
			out = append(out, size)
		}
	}
	return out
}

func hugetlbStatsV1(dir string, st *Stats) error {
	for _, size := range hugePageSizes(dir, ".limit_in_bytes") {
		var h Hugetlb
		p := "hugetlb." + size + "."
		for _, f := range []struct {
			name string
			dst  *uint64
		}{{"usage_in_bytes", &h.Usage}, {"max_usage_in_bytes", &h.Max}, {"failcnt", &h.Failcnt}} {
			if err := readUintOpt(dir, p+f.name, f.dst); err != nil {
				return err
			}
		}
		st.Hugetlb[size] = h
	}
	return nil
}

func statsV2(dir string, st *Stats) error {
	for _, read := range []func(string, *Stats) error{cpuStatsV2, memoryStatsV2, pidsStats, ioStatsV2, hugetlbStatsV2} {
		if err := read(dir, st); err != nil {
			return err
		}
	}
	return nil
}

func cpuStatsV2(dir string, st *Stats) error {
	kv, err := readKV(dir, "cpu.stat")
	if err != nil {
		return optional(err)
	}
	st.CPU.Usage.Total = kv["usage_usec"] * 1000
	st.CPU.Usage.User = kv["user_usec"] * 1000
	st.CPU.Usage.Kernel = kv["system_usec"] * 1000
	st.CPU.Throttling = Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_usec"] * 1000,
	}
	return nil
}

// memoryStatsV2 fills the v1-shaped memory stats from v2 files. Swap is
// reported as memory+swap like v1 does; SwapOnly has the swap alone.
func memoryStatsV2(dir string, st *Stats) error {
	raw, err := readKV(dir, "memory.stat")
	if err = optional(err); err != nil {
		return err
	}
	mem := &st.Memory
	mem.Raw = raw
	mem.Cache = raw["file"]
	for _, e := range []struct {
		prefix string
		dst    *MemoryEntry
	}{{"memory.", &mem.Usage}, {"memory.swap.", &mem.SwapOnly}} {
		for _, f := range []struct {
			name string
			dst  *uint64
		}{{"current", &e.dst.Usage}, {"max", &e.dst.Limit}, {"peak", &e.dst.Max}} {
			if err := readUintOpt(dir, e.prefix+f.name, f.dst); err != nil {
				return err
			}
		}
		ev, err := readKV(dir, e.prefix+"events")
		if err = optional(err); err != nil {
			return err
		}
		e.dst.Failcnt = ev["max"]
	}
	mem.Swap = mem.SwapOnly
	mem.Swap.Usage += mem.Usage.Usage
	if mem.Swap.Limit != math.MaxUint64 && mem.Usage.Limit != math.MaxUint64 {
		mem.Swap.Limit += mem.Usage.Limit
	} else {
		mem.Swap.Limit = math.MaxUint64
	}
	return nil
}

// ioStatsV2 parses io.stat lines ("8:0 rbytes=1 wbytes=2 rios=3 wios=4
// dbytes=0 dios=0") into the v1-shaped byte and operation counters.
func ioStatsV2(dir string, st *Stats) error {
	s, err := readFile(dir, "io.stat")
	if err != nil {
		return optional(err)
	}
	for _, line := range strings.Split(s, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		major, minor, err := parseDevNum(fields[0])
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(dir, "io.stat"), err)
		}
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			var dst *[]BlkioEntry
			var op string
			switch k {
			case "rbytes":
				dst, op = &st.Blkio.IoServiceBytesRecursive, "Read"
			case "wbytes":
				dst, op = &st.Blkio.IoServiceBytesRecursive, "Write"
			case "dbytes":
				dst, op = &st.Blkio.IoServiceBytesRecursive, "Discard"
			case "rios":
				dst, op = &st.Blkio.IoServicedRecursive, "Read"
			case "wios":
				dst, op = &st.Blkio.IoServicedRecursive, "Write"
			case "dios":
				dst, op = &st.Blkio.IoServicedRecursive, "Discard"
			default:
				continue
			}
			*dst = append(*dst, BlkioEntry{Major: major, Minor: minor, Op: op, Value: n})
		}
	}
	return nil
}

func hugetlbStatsV2(dir string, st *Stats) error {
	for _, size := range hugePageSizes(dir, ".max") {
		var h Hugetlb
		p := "hugetlb." + size + "."
		if err := readUintOpt(dir, p+"current", &h.Usage); err != nil {
			return err
		}
		ev, err := readKV(dir, p+"events")
		if err = optional(err); err != nil {
			return err
		}
		h.Failcnt = ev["max"]
		st.Hugetlb[size] = h
	}
	return nil
}
