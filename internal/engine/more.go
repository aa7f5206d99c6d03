package engine

import (
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// Wait blocks until the container named arg is no longer running and
// returns its exit code.
func (e *Engine) Wait(arg string) (int, error) {
	for {
		c, err := e.Lookup(arg)
		if err != nil {
			return -1, err
		}
		switch e.status(c) {
		case StatusRunning, StatusPaused, StatusRestarting:
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return e.exitCode(c), nil
	}
}

// Rename gives the container named arg a new name.
func (e *Engine) Rename(arg, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	var id string
	err := e.DB.Update(func(tx *metadata.Tx) error {
		c, err := lookup(tx, arg)
		if err != nil {
			return err
		}
		if c.Name == name {
			return errdefs.Invalidf("renaming a container with the same name as its current name")
		}
		id = c.ID
		return tx.RenameContainer(c, name)
	})
	if err != nil {
		return err
	}
	return e.renamedOnNetworks(id)
}

// Pause freezes (or, with pause false, thaws) container c.
func (e *Engine) Pause(c *metadata.Container, pause bool) error {
	st := e.status(c)
	if pause {
		if st != StatusRunning {
			return errdefs.Conflictf("container %s is not running", shortID(c.ID))
		}
		if err := e.Runtime.Pause(c.ID); err != nil {
			return err
		}
		e.emit(c, "pause", nil)
		return nil
	}
	if st != StatusPaused {
		return errdefs.Conflictf("container %s is not paused", shortID(c.ID))
	}
	if err := e.Runtime.Resume(c.ID); err != nil {
		return err
	}
	e.emit(c, "unpause", nil)
	return nil
}

// Pids lists the processes of running container c, as the host sees them.
func (e *Engine) Pids(c *metadata.Container) ([]int, error) {
	if st := e.status(c); st != StatusRunning && st != StatusPaused {
		return nil, errdefs.Conflictf("container %s is not running", shortID(c.ID))
	}
	return e.Runtime.Pids(c.ID)
}
