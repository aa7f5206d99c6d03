package engine

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/metadata"
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
	if err != nil {
		if c.State.Status == StatusRunning {
			// The record says running, but the runtime has no
			// state: the host rebooted, or the state was removed.
			return StatusExited
		}
		return c.State.Status
	}
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
	return StatusExited
}

// Status returns container c's status now.
func (e *Engine) Status(c *metadata.Container) string { return e.status(c) }
