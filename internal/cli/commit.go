package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/reference"
)

func newCommitCommand(a *app) *cobra.Command {
	var opts engine.CommitOptions
	var pause, noPause bool
	cmd := &cobra.Command{
		Use:                   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short:                 "Create a new image from a container's changes",
		Args:                  cobra.RangeArgs(1, 2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("pause") {
				if cmd.Flags().Changed("no-pause") {
					return errors.New("conflicting options: --no-pause and --pause cannot be used together")
				}
				noPause = !pause
			}
			opts.Pause = !noPause
			if len(args) == 2 {
				ref, err := reference.Parse(args[1])
				if err != nil {
					return err
				}
				if ref.Digest() != "" {
					return errdefs.Invalidf("commit: %s: a name with a digest cannot be given to a new image", args[1])
				}
				opts.Names = []string{ref.String()}
			}
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			img, err := e.Commit(cmd.Context(), c, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&pause, "pause", "p", true, "Pause container during commit (deprecated: use --no-pause instead)")
	f.MarkDeprecated("pause", "and enabled by default. Use --no-pause to disable pausing during commit.")
	f.BoolVar(&noPause, "no-pause", false, "Disable pausing container during commit")
	f.StringVarP(&opts.Message, "message", "m", "", "Commit message")
	f.StringVarP(&opts.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringArrayVarP(&opts.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	return cmd
}
