package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/image"
)

// newContainerPruneCommand is `container prune`; Docker has no top-level
// `prune`.
func newContainerPruneCommand(a *app) *cobra.Command {
	var (
		force, purge bool
		filters      []string
	)
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pruneFilters(filters)
			if err != nil {
				return err
			}
			opts.Purge = purge
			if !force && !confirm(a.in, a.out, "WARNING! This will remove all stopped containers.") {
				return nil
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			rep, err := e.Prune(opts)
			if rep == nil {
				return err
			}
			printDeleted(a.out, "Deleted Containers:", rep.Deleted)
			fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(int64(rep.SpaceReclaimed)))
			// Docker frees the space at once; say where it went, on
			// stderr, so that stdout stays Docker's.
			if rep.InTrash > 0 {
				fmt.Fprintf(a.err, "The trash keeps what was pruned (containers: %d, space: %s) for container restore; "+
					"`berth container trash --purge` frees it now.\n", rep.InTrash, humanSize(int64(rep.SpaceInTrash)))
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().BoolVar(&purge, "purge", false, "free the containers now instead of keeping them in the trash")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (until=DURATION|TIME, label=KEY[=VALUE], label!=KEY[=VALUE])")
	return cmd
}

// printDeleted prints what a prune removed as Docker does: a heading, a
// line each and a blank line, or nothing when nothing was removed.
func printDeleted(w io.Writer, heading string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, heading)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
}

// imagePruneLines are image prune's lines for what it removed.
func imagePruneLines(deleted []image.Deleted) []string {
	var lines []string
	for _, d := range deleted {
		if d.Untagged != "" {
			lines = append(lines, "untagged: "+d.Untagged)
		} else {
			lines = append(lines, "deleted: "+d.Deleted)
		}
	}
	return lines
}

// pruneFilters reads --filter: until=, label= and label!=, as Docker's
// container prune takes them.
func pruneFilters(filters []string) (engine.PruneOptions, error) {
	var o engine.PruneOptions
	err := eachFilter(filters, func(f, k, v string) error {
		switch strings.ToLower(k) {
		case "until":
			t, err := parseTime(v, "--filter until")
			if err != nil {
				return err
			}
			if t.IsZero() {
				return errdefs.Invalidf("--filter %q: want a time or a duration", f)
			}
			// Several until filters: the earliest wins, as all must hold.
			if o.Until.IsZero() || t.Before(o.Until) {
				o.Until = t
			}
		case "label":
			o.Labels = append(o.Labels, v)
		case "label!":
			o.NotLabels = append(o.NotLabels, v)
		default:
			return errdefs.Invalidf("--filter %q: invalid filter %q; want until, label or label!", f, k)
		}
		return nil
	})
	return o, err
}
