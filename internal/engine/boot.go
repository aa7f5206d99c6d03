package engine

import (
	"errors"
	"fmt"

	"berth/internal/metadata"
	"berth/internal/monitor"
)

// Boot starts, after a host restart, every container whose restart
// policy asks for it: always, and unless-stopped unless its last exit was
// a stop. Containers that run already are left alone. It returns the
// names it started.
func (e *Engine) Boot() ([]string, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	var started []string
	var errs []error
	for _, s := range list {
		if s.Status == StatusRunning || s.Status == StatusPaused || s.Status == StatusRestarting {
			continue
		}
		policy, err := ParseRestart(s.Config.Restart)
		if err != nil {
			continue
		}
		switch policy.Name {
		case monitor.RestartAlways:
		case monitor.RestartUnlessStopped:
			if ex, err := monitor.ReadExit(e.ExitPath(s.ID)); err == nil && ex.Stopped {
				continue
			}
			if s.State.Status == StatusCreated {
				continue
			}
		default:
			continue
		}
		c, err := e.Lookup(s.ID)
		if err == nil {
			err = e.startAfterBoot(c)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", s.Name, err))
			continue
		}
		started = append(started, s.Name)
	}
	return started, errors.Join(errs...)
}

// startAfterBoot forgets what the reboot made stale (the runtime state,
// the mount) and starts c in the background.
func (e *Engine) startAfterBoot(c *metadata.Container) error {
	e.Runtime.Delete(c.ID, deleteForce)
	e.unmountRootfs(c.ID)
	return e.StartDetached(c)
}
