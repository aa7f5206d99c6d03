// Package cli is berth's command line: it parses flags into options,
// calls the layer below, and prints results with Docker's (or, for the
// runtime face, runc's) output formats and exit codes. It decides nothing
// itself.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/spf13/cobra"

	"berth/internal/container"
)

// DefaultRoot is where berth keeps its state unless --root or BERTH_ROOT
// says otherwise.
const DefaultRoot = "/var/lib/berth"

// DefaultRuntimeState is where the runtime keeps per-container state when
// no root is given: runtime state belongs on a tmpfs, gone at reboot just
// like the processes it describes.
const DefaultRuntimeState = "/run/berth/runtime"

// ExitError carries an exit code out of a command without printing
// anything more.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Main runs the CLI for the given arguments and returns the process's
// exit code. When argv[0] is berth-runc, the runtime face is the whole
// command line, so that Docker and containerd can use berth as runc.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd, g := newCommand(args[0])
	cmd.SetArgs(args[1:])
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	g.logError(stderr, err)
	var ec *exitCoded
	if errors.As(err, &ec) {
		return ec.code
	}
	var ie *container.InitError
	if errors.As(err, &ie) && ie.ExitCode != 0 {
		return ie.ExitCode
	}
	return 1
}

// newCommand builds the command line that argv0 names: berth's, or with
// berth-runc, the runtime face alone.
func newCommand(argv0 string) (*cobra.Command, *globals) {
	var cmd *cobra.Command
	var g *globals
	if filepath.Base(argv0) == "berth-runc" {
		cmd, g = newRuntimeCommand(true)
		cmd.Use = "berth-runc"
	} else {
		cmd, g = newRootCommand()
	}
	cmd.Version = Version
	cmd.SetVersionTemplate(versionText(cmd.Name()))
	return cmd, g
}

func newRootCommand() (*cobra.Command, *globals) {
	var root string
	cmd := &cobra.Command{
		Use:           "berth",
		Short:         "Run containers: Docker's commands, daemonless and fast",
		SilenceUsage:  true,
		SilenceErrors: true,
		// compose's global flags stand before its subcommand
		TraverseChildren: true,
	}
	cmd.PersistentFlags().StringVar(&root, "root", envOr("BERTH_ROOT", DefaultRoot),
		"directory for all of berth's state (also $BERTH_ROOT)")
	rt, g := newRuntimeCommand(false)
	g.stateDir = func() string {
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
		runtimeDir: g.stateDir,
		in:         os.Stdin, out: cmd.OutOrStdout(), err: cmd.ErrOrStderr(),
	}
	cmd.PersistentPreRun = func(c *cobra.Command, _ []string) {
		a.out, a.err = c.OutOrStdout(), c.ErrOrStderr()
		a.isTerminal = isTerminal(a.out)
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

// Version is berth's version; release builds set it with -ldflags
// "-X berth/internal/cli.Version=...".
var Version = "0.1.0-dev"

// versionText is the --version output, in runc's shape, which tools that
// probe a runtime parse.
func versionText(name string) string {
	return fmt.Sprintf("%s version %s\nspec: %s\ngo: %s\n", name, Version, specs.Version, goruntime.Version())
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
