package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"berth/internal/container"
	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/monitor"
)

// ExitPath is where a detached container's monitor records each exit.
func (e *Engine) ExitPath(id string) string { return filepath.Join(e.dir(id), "exit") }

// StartChild is the monitor's start command (`berth __start ID`): it
// creates and starts container id with this process's stdio, which are
// the monitor's pipes (or with a terminal, whose master the init sends to
// the monitor's console socket), writes the container's pid to report,
// and returns; the container outlives it, reparented to the monitor.
func (e *Engine) StartChild(id string, report *os.File) error {
	c, err := e.Lookup(id)
	if err != nil {
		return err
	}
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	pid, err := e.startChild(c, cfg, nil)
	if err != nil {
		return err
	}
	if err := e.recordStart(c.ID, pid, os.Getppid()); err != nil {
		return err
	}
	e.emit(c, "start", nil)
	_, err = fmt.Fprintf(report, "%d\n", pid)
	return err
}

// startChild creates and starts container c with this process's stdio,
// its init forked by this process or, with spawn, by spawn, and returns
// the init's pid.
func (e *Engine) startChild(c *metadata.Container, cfg *Config, spawn container.Spawner) (int, error) {
	e.Runtime.Delete(c.ID, deleteForce) // the previous run's state, on a restart
	e.resetHealth(c.ID)
	b, err := e.bundle(c)
	if err != nil {
		return 0, err
	}
	opts := b.runOpts(os.Stdin, os.Stdout, os.Stderr)
	opts.Spawn = spawn
	if cfg.Tty {
		release, err := e.prepareConsole(c.ID, b, &opts)
		if err != nil {
			e.unmountRootfs(c.ID)
			e.netDown(c)
			return 0, err
		}
		defer release()
	}
	if err := e.Runtime.Create(c.ID, opts); err != nil {
		e.unmountRootfs(c.ID)
		e.netDown(c)
		return 0, err
	}
	st, err := e.Runtime.State(c.ID)
	if err != nil {
		return 0, err
	}
	if err := e.Runtime.Start(c.ID); err != nil {
		e.Runtime.Delete(c.ID, deleteForce)
		return 0, err
	}
	return st.Pid, nil
}

// recordStart records that container id runs as pid, under the monitor
// with pid mon.
func (e *Engine) recordStart(id string, pid, mon int) error {
	return e.update(id, func(rec *metadata.Container) error {
		restarts := rec.State.Restarts
		if ex, err := monitor.ReadExit(e.ExitPath(rec.ID)); err == nil && ex.Restarting {
			restarts = ex.Restarts + 1
		}
		rec.State = metadata.ContainerState{Status: StatusRunning, Pid: pid, StartedAt: time.Now().UTC(),
			Monitor: mon, Restarts: restarts}
		return nil
	})
}

// Cleanup is the monitor's cleanup command (`berth __cleanup ID`), run
// once the container has exited for the last time: it records the exit,
// releases the runtime state and the root filesystem, and removes the
// container when it was run with --rm.
func (e *Engine) Cleanup(id string) error {
	c, err := e.Lookup(id)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil // removed meanwhile
		}
		return err
	}
	code, finished, restarts := -1, time.Now().UTC(), c.State.Restarts
	if ex, err := monitor.ReadExit(e.ExitPath(c.ID)); err == nil {
		code, finished, restarts = ex.Code, ex.FinishedAt, ex.Restarts
	}
	e.Runtime.Delete(c.ID, deleteForce)
	e.unmountRootfs(c.ID)
	e.netDown(c)
	e.emit(c, "die", map[string]string{"exitCode": strconv.Itoa(code)})
	err = e.update(c.ID, func(rec *metadata.Container) error {
		rec.State.Status = StatusExited
		if code >= 0 {
			rec.State.ExitCode = code
		}
		rec.State.FinishedAt = finished
		rec.State.Restarts = restarts
		rec.State.Pid = 0
		return nil
	})
	if err != nil {
		return err
	}
	if cfg, err := configOf(c); err == nil && cfg.AutoRemove {
		return e.Remove(c, RemoveOptions{Force: true, fromCleanup: true})
	}
	return nil
}

// StartDetached starts container c in the background under a monitor,
// which holds its output (or its terminal), writes its log, restarts it
// as its policy says, records its exit and takes attach clients. It
// returns once the container runs.
func (e *Engine) StartDetached(c *metadata.Container) error {
	switch st := e.status(c); st {
	case StatusRunning, StatusPaused, StatusRestarting:
		return nil // already started, as Docker's start of a running container
	}
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	_, err = e.startMonitor(c, cfg, false, nil)
	return err
}

// ParseRestart reads --restart: no, on-failure[:N], always, unless-stopped.
func ParseRestart(s string) (monitor.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := monitor.RestartPolicy{Name: name}
	switch name {
	case "", monitor.RestartNo, monitor.RestartAlways, monitor.RestartUnlessStopped:
		if hasCount {
			return p, errdefs.Invalidf("--restart %q: only on-failure takes a maximum retry count", s)
		}
	case monitor.RestartOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, errdefs.Invalidf("--restart %q: the maximum retry count must be a number of 0 or more", s)
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, errdefs.Invalidf("--restart %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	return p, nil
}
