package engine

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"

	"berth/internal/metadata"
)

// Summary is one container as `ps` shows it.
type Summary struct {
	*metadata.Container
	Status  string // created, running, paused, exited
	Config  *Config
	Command string
	// Ports is the PORTS column: published and exposed ports while the
	// container runs.
	Ports string
	// Health is the container's health while it runs with a check.
	Health *Health
}

// List returns every container, newest first.
func (e *Engine) List() ([]Summary, error) {
	var out []Summary
	err := e.DB.View(func(tx *metadata.Tx) error {
		return tx.Containers(func(c *metadata.Container) error {
			cfg, err := configOf(c)
			if err != nil {
				return err
			}
			out = append(out, Summary{Container: c, Config: cfg, Command: quoteCommand(cfg.Args())})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// Each status reads a few files in /proc, the runtime's state and
	// cgroupfs; with a thousand containers that is most of ps's time, and
	// the reads wait in the kernel, so several run at once.
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(listWorkers, len(out)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i].Status = e.status(out[i].Container)
				if out[i].Status == StatusExited {
					out[i].State.ExitCode = e.exitCode(out[i].Container)
				}
				if out[i].Status == StatusRunning {
					out[i].Health = e.health(out[i].Container, out[i].Config)
				}
			}
		}()
	}
	for i := range out {
		next <- i
	}
	close(next)
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	e.listPorts(out)
	return out, nil
}

const listWorkers = 8

// StatusText is the STATUS column of ps: "Up 3 minutes", "Exited (0) 2
// seconds ago", "Created".
func (s Summary) StatusText() string {
	now := time.Now().UTC()
	switch s.Status {
	case StatusRunning:
		up := "Up " + units.HumanDuration(now.Sub(s.State.StartedAt))
		switch {
		case s.Health == nil:
			return up
		case s.Health.Status == HealthStarting:
			return up + " (health: starting)"
		}
		return up + " (" + s.Health.Status + ")"
	case StatusPaused:
		return "Up " + units.HumanDuration(now.Sub(s.State.StartedAt)) + " (Paused)"
	case StatusExited:
		if s.State.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", s.State.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", s.State.ExitCode, units.HumanDuration(now.Sub(s.State.FinishedAt)))
	}
	return "Created"
}

// quoteCommand is the COMMAND column: the argv joined, as Docker shows it.
func quoteCommand(args []string) string {
	return strings.Join(args, " ")
}
