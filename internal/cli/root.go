// Package cli is berth's command line: it parses flags into options,
// calls the layer below, and prints results with Docker's (or, for the
// runtime face, runc's) output formats and exit codes. It decides nothing
// itself.
package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/spf13/cobra"

	"berth/internal/runcli"
)

// DefaultRoot is where berth keeps its state unless --root or BERTH_ROOT
// says otherwise.
const DefaultRoot = "/var/lib/berth"

// DefaultRuntimeState is where the runtime keeps per-container state when
// no root is given.
const DefaultRuntimeState = runcli.DefaultRuntimeState

// ExitError carries an exit code out of a command without printing
// anything more.
type ExitError = runcli.ExitError

// ParseSignal parses a signal as kill -s takes it.
var ParseSignal = runcli.ParseSignal

// ParseBytes parses a size such as 512m.
var ParseBytes = runcli.ParseBytes

// Main runs the CLI for the given arguments and returns the process's
// exit code. When argv[0] is berth-runc, the runtime face is the whole
// command line, so that Docker and containerd can use berth as runc; when
// it is berth-compose, the command line is compose's.
func Main(args []string, stdout, stderr io.Writer) int {
	switch filepath.Base(args[0]) {
	case "berth-runc":
		return runcli.Main(args, stdout, stderr)
	case "berth-compose":
		// berth whole, run by the lean build's compose command
		args = append([]string{"berth", "compose"}, args[1:]...)
	}
	cmd, g := newRootCommand()
	cmd.SetArgs(args[1:])
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	var ec *exitCoded
	if errors.As(err, &ec) {
		g.LogError(stderr, err)
		return ec.code
	}
	return g.ExitCode(stderr, err)
}

func newRootCommand() (*cobra.Command, *runcli.Globals) {
	var root string
	cmd := &cobra.Command{
		Use:           "berth",
		Short:         "Run containers: Docker's commands, daemonless and fast",
		SilenceUsage:  true,
		SilenceErrors: true,
		// compose's global flags stand before its subcommand
		TraverseChildren: true,
		Version:          runcli.Version,
	}
	cmd.SetVersionTemplate(runcli.VersionText(cmd.Name()))
	cmd.PersistentFlags().StringVar(&root, "root", envOr("BERTH_ROOT", DefaultRoot),
		"directory for all of berth's state (also $BERTH_ROOT)")
	rt, g := runcli.NewCommand(false)
	g.StateDir = func() string {
		if d := os.Getenv("BERTH_RUNTIME_DIR"); d != "" {
			return d
		}
		if cmd.PersistentFlags().Changed("root") || os.Getenv("BERTH_ROOT") != "" {
			return filepath.Join(root, "runtime")
		}
		return DefaultRuntimeState
	}
	cmd.AddCommand(rt)
	a := &app{
		root:       func() string { return root },
		runtimeDir: g.StateDir,
		in:         os.Stdin, out: cmd.OutOrStdout(), err: cmd.ErrOrStderr(),
	}
	cmd.PersistentPreRun = func(c *cobra.Command, _ []string) {
		a.out, a.err = c.OutOrStdout(), c.ErrOrStderr()
		a.isTerminal = isTerminal(a.out)
		if c.Parent() == c.Root() && lightCommands[c.Name()] {
			// No collection until the heap nears lightHeap: these
			// commands are short-lived, or wait with little in hand.
			debug.SetGCPercent(-1)
			debug.SetMemoryLimit(lightHeap)
		}
	}
	addImageCommands(cmd, a)
	addContainerCommands(cmd, a)
	cmd.AddCommand(newComposeCommand(a))
	addVolumeCommands(cmd, a)
	cmd.AddCommand(newDNSServerCommand())
	cmd.AddCommand(newNetworkCommand(a))
	addBuildCommands(cmd, a)
	return cmd, g
}

// lightCommands neither pull, build nor copy data in bulk: they run
// briefly (or wait on a container) with a heap of a few megabytes, and
// garbage collection, which Go starts at 4 MiB, would only cost them
// time. They collect only when their memory nears lightHeap.
var lightCommands = map[string]bool{
	"run": true, "create": true, "start": true, "exec": true, "rm": true, "stop": true,
	"kill": true, "restart": true, "pause": true, "unpause": true, "wait": true,
	"ps": true, "inspect": true, "port": true, "top": true,
}

const lightHeap = 64 << 20

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
