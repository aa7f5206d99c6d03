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
	cmd, g := newRootCommand(commandName(args[1:]))
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

// newRootCommand builds berth's command tree. With only, the name of one
// of quickCommands, the tree holds that command alone: building every
// command and its flags costs each process a millisecond or more, most
// of it for flags it does not parse, and the commands people run all day
// (and the monitor's) should not pay for `build` and `network`.
func newRootCommand(only string) (*cobra.Command, *runcli.Globals) {
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
	quick := quickCommands[only]
	var rt *cobra.Command
	g := &runcli.Globals{}
	if quick == nil {
		rt, g = runcli.NewCommand(false)
	}
	g.StateDir = func() string {
		if d := os.Getenv("BERTH_RUNTIME_DIR"); d != "" {
			return d
		}
		if cmd.PersistentFlags().Changed("root") || os.Getenv("BERTH_ROOT") != "" {
			return filepath.Join(root, "runtime")
		}
		return DefaultRuntimeState
	}
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
	if quick != nil {
		cmd.AddCommand(quick(a))
		cmd.CompletionOptions.DisableDefaultCmd = true
		return cmd, g
	}
	cmd.AddCommand(rt)
	addImageCommands(cmd, a)
	addContainerCommands(cmd, a)
	cmd.AddCommand(newComposeCommand(a))
	addVolumeCommands(cmd, a)
	cmd.AddCommand(newDNSServerCommand())
	cmd.AddCommand(newNetworkCommand(a))
	addBuildCommands(cmd, a)
	return cmd, g
}

// quickCommands are built alone when asked for (newRootCommand); each is
// also in the whole tree, with the same flags.
var quickCommands = map[string]func(*app) *cobra.Command{
	"run": newRunCommand, "create": newCreateCommand, "start": newStartCommand,
	"exec": newExecCommand, "ps": newPsCommand, "rm": newRmCommand, "stop": newStopCommand,
	"kill": newKillCommand, "wait": newWaitCommand, "logs": newLogsCommand,
	"inspect": newInspectCommand, "port": newPortCommand, "top": newTopCommand,
	"restart": newRestartCommand,
	"pause":   func(a *app) *cobra.Command { return newPauseCommand(a, true) },
	"unpause": func(a *app) *cobra.Command { return newPauseCommand(a, false) },
	"__start": monitorCommand("__start"), "__cleanup": monitorCommand("__cleanup"),
	"__health": monitorCommand("__health"),
}

// monitorCommand picks one of monitorCommands.
func monitorCommand(name string) func(*app) *cobra.Command {
	return func(a *app) *cobra.Command {
		for _, c := range monitorCommands(a) {
			if c.Name() == name {
				return c
			}
		}
		panic("no monitor command " + name)
	}
}

// commandName is the command that args, berth's arguments, ask for: the
// first that is not a flag of berth's own. It is "" when another flag
// comes first, as for --help.
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--root":
			i++
		case len(a) > 7 && a[:7] == "--root=":
		case len(a) > 0 && a[0] == '-':
			return ""
		default:
			return a
		}
	}
	return ""
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
