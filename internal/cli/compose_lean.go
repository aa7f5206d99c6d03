//go:build lean

package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"berth/internal/errdefs"
)

// composeBinary is the program that the lean berth runs for compose.
const composeBinary = "berth-compose"

// newComposeCommand, in the lean build that `make build` installs as
// bin/berth, runs berth-compose: compose-go's schema validation adds
// about 10 ms of package initialization to every process that links it,
// which every berth command and every container's init would pay.
// berth-compose is berth built whole, compose included; it is looked for
// beside berth, then in PATH. The root and runtime directories go with it.
func newComposeCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:                "compose",
		Short:              "Define and run multi-container applications",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := findCompose()
			if err != nil {
				return err
			}
			env := append(os.Environ(), "BERTH_ROOT="+a.root(), "BERTH_RUNTIME_DIR="+a.runtimeDir())
			return syscall.Exec(path, append([]string{composeBinary}, args...), env)
		},
	}
}

func findCompose() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), composeBinary)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(composeBinary)
	if errors.Is(err, exec.ErrNotFound) {
		return "", errdefs.Unsupportedf("berth compose needs %s, beside berth or in PATH (make build puts both in bin/)", composeBinary)
	}
	return p, err
}
