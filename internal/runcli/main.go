package runcli

import (
	"errors"
	"fmt"
	"io"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"berth/internal/container"
)

// DefaultRuntimeState is where the runtime keeps per-container state when
// no root is given: runtime state belongs on a tmpfs, gone at reboot just
// like the processes it describes.
const DefaultRuntimeState = "/run/berth/runtime"

// Version is berth's version; release builds set it with -ldflags
// "-X berth/internal/runcli.Version=...".
var Version = "0.1.0-dev"

// VersionText is the --version output, in runc's shape, which tools that
// probe a runtime parse.
func VersionText(name string) string {
	return fmt.Sprintf("%s version %s\nspec: %s\ngo: %s\n", name, Version, specs.Version, goruntime.Version())
}

// ExitError carries an exit code out of a command without printing
// anything more.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Main runs the runtime face as the whole program, berth-runc, and
// returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cmd, g := NewStandaloneCommand()
	cmd.SetArgs(args[1:])
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	return g.ExitCode(stderr, err)
}

// NewStandaloneCommand is berth-runc's command line: the runtime face as
// the whole program, where --root is runc's state directory.
func NewStandaloneCommand() (*cobra.Command, *Globals) {
	cmd, g := NewCommand(true)
	cmd.Use = "berth-runc"
	cmd.Version = Version
	cmd.SetVersionTemplate(VersionText(cmd.Name()))
	return cmd, g
}

// ExitCode reports err as runc does (LogError) and returns the exit code
// it stands for.
func (g *Globals) ExitCode(stderr io.Writer, err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	g.LogError(stderr, err)
	var ie *container.InitError
	if errors.As(err, &ie) && ie.ExitCode != 0 {
		return ie.ExitCode
	}
	return 1
}
