package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/monitor"
)

// minMemory is the smallest memory limit or reservation Docker accepts.
const minMemory = 6 << 20

// cpuPeriod is the CFS period --cpus is expressed in, as run sets it.
const cpuPeriod = 100000

// UpdateOptions are update's flags. A zero field leaves that setting as
// it is, as in Docker's API.
type UpdateOptions struct {
	Memory            int64  // bytes
	MemorySwap        int64  // memory plus swap, in bytes; -1: unlimited swap
	MemoryReservation int64  // bytes
	NanoCPUs          int64  // CPUs, in billionths
	CPUShares         int64  // relative weight
	CpusetCpus        string // "0-3", "0,1"
	PidsLimit         int64  // -1: no limit
	Restart           string // no, on-failure[:N], always, unless-stopped
}

// Update changes container c's limits and restart policy. The new values
// are recorded, so that inspect shows them and every later start applies
// them; on a running (or paused) container, the limits also take effect
// at once in its cgroup. When the kernel refuses a limit, nothing is
// recorded and the limits in effect are the ones before. It returns
// warnings for what could not take effect at once.
func (e *Engine) Update(c *metadata.Container, opts UpdateOptions) ([]string, error) {
	var policy monitor.RestartPolicy
	if opts.Restart != "" {
		p, err := ParseRestart(opts.Restart)
		if err != nil {
			return nil, err
		}
		policy = p
	}
	var oldRestart string
	var rec *metadata.Container
	// One transaction: two updates at once must not lose each other's
	// changes, and the cgroup is changed only if the record will be.
	err := e.DB.Update(func(tx *metadata.Tx) error {
		var err error
		if rec, err = tx.Container(c.ID); err != nil {
			return err
		}
		cfg, err := configOf(rec)
		if err != nil {
			return err
		}
		next, memStep, restStep, err := mergeUpdate(cfg.Resources, opts)
		if err != nil {
			return err
		}
		if opts.Restart != "" {
			if cfg.AutoRemove && policy.Name != "" && policy.Name != monitor.RestartNo {
				return errdefs.Conflictf("cannot update container %s: its restart policy cannot be changed because it was started with --rm", rec.Name)
			}
			oldRestart = cfg.Restart
			cfg.Restart = policy.String()
		}
		cfg.Resources = next
		if st := e.status(rec); st == StatusRunning || st == StatusPaused {
			if err := e.updateLive(rec, memStep, restStep, opts); err != nil {
				return err
			}
		}
		if rec.Config, err = json.Marshal(cfg); err != nil {
			return err
		}
		return tx.PutContainer(rec)
	})
	if err != nil {
		return nil, err
	}
	e.emit(rec, "update", nil)
	if opts.Restart == "" {
		return nil, nil
	}
	return e.updateRestart(rec, oldRestart, policy), nil
}

// updateLive applies the changed limits to running container rec's
// cgroup: the memory ones first, on their own, since a limit below what
// the container uses is the usual refusal; then the rest. If anything is
// refused, the memory limits go back to what they were.
func (e *Engine) updateLive(rec *metadata.Container, memStep, restStep *specs.LinuxResources, opts UpdateOptions) error {
	before, _ := e.Runtime.Spec(rec.ID)
	apply := func(step *specs.LinuxResources) error {
		if step == nil {
			return nil
		}
		err := e.Runtime.Update(rec.ID, step)
		if err != nil {
			if st := e.status(rec); st != StatusRunning && st != StatusPaused {
				return nil // it stopped meanwhile: the record is enough
			}
		}
		return err
	}
	undoMemory := func() {
		if undo := memoryUndo(before); memStep != nil && undo != nil {
			e.Runtime.Update(rec.ID, undo)
		}
	}
	if err := apply(memStep); err != nil {
		// The kernel may have taken memory+swap before it refused the
		// limit.
		undoMemory()
		return e.memoryRefused(rec, opts, err)
	}
	if err := apply(restStep); err != nil {
		undoMemory()
		return fmt.Errorf("cannot update container %s: %w", rec.Name, err)
	}
	return nil
}

// memoryRefused explains a memory limit the kernel refused. A limit below
// what the container uses fails with EBUSY once the kernel cannot reclaim
// enough (cgroup v1); say so with the usage, which is what the user needs.
func (e *Engine) memoryRefused(rec *metadata.Container, opts UpdateOptions, err error) error {
	if !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("cannot update container %s: %w", rec.Name, err)
	}
	flag, value := "--memory", opts.Memory
	if opts.Memory == 0 {
		flag, value = "--memory-swap", opts.MemorySwap
	}
	usage := "what it uses now"
	if st, serr := e.Runtime.Stats(rec.ID); serr == nil {
		usage = "what it uses now (" + units.BytesSize(float64(st.Memory.Usage.Usage)) + ")"
	}
	return errdefs.Conflictf("cannot update container %s: %s %s is below %s, and the kernel could not reclaim enough memory: %v",
		rec.Name, flag, units.BytesSize(float64(value)), usage, unix.EBUSY)
}

// memoryUndo is the update that puts back the memory limits of spec s.
func memoryUndo(s *specs.Spec) *specs.LinuxResources {
	if s == nil || s.Linux == nil {
		return nil
	}
	unlimited := int64(-1)
	m := &specs.LinuxMemory{Limit: &unlimited, Swap: &unlimited}
	if r := s.Linux.Resources; r != nil && r.Memory != nil {
		if r.Memory.Limit != nil {
			m.Limit = r.Memory.Limit
		}
		if r.Memory.Swap != nil {
			m.Swap = r.Memory.Swap
		}
	}
	return &specs.LinuxResources{Memory: m}
}

// updateRestart makes a new restart policy take effect. A detached
// container's monitor got its policy when it started and cannot be given
// another; but it can be told to restart no more, which is all that "no"
// asks. Any other change applies from the container's next start.
func (e *Engine) updateRestart(rec *metadata.Container, old string, p monitor.RestartPolicy) []string {
	if rec.State.Monitor <= 0 || !monitor.Running(rec.State.Monitor, rec.ID) {
		return nil
	}
	if p.Name == monitor.RestartNo || p.Name == "" {
		monitor.Stop(rec.State.Monitor, rec.ID)
		return nil
	}
	oldP, _ := ParseRestart(old)
	if oldP.String() == p.String() {
		return nil
	}
	return []string{fmt.Sprintf("restart policy %s of container %s takes effect when it is next started; until then it keeps %s",
		p.String(), rec.Name, oldP.String())}
}

// mergeUpdate lays opts over the container's resources cur, with Docker's
// rules. It returns the resources to record, and the changes to apply to
// a running container: the memory ones, and the rest (nil when none).
func mergeUpdate(cur *specs.LinuxResources, o UpdateOptions) (next, memStep, restStep *specs.LinuxResources, err error) {
	next = &specs.LinuxResources{}
	if cur != nil {
		// A deep copy: the record's resources are only replaced once
		// everything checks out.
		b, _ := json.Marshal(cur)
		json.Unmarshal(b, next)
	}
	if memStep, err = mergeMemory(next, o); err != nil {
		return nil, nil, nil, err
	}
	rest := &specs.LinuxResources{}
	if o.NanoCPUs != 0 || o.CPUShares != 0 || o.CpusetCpus != "" {
		if next.CPU == nil {
			next.CPU = &specs.LinuxCPU{}
		}
		step := &specs.LinuxCPU{}
		if o.NanoCPUs != 0 {
			if err := checkCPUs(o.NanoCPUs); err != nil {
				return nil, nil, nil, err
			}
			period, quota := uint64(cpuPeriod), o.NanoCPUs*cpuPeriod/1e9
			next.CPU.Period, next.CPU.Quota = &period, &quota
			step.Period, step.Quota = &period, &quota
		}
		if o.CPUShares != 0 {
			if o.CPUShares < 2 || o.CPUShares > 262144 {
				return nil, nil, nil, errdefs.Invalidf("--cpu-shares %d: want 2 to 262144", o.CPUShares)
			}
			shares := uint64(o.CPUShares)
			next.CPU.Shares, step.Shares = &shares, &shares
		}
		if o.CpusetCpus != "" {
			if err := checkCpuset(o.CpusetCpus); err != nil {
				return nil, nil, nil, err
			}
			next.CPU.Cpus, step.Cpus = o.CpusetCpus, o.CpusetCpus
		}
		rest.CPU = step
	}
	if o.PidsLimit != 0 {
		if o.PidsLimit < -1 {
			return nil, nil, nil, errdefs.Invalidf("--pids-limit %d: want a limit above 0, or -1 for none", o.PidsLimit)
		}
		n := o.PidsLimit
		next.Pids = &specs.LinuxPids{Limit: &n}
		rest.Pids = &specs.LinuxPids{Limit: &n}
	}
	if rest.CPU != nil || rest.Pids != nil {
		restStep = rest
	}
	return next, memStep, restStep, nil
}

// mergeMemory sets the memory limits of o in r and returns the change to
// apply, with Docker's rules: the memory+swap limit needs a memory limit
// and is never below it; a new memory limit above the memory+swap limit
// needs a new --memory-swap too. A container that had no memory limit
// gets twice the new one as memory+swap, as run gives it.
func mergeMemory(r *specs.LinuxResources, o UpdateOptions) (*specs.LinuxResources, error) {
	if o.Memory == 0 && o.MemorySwap == 0 && o.MemoryReservation == 0 {
		return nil, nil
	}
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	m := r.Memory
	limit, swap, reservation := deref(m.Limit), deref(m.Swap), deref(m.Reservation)
	if limit < 0 {
		limit = 0 // -1 is no limit
	}
	size := func(n int64) string { return units.BytesSize(float64(n)) }
	if o.Memory != 0 {
		if o.Memory < minMemory {
			return nil, errdefs.Invalidf("--memory %s: the minimum is 6MiB", size(o.Memory))
		}
		if o.MemorySwap == 0 {
			switch {
			case limit == 0 && swap <= 0 && swap != -1:
				swap = 2 * o.Memory
			case swap > 0 && o.Memory > swap:
				return nil, errdefs.Invalidf("--memory %s is above the memory+swap limit (%s): set --memory-swap too", size(o.Memory), size(swap))
			}
		}
		limit = o.Memory
	}
	if o.MemorySwap != 0 {
		if limit == 0 {
			return nil, errdefs.Invalidf("--memory-swap needs --memory, or a memory limit set before")
		}
		if o.MemorySwap != -1 && o.MemorySwap < limit {
			return nil, errdefs.Invalidf("--memory-swap %s is below the memory limit (%s): want -1 or a size no smaller", size(o.MemorySwap), size(limit))
		}
		swap = o.MemorySwap
	}
	if o.MemoryReservation != 0 {
		if o.MemoryReservation < minMemory {
			return nil, errdefs.Invalidf("--memory-reservation %s: the minimum is 6MiB", size(o.MemoryReservation))
		}
		reservation = o.MemoryReservation
	}
	if limit > 0 && reservation > limit {
		return nil, errdefs.Invalidf("--memory-reservation %s is above the memory limit (%s)", size(reservation), size(limit))
	}
	step := &specs.LinuxMemory{}
	if o.Memory != 0 || o.MemorySwap != 0 {
		// The limit and memory+swap go together, so that the cgroup code
		// can write them in the order the kernel accepts.
		l, s := limit, swap
		m.Limit, step.Limit = &l, &l
		if s != 0 {
			m.Swap, step.Swap = &s, &s
		}
	}
	if o.MemoryReservation != 0 {
		res := reservation
		m.Reservation, step.Reservation = &res, &res
	}
	return &specs.LinuxResources{Memory: step}, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// checkCPUs refuses a CPU quota below the kernel's minimum (1 ms per
// 100 ms) or above the host's CPUs, with Docker's message.
func checkCPUs(nano int64) error {
	n := onlineCPUs()
	if nano < 1e7 || nano > int64(n)*1e9 {
		return errdefs.Invalidf("--cpus: range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	return nil
}

// checkCpuset checks a CPU list ("0-3,5") against the host's online CPUs.
func checkCpuset(list string) error {
	want, err := parseCPUList(list)
	if err != nil {
		return errdefs.Invalidf("--cpuset-cpus %q: %v", list, err)
	}
	have := onlineCPUSet()
	if have == nil {
		return nil // the kernel will say
	}
	for _, cpu := range slices.Sorted(maps.Keys(want)) {
		if !have[cpu] {
			return errdefs.Invalidf("--cpuset-cpus %q: CPU %d is not available; the online CPUs are %s", list, cpu, onlineCPUList())
		}
	}
	return nil
}

// parseCPUList reads the kernel's CPU list format: "0-3,5,7-8".
func parseCPUList(s string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("want CPU numbers and ranges such as 0-3,5")
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("want CPU numbers and ranges such as 0-3,5")
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("range %s is too long", part)
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}

// onlineCPUList is the host's online CPUs, as the kernel lists them.
func onlineCPUList() string {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// onlineCPUSet is the host's online CPUs; nil when unknown.
func onlineCPUSet() map[int]bool {
	set, err := parseCPUList(onlineCPUList())
	if err != nil {
		return nil
	}
	return set
}

// onlineCPUs counts the host's online CPUs, as Docker's stats and --cpus
// count them.
func onlineCPUs() int {
	if set := onlineCPUSet(); len(set) > 0 {
		return len(set)
	}
	return runtime.NumCPU()
}
