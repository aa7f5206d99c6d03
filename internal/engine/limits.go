package engine

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/errdefs"
)

// Limits are a container's quotas with Docker's meanings, as run's
// flags and a compose file's service give them: MemorySwap is memory
// plus swap (twice Memory unless set, -1 for unlimited swap).
type Limits struct {
	Memory, MemorySwap, MemoryReservation int64
	// CPUs is a number of CPUs (1.5); 0 leaves the quota unset.
	CPUs       float64
	CPUShares  int64
	CpusetCpus string
	// PidsLimit is nil when not asked for; -1 is unlimited.
	PidsLimit *int64
}

// Resources checks the limits and turns them into OCI resources, nil
// when none is set. Errors name run's flags.
func (l Limits) Resources() (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	set := false
	if l.Memory != 0 {
		n := l.Memory
		if n < 6<<20 {
			return nil, errdefs.Invalidf("--memory %d: want a size of at least 6m, such as 64m", n)
		}
		swap := 2 * n
		if l.MemorySwap != 0 {
			if swap = l.MemorySwap; swap != -1 && swap < n {
				return nil, errdefs.Invalidf("--memory-swap %d: want -1 or a size no smaller than --memory", swap)
			}
		}
		r.Memory = &specs.LinuxMemory{Limit: &n, Swap: &swap}
		set = true
	} else if l.MemorySwap != 0 {
		return nil, errdefs.Invalidf("--memory-swap needs --memory")
	}
	if l.MemoryReservation != 0 {
		n := l.MemoryReservation
		if n < 0 {
			return nil, errdefs.Invalidf("--memory-reservation %d: want a size such as 32m", n)
		}
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if r.Memory.Limit != nil && n > *r.Memory.Limit {
			return nil, errdefs.Invalidf("--memory-reservation %d: it must be below --memory", n)
		}
		r.Memory.Reservation = &n
		set = true
	}
	if l.CPUs != 0 || l.CPUShares != 0 || l.CpusetCpus != "" {
		r.CPU = &specs.LinuxCPU{Cpus: l.CpusetCpus}
		if l.CPUs != 0 {
			if l.CPUs < 0 {
				return nil, errdefs.Invalidf("--cpus %v: want a number above 0", l.CPUs)
			}
			period := uint64(100000)
			quota := int64(l.CPUs * float64(period))
			r.CPU.Period, r.CPU.Quota = &period, &quota
		}
		if l.CPUShares != 0 {
			if l.CPUShares < 2 {
				return nil, errdefs.Invalidf("--cpu-shares %d: want at least 2", l.CPUShares)
			}
			shares := uint64(l.CPUShares)
			r.CPU.Shares = &shares
		}
		set = true
	}
	if l.PidsLimit != nil {
		n := *l.PidsLimit
		if n == 0 {
			return nil, errdefs.Invalidf("--pids-limit 0: want a limit above 0, or -1 for none")
		}
		r.Pids = &specs.LinuxPids{Limit: &n}
		set = true
	}
	if !set {
		return nil, nil
	}
	return r, nil
}
