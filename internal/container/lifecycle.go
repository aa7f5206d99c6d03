package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/cgroup"
	"berth/internal/errdefs"
)

func (r *Runtime) cgroupOf(rec *record) (*cgroup.Manager, error) {
	if rec.Cgroup != nil && len(rec.Cgroup.Dirs) > 0 {
		return cgroup.Restore(rec.Cgroup), nil
	}
	return cgroup.NewRelativeTo(rec.CgroupsPath, rec.ID, rec.CreatorCgroups)
}

// Start lets a created container's init execute the process, then runs
// the poststart hooks.
func (r *Runtime) Start(id string) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	return r.start(rec)
}

func (r *Runtime) start(rec *record) error {
	id := rec.ID
	if st := r.status(rec); st != specs.StateCreated {
		return errdefs.Conflictf("cannot start container %s: it is %s, not created", id, st)
	}
	fifo := filepath.Join(r.dir(id), execFifo)
	f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errdefs.Conflictf("container %s was already started", id)
		}
		return fmt.Errorf("open exec fifo: %w", err)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("read exec fifo: %w", err)
	}
	os.Remove(fifo)
	if len(b) == 0 {
		// The init reports on the container's stderr why it stopped.
		return fmt.Errorf("container %s: its init exited before start", id)
	}
	if rec.Spec.Hooks != nil && len(rec.Spec.Hooks.Poststart) > 0 {
		if err := runHooks(rec.Spec.Hooks.Poststart, rec.specState(specs.StateRunning)); err != nil {
			// The spec: a failing poststart hook is a warning; the
			// container keeps running.
			fmt.Fprintf(os.Stderr, "warning: poststart hook: %v\n", err)
		}
	}
	return nil
}

// Kill sends sig to the container's init, or with all to every process
// in its cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	st := r.status(rec)
	if st == specs.StateStopped && !all {
		return errdefs.Conflictf("container %s is not running", id)
	}
	if all {
		return r.killAll(rec, sig)
	}
	if err := unix.Kill(rec.Pid, sig); err != nil {
		return fmt.Errorf("kill container %s: %w", id, err)
	}
	return nil
}

func (r *Runtime) killAll(rec *record, sig unix.Signal) error {
	cg, err := r.cgroupOf(rec)
	if err != nil {
		return err
	}
	// Freeze first so that no process forks away while being killed.
	frozen := cg.Freeze() == nil
	pids, err := cg.Pids()
	for _, pid := range pids {
		unix.Kill(pid, sig)
	}
	if frozen {
		cg.Thaw()
	}
	return err
}

// DeleteOptions tune Delete.
type DeleteOptions struct {
	// Force kills a container that still runs.
	Force bool
}

// Delete removes a stopped (or created) container: its processes, cgroup
// and state, then runs the poststop hooks.
func (r *Runtime) Delete(id string, opts DeleteOptions) error {
	rec, err := r.load(id)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) && opts.Force {
			// A create killed part-way leaves a directory without
			// state.json; nothing in it runs.
			if ValidateID(id) == nil {
				os.RemoveAll(r.dir(id))
			}
			return nil
		}
		return err
	}
	return r.delete(rec, opts)
}

func (r *Runtime) delete(rec *record, opts DeleteOptions) error {
	id := rec.ID
	st := r.status(rec)
	switch st {
	case specs.StateStopped, specs.StateCreated:
	default:
		if !opts.Force {
			return errdefs.Conflictf("cannot delete container %s that is not stopped: %s", id, st)
		}
	}
	if st != specs.StateStopped {
		r.killAll(rec, unix.SIGKILL)
		if rec.alive() {
			unix.Kill(rec.Pid, unix.SIGKILL)
		}
		waitGone(rec, 5*time.Second)
	} else if !hasNamespace(rec.Spec, specs.PIDNamespace) || nsPath(rec.Spec, specs.PIDNamespace) != "" {
		// Without a pid namespace of its own, the init's death does not
		// take its children with it.
		r.killAll(rec, unix.SIGKILL)
	}
	if cg, err := r.cgroupOf(rec); err == nil {
		if err := cg.Destroy(); err != nil {
			return fmt.Errorf("remove cgroup of %s: %w", id, err)
		}
	}
	if err := os.RemoveAll(r.dir(id)); err != nil {
		return fmt.Errorf("remove state of %s: %w", id, err)
	}
	if rec.Spec.Hooks != nil && len(rec.Spec.Hooks.Poststop) > 0 {
		if err := runHooks(rec.Spec.Hooks.Poststop, rec.specState(specs.StateStopped)); err != nil {
			fmt.Fprintf(os.Stderr, "warning: poststop hook: %v\n", err)
		}
	}
	return nil
}

func waitGone(rec *record, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for rec.alive() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// Pause freezes every process of a running container.
func (r *Runtime) Pause(id string) error {
	rec, cg, err := r.running(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != specs.StateRunning {
		return errdefs.Conflictf("container %s is %s, not running", id, st)
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	rec, cg, err := r.running(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != StatusPaused {
		return errdefs.Conflictf("container %s is %s, not paused", id, st)
	}
	return cg.Thaw()
}

func (r *Runtime) running(id string) (*record, *cgroup.Manager, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, nil, err
	}
	if !rec.alive() {
		return nil, nil, errdefs.Conflictf("container %s is not running", id)
	}
	cg, err := r.cgroupOf(rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, cg, nil
}

// Update changes the resources of a live container and records them so
// that later commands see the new values.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	rec, cg, err := r.running(id)
	if err != nil {
		return err
	}
	if res.Devices != nil {
		// A new device policy gets the same defaults as at create.
		res.Devices = cgroupResources(&specs.Spec{Linux: &specs.Linux{
			Resources: &specs.LinuxResources{Devices: res.Devices}, Devices: rec.Spec.Linux.Devices,
		}}).Devices
	}
	if err := cg.Set(res); err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	mergeResources(rec.Spec, res)
	rec.specJSON = nil
	return r.save(rec)
}

// mergeResources folds an update into the recorded spec, field by field:
// an update names only what changes.
func mergeResources(s *specs.Spec, u *specs.LinuxResources) {
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	cur := s.Linux.Resources
	if u.Memory != nil {
		if cur.Memory == nil {
			cur.Memory = &specs.LinuxMemory{}
		}
		m := u.Memory
		setIf(&cur.Memory.Limit, m.Limit)
		setIf(&cur.Memory.Reservation, m.Reservation)
		setIf(&cur.Memory.Swap, m.Swap)
	}
	if u.CPU != nil {
		if cur.CPU == nil {
			cur.CPU = &specs.LinuxCPU{}
		}
		c := u.CPU
		setIf(&cur.CPU.Shares, c.Shares)
		setIf(&cur.CPU.Quota, c.Quota)
		setIf(&cur.CPU.Period, c.Period)
		if c.Cpus != "" {
			cur.CPU.Cpus = c.Cpus
		}
		if c.Mems != "" {
			cur.CPU.Mems = c.Mems
		}
	}
	if u.Pids != nil {
		cur.Pids = u.Pids
	}
	if u.BlockIO != nil {
		cur.BlockIO = u.BlockIO
	}
	if u.Unified != nil {
		cur.Unified = u.Unified
	}
}

func setIf[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

// Pids lists the host pids of every process in the container.
func (r *Runtime) Pids(id string) ([]int, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	cg, err := r.cgroupOf(rec)
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// Stats returns the container's cgroup statistics.
func (r *Runtime) Stats(id string) (*cgroup.Stats, error) {
	_, cg, err := r.running(id)
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// Spec returns the spec a container was created with, as updated since.
func (r *Runtime) Spec(id string) (*specs.Spec, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return rec.Spec, nil
}
