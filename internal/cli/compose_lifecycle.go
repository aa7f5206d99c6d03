//go:build !lean

package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"berth/internal/compose"
	"berth/internal/engine"
	"berth/internal/metadata"
)

func newComposeStartCommand(a *app, g *composeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "start [SERVICE...]",
		Short: "Start services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			return p.Start(args)
		},
	}
}

func newComposeStopCommand(a *app, g *composeFlags) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] [SERVICE...]",
		Short: "Stop services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.project(a)
			if err != nil {
				return err
			}
			return p.Stop(args, givenInt(cmd, "timeout", &timeout))
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 10, "seconds to wait for containers to stop")
	return cmd
}

func newComposeRestartCommand(a *app, g *composeFlags) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] [SERVICE...]",
		Short: "Restart service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			return p.Restart(args, givenInt(cmd, "timeout", &timeout))
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 10, "seconds to wait for containers to stop")
	return cmd
}

func newComposeKillCommand(a *app, g *composeFlags) *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] [SERVICE...]",
		Short: "Force stop service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := ParseSignal(sig)
			if err != nil {
				return err
			}
			return forEach(a, g, args, false, "Killing", "Killed", func(e *engine.Engine, rec *metadata.Container) error {
				if st := e.Status(rec); st != engine.StatusRunning && st != engine.StatusPaused {
					return nil
				}
				return e.Kill(rec, s)
			})
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "SIGKILL", "signal to send to the container")
	return cmd
}

func newComposeRmCommand(a *app, g *composeFlags) *cobra.Command {
	var force, stop, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] [SERVICE...]",
		Short: "Removes stopped service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.project(a)
			if err != nil {
				return err
			}
			if stop {
				if err := p.Stop(args, nil); err != nil {
					return err
				}
			}
			return p.Each(args, false, func(c compose.Container, rec *metadata.Container) error {
				if st := p.E.Status(rec); st == engine.StatusRunning || st == engine.StatusPaused {
					return nil // rm leaves running containers alone, as Docker Compose does
				}
				fmt.Fprintf(a.err, " Container %s  Removing\n", c.Name)
				if err := p.E.Remove(rec, engine.RemoveOptions{Volumes: volumes}); err != nil {
					return err
				}
				fmt.Fprintf(a.err, " Container %s  Removed\n", c.Name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "don't ask to confirm removal")
	cmd.Flags().BoolVarP(&stop, "stop", "s", false, "stop the containers, if required, before removing")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove any anonymous volumes attached to containers")
	return cmd
}

func newComposePauseCommand(a *app, g *composeFlags, pause bool) *cobra.Command {
	use, short, verb, done := "pause [SERVICE...]", "Pause services", "Pausing", "Paused"
	if !pause {
		use, short, verb, done = "unpause [SERVICE...]", "Unpause services", "Unpausing", "Unpaused"
	}
	return &cobra.Command{
		Use: use, Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(a, g, args, false, verb, done, func(e *engine.Engine, rec *metadata.Container) error {
				return e.Pause(rec, pause)
			})
		},
	}
}
