package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newExportCommand(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:                   "export [OPTIONS] CONTAINER",
		Short:                 "Export a container's filesystem as a tar archive",
		Args:                  cobra.ExactArgs(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && isTerminal(a.out) {
				return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			if output == "" {
				return e.Export(cmd.Context(), c, a.out)
			}
			// Written beside FILE and renamed into place: a failed
			// export leaves no partial archive.
			err = writeFileAtomic(output, func(w io.Writer) error { return e.Export(cmd.Context(), c, w) })
			if err != nil {
				return fmt.Errorf("failed to export container: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
