package engine

import (
	"fmt"
	"sort"
	"strings"
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
			sum := Summary{Container: c, Config: cfg, Status: e.status(c), Command: quoteCommand(cfg.Args())}
			sum.State.ExitCode = e.exitCode(c)
			out = append(out, sum)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	e.listPorts(out)
	return out, err
}

// StatusText is the STATUS column of ps: "Up 3 minutes", "Exited (0) 2
// seconds ago", "Created".
func (s Summary) StatusText() string {
	now := time.Now().UTC()
	switch s.Status {
	case StatusRunning:
		return "Up " + units.HumanDuration(now.Sub(s.State.StartedAt))
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
