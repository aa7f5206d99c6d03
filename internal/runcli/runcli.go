// Package runcli is berth's runc-compatible command line: runc's verbs,
// global flags, output and exit codes over internal/container. It is a
// package of its own so that berth-runc, which container engines start
// for every container operation, is a small binary that links only the
// runtime, and starts faster than berth whole; berth's own command line
// adds the same commands as `berth runtime`.
package runcli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"berth/internal/container"
	"berth/internal/errdefs"
	"berth/internal/signals"
)

// Globals are runc's global flags, which come before the verb.
type Globals struct {
	root          string
	log           string
	logFormat     string
	debug         bool
	systemdCgroup bool
	criu          string
	rootless      string
	// StateDir gives the runtime's state directory; under `berth runtime`
	// it derives from berth's --root.
	StateDir func() string
}

func (g *Globals) runtime() *container.Runtime {
	return &container.Runtime{Root: g.StateDir()}
}

// check refuses global settings berth cannot honour, before any verb runs.
func (g *Globals) check() error {
	if g.systemdCgroup {
		return errdefs.Unsupportedf("--systemd-cgroup: the systemd cgroup driver is not supported; use the cgroupfs driver")
	}
	if g.logFormat != "text" && g.logFormat != "json" {
		return errdefs.Invalidf("--log-format %q: want text or json", g.logFormat)
	}
	return nil
}

// logError reports a failed command the way runc does: on stderr, and as
// a JSON or text line in the --log file, where containerd looks for it.
func (g *Globals) LogError(stderr io.Writer, err error) {
	if g == nil || g.log == "" {
		fmt.Fprintf(stderr, "berth: %v\n", err)
		return
	}
	f, ferr := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		fmt.Fprintf(stderr, "berth: %v\n", err)
		return
	}
	defer f.Close()
	now := time.Now().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": now})
		fmt.Fprintf(f, "%s\n", b)
	} else {
		fmt.Fprintf(f, "time=%q level=error msg=%q\n", now, err.Error())
	}
	fmt.Fprintf(stderr, "berth: %v\n", err)
}

// NewCommand builds the runc-compatible face. standalone is true
// when it is the whole program (berth-runc), where --root is runc's state
// directory.
func NewCommand(standalone bool) (*cobra.Command, *Globals) {
	g := &Globals{}
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "The OCI runtime, with runc's commands and flags",
		Long: `The OCI runtime: runs OCI bundles (config.json plus a root filesystem)
with runc's verbs, flags, output and exit codes. Installed as berth-runc (a
symlink to berth), it can replace runc under Docker or containerd.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return g.check()
		},
	}
	f := cmd.PersistentFlags()
	if standalone {
		f.StringVar(&g.root, "root", DefaultRuntimeState, "directory for the runtime's per-container state")
		g.StateDir = func() string { return g.root }
	}
	f.StringVar(&g.log, "log", "", "append errors to this file")
	f.StringVar(&g.logFormat, "log-format", "text", "format of the --log file: text or json")
	f.BoolVar(&g.debug, "debug", false, "accepted for runc compatibility")
	f.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "use systemd for cgroups (not supported: refused with an error)")
	f.StringVar(&g.criu, "criu", "", "accepted for runc compatibility; checkpoint is not supported")
	f.StringVar(&g.rootless, "rootless", "auto", "accepted for runc compatibility")

	cmd.AddCommand(
		createCmd(g), startCmd(g), runCmd(g), stateCmd(g), killCmd(g), deleteCmd(g),
		execCmd(g), psCmd(g), listCmd(g), specCmd(), pauseCmd(g), resumeCmd(g),
		updateCmd(g), eventsCmd(g), featuresCmd(), unsupportedCmd("checkpoint"), unsupportedCmd("restore"),
	)
	return cmd, g
}

type createFlags struct {
	bundle, consoleSocket, pidFile string
	noPivot, noNewKeyring          bool
	preserveFDs                    int
}

func (c *createFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&c.bundle, "bundle", "b", ".", "path to the bundle directory (config.json and rootfs)")
	f.StringVar(&c.consoleSocket, "console-socket", "", "unix socket that receives the pty master when the process has a terminal")
	f.StringVar(&c.pidFile, "pid-file", "", "write the container init's pid to this file")
	f.BoolVar(&c.noPivot, "no-pivot", false, "do not use pivot_root (for a root on a ramfs)")
	f.BoolVar(&c.noNewKeyring, "no-new-keyring", false, "accepted for runc compatibility")
	f.IntVar(&c.preserveFDs, "preserve-fds", 0, "accepted for runc compatibility; must be 0")
}

func (c *createFlags) options() (container.CreateOptions, error) {
	if c.preserveFDs != 0 {
		return container.CreateOptions{}, errdefs.Unsupportedf("--preserve-fds is not supported")
	}
	return container.CreateOptions{
		Bundle: c.bundle, ConsoleSocket: c.consoleSocket, PidFile: c.pidFile, NoPivot: c.noPivot,
	}, nil
}

func createCmd(g *Globals) *cobra.Command {
	var c createFlags
	cmd := &cobra.Command{
		Use:   "create [flags] ID",
		Short: "Create a container from a bundle; its process waits for start",
		Args:  exactID,
		RunE: func(_ *cobra.Command, args []string) error {
			opts, err := c.options()
			if err != nil {
				return err
			}
			return g.runtime().Create(args[0], opts)
		},
	}
	c.register(cmd)
	return cmd
}

func runCmd(g *Globals) *cobra.Command {
	var c createFlags
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] ID",
		Short: "Create and start a container; without -d, wait and exit with its status",
		Args:  exactID,
		RunE: func(_ *cobra.Command, args []string) error {
			opts, err := c.options()
			if err != nil {
				return err
			}
			code, err := g.runtime().Run(args[0], opts, detach, keep)
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	c.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the container runs")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the stopped container (for state and delete) instead of deleting it")
	return cmd
}

func startCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "start ID",
		Short: "Start the process of a created container",
		Args:  exactID,
		RunE:  func(_ *cobra.Command, args []string) error { return g.runtime().Start(args[0]) },
	}
}

func stateCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "state ID",
		Short: "Print a container's state as JSON",
		Args:  exactID,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.runtime().State(args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), st)
		},
	}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func killCmd(g *Globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] ID [SIGNAL]",
		Short: "Send a signal (default SIGTERM) to a container's init",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				s, err := ParseSignal(args[1])
				if err != nil {
					return err
				}
				sig = s
			}
			return g.runtime().Kill(args[0], sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the signal to every process of the container")
	return cmd
}

// ParseSignal accepts "KILL", "SIGKILL" and "9".
func ParseSignal(s string) (unix.Signal, error) { return signals.Parse(s) }

func deleteCmd(g *Globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [flags] ID",
		Short: "Delete a stopped container (with -f, kill it first)",
		Args:  exactID,
		RunE: func(_ *cobra.Command, args []string) error {
			return g.runtime().Delete(args[0], container.DeleteOptions{Force: force})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container if it still runs")
	return cmd
}

func pauseCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause ID",
		Short: "Freeze every process of a container",
		Args:  exactID,
		RunE:  func(_ *cobra.Command, args []string) error { return g.runtime().Pause(args[0]) },
	}
}

func resumeCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume ID",
		Short: "Thaw a paused container",
		Args:  exactID,
		RunE:  func(_ *cobra.Command, args []string) error { return g.runtime().Resume(args[0]) },
	}
}

func listCmd(g *Globals) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			states, err := g.runtime().List()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case quiet:
				for _, s := range states {
					fmt.Fprintln(out, s.ID)
				}
			case format == "json":
				if states == nil {
					states = []*container.State{}
				}
				b, _ := json.Marshal(states)
				fmt.Fprintf(out, "%s\n", b)
			case format == "table":
				w := tabwriter.NewWriter(out, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, s := range states {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle,
						s.Created.Format(time.RFC3339Nano), s.Owner)
				}
				return w.Flush()
			default:
				return errdefs.Invalidf("--format %q: want table or json", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the ids")
	return cmd
}

func unsupportedCmd(verb string) *cobra.Command {
	return &cobra.Command{
		Use:                verb,
		Short:              "Not supported by berth (checkpoint/restore needs CRIU)",
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errdefs.Unsupportedf("%s: checkpoint and restore are not supported", verb)
		},
	}
}

func exactID(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return errdefs.Invalidf("%q needs exactly one container id, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}
