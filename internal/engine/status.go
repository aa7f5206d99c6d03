package engine

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/metadata"
	"berth/internal/monitor"
)

// Container statuses, as Docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusExited     = "exited"
	StatusRestarting = "restarting"
)

// status is what a container is doing now: the runtime's state when it
// has one (the runtime sees the processes), else the record's.
func (e *Engine) status(c *metadata.Container) string {
	st, err := e.Runtime.State(c.ID)
	if err == nil {
		switch st.Status {
		case specs.StateRunning:
			return StatusRunning
		case "paused":
			return StatusPaused
		case specs.StateCreated, specs.StateCreating:
			if c.State.Status == StatusRunning {
				return StatusRunning
			}
			return StatusCreated
		}
	}
	// Not running. Between an exit and the restart after it, the
	// monitor says so in the exit file.
	if c.State.Monitor > 0 && monitor.Running(c.State.Monitor, c.ID) {
		ex, err := monitor.ReadExit(e.ExitPath(c.ID))
		if err == nil && ex.Restarting {
			return StatusRestarting
		}
		if err != nil && c.State.Status == StatusRunning {
			// The container's first run has ended, and its monitor
			// has not recorded it yet: whether it restarts is not
			// known, so it is not exited yet either.
			return StatusRunning
		}
	}
	if c.State.Status == StatusCreated && err != nil {
		return StatusCreated
	}
	// The record may still say running: the monitor has not cleaned up
	// yet, or the host rebooted and the runtime state is gone.
	return StatusExited
}

// Status returns container c's status now.
func (e *Engine) Status(c *metadata.Container) string { return e.status(c) }

// exitCode is c's last exit code: the monitor's record of it when that
// is newer than berth's.
func (e *Engine) exitCode(c *metadata.Container) int {
	if c.State.Monitor > 0 {
		if ex, err := monitor.ReadExit(e.ExitPath(c.ID)); err == nil && !ex.FinishedAt.Before(c.State.StartedAt) {
			return ex.Code
		}
	}
	return c.State.ExitCode
}
