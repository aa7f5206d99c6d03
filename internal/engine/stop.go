package engine

import (
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/monitor"
	"berth/internal/signals"
)

// Kill sends sig to container c's process.
func (e *Engine) Kill(c *metadata.Container, sig unix.Signal) error {
	if st := e.status(c); st != StatusRunning && st != StatusPaused {
		return errdefs.Conflictf("cannot kill container: %s: container %s is not running", c.Name, shortID(c.ID))
	}
	if err := e.Runtime.Kill(c.ID, sig, false); err != nil {
		return err
	}
	e.emit(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	return nil
}

// Stop stops container c as Docker does: its stop signal (SIGTERM by
// default), then SIGKILL to every process after timeout seconds (nil:
// the container's own, else 10). A container that is not running is
// already stopped.
func (e *Engine) Stop(c *metadata.Container, timeout *int) error {
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	e.stopMonitor(c)
	if st := e.status(c); st != StatusRunning && st != StatusPaused {
		return nil
	}
	wait := 10
	if cfg.StopTimeout != nil {
		wait = *cfg.StopTimeout
	}
	if timeout != nil {
		wait = *timeout
	}
	sig := unix.SIGTERM
	if cfg.StopSignal != "" {
		if s, err := signals.Parse(cfg.StopSignal); err == nil {
			sig = s
		}
	}
	if e.status(c) == StatusPaused {
		e.Runtime.Resume(c.ID)
	}
	code := 128 + int(sig)
	if wait > 0 {
		e.Runtime.Kill(c.ID, sig, false)
		deadline := time.Now().Add(time.Duration(wait) * time.Second)
		for time.Now().Before(deadline) && e.status(c) == StatusRunning {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if e.status(c) == StatusRunning {
		code = 128 + int(unix.SIGKILL)
		e.Runtime.Kill(c.ID, unix.SIGKILL, true)
		for i := 0; i < 250 && e.status(c) == StatusRunning; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A detached container's monitor records the exit and cleans up;
	// give it a moment, and do it here when there is no monitor.
	for i := 0; i < 250 && monitor.Running(c.State.Monitor, c.ID); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if ex, err := monitor.ReadExit(e.ExitPath(c.ID)); err == nil && !ex.FinishedAt.Before(c.State.StartedAt) {
		code = ex.Code
	}
	return e.finish(c, code)
}

// finish records a stopped container's end, unless its monitor did, and
// releases what only a running container needs.
func (e *Engine) finish(c *metadata.Container, code int) error {
	e.Runtime.Delete(c.ID, deleteForce)
	e.unmountRootfs(c.ID)
	e.netDown(c)
	return e.update(c.ID, func(rec *metadata.Container) error {
		if rec.State.Status == StatusRunning {
			rec.State.Status = StatusExited
			rec.State.ExitCode = code
			rec.State.FinishedAt = time.Now().UTC()
		}
		return nil
	})
}

// stopMonitor tells a detached container's monitor not to restart it.
func (e *Engine) stopMonitor(c *metadata.Container) {
	if c.State.Monitor > 0 {
		monitor.Stop(c.State.Monitor, c.ID)
	}
}

// RemoveOptions are rm's flags.
type RemoveOptions struct {
	Force bool
	// Purge frees the container at once instead of keeping it in the
	// trash for the grace period.
	Purge bool
	// fromCleanup is set when the monitor's own cleanup removes a --rm
	// container: the monitor waits for it, so Remove must not wait for
	// the monitor.
	fromCleanup bool
	// Volumes removes the container's anonymous volumes too (rm -v).
	Volumes bool
}

// Remove deletes container c: its record, name, writable layer and logs.
// A running container needs Force, which kills it first.
func (e *Engine) Remove(c *metadata.Container, opts RemoveOptions) error {
	st := e.status(c)
	switch st {
	case StatusRunning, StatusPaused, StatusRestarting:
		if !opts.Force {
			return errdefs.Conflictf("you cannot remove a %s container %s. Stop the container before attempting removal or force remove", st, shortID(c.ID))
		}
		e.stopMonitor(c)
		if st == StatusPaused {
			e.Runtime.Resume(c.ID)
		}
		e.Runtime.Kill(c.ID, unix.SIGKILL, true)
	}
	if !opts.fromCleanup && c.State.Monitor > 0 && monitor.Running(c.State.Monitor, c.ID) {
		// The monitor still writes the log and the exit file, then runs
		// the cleanup: removing the directory under it would race it.
		e.waitMonitor(c)
		if _, err := e.Lookup(c.ID); errdefs.IsNotFound(err) {
			return nil // a --rm container, removed by its cleanup
		}
	}
	if err := e.Runtime.Delete(c.ID, deleteForce); err != nil && !isNotFound(err) {
		return err
	}
	if err := e.unmountRootfs(c.ID); err != nil {
		return err
	}
	if err := e.netDown(c); err != nil {
		return err
	}
	// A container run with --rm asked to be thrown away; others go to
	// the trash, whence `container restore` brings them back.
	keep := !opts.Purge && trashTime() > 0
	cfg, cfgErr := configOf(c)
	if cfgErr == nil && cfg.AutoRemove {
		keep = false
	}
	// A container thrown away takes its directory with it: the files go
	// while the record's removal waits for the disk. Should that fail,
	// the container stays listed without its files, for another rm.
	removed := make(chan error, 1)
	if keep {
		removed <- nil
	} else {
		go func() { removed <- os.RemoveAll(e.dir(c.ID)) }()
	}
	err := e.DB.Update(func(tx *metadata.Tx) error {
		if err := tx.DeleteContainer(c); err != nil {
			return err
		}
		if keep {
			return e.trash(tx, c)
		}
		return nil
	})
	rmErr := <-removed
	if err != nil {
		return err
	}
	e.emit(c, "destroy", nil)
	if rmErr != nil {
		return rmErr
	}
	// Anonymous volumes go with rm -v, and with a --rm container, as
	// Docker's do; named volumes always stay.
	if cfgErr == nil && (opts.Volumes || cfg.AutoRemove) {
		if err := e.removeAnonymousVolumes(cfg, keep); err != nil {
			return err
		}
	}
	// Removed containers past their grace period go for good now.
	_, err = e.PurgeTrash(false)
	return err
}

// waitMonitor waits, for a while, until c's monitor has finished.
func (e *Engine) waitMonitor(c *metadata.Container) {
	deadline := time.Now().Add(monitorWait)
	for monitor.Running(c.State.Monitor, c.ID) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// monitorWait bounds how long rm waits for a monitor to finish once its
// container is dead: it only has its cleanup left to do.
const monitorWait = 10 * time.Second

func isNotFound(err error) bool { return errdefs.IsNotFound(err) }
