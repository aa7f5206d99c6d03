package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDiffCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:                   "diff CONTAINER",
		Short:                 "Inspect changes to files or directories on a container's filesystem",
		Args:                  cobra.ExactArgs(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			changes, err := e.Diff(c)
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Fprintln(a.out, ch)
			}
			return nil
		},
	}
}
