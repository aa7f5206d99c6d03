package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/volume"
)

// pruneStep is one kind of thing `system prune` frees: the warning line
// that names it, and the work, which returns the heading and lines to
// print and the bytes freed.
type pruneStep struct {
	warning string
	run     func(a *app) (heading string, lines []string, freed int64, err error)
}

// newSystemPruneCommand is `system prune`: Docker's, and the place where
// berth's trash is emptied at once.
func newSystemPruneCommand(a *app) *cobra.Command {
	var all, force, volumes bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data: stopped containers, unused networks and images, the trash, and with --volumes unused anonymous volumes",
		Long: "Remove stopped containers, unused networks, dangling images (all unused images with -a), and empty the trash " +
			"of removed containers, freeing their space now. Unlike container prune and rm, nothing " +
			"goes to the trash: what system prune removes cannot be restored.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			steps := systemPruneSteps(all, volumes)
			if !force {
				var msg strings.Builder
				msg.WriteString("WARNING! This will remove:")
				for _, s := range steps {
					msg.WriteString("\n  - " + s.warning)
				}
				msg.WriteString("\n")
				if !confirm(a.in, a.out, msg.String()) {
					return nil
				}
			}
			var total int64
			var errs []error
			for _, s := range steps {
				heading, lines, freed, err := s.run(a)
				if err != nil {
					errs = append(errs, err)
				}
				total += freed
				printDeleted(a.out, heading, lines)
			}
			fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(total))
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "prune anonymous volumes that no container uses, too")
	return cmd
}

// systemPruneSteps lists what system prune frees, in order: containers
// first, so that the images they held become unused.
func systemPruneSteps(all, volumes bool) []pruneStep {
	images := "all dangling images"
	if all {
		images = "all images without at least one container associated to them"
	}
	steps := []pruneStep{
		{"all stopped containers", func(a *app) (string, []string, int64, error) {
			e, err := a.engine()
			if err != nil {
				return "", nil, 0, err
			}
			rep, err := e.Prune(engine.PruneOptions{Purge: true})
			if rep == nil {
				return "", nil, 0, err
			}
			return "Deleted Containers:", rep.Deleted, int64(rep.SpaceReclaimed), err
		}},
		{"all networks not used by at least one container", func(a *app) (string, []string, int64, error) {
			e, err := a.engine()
			if err != nil {
				return "", nil, 0, err
			}
			names, err := e.PruneNetworks(nil)
			return "Deleted Networks:", names, 0, err
		}},
		{"every removed container and volume kept in the trash", func(a *app) (string, []string, int64, error) {
			e, err := a.engine()
			if err != nil {
				return "", nil, 0, err
			}
			list, err := e.TrashList()
			if err != nil {
				return "", nil, 0, err
			}
			vols, err := e.Volumes.TrashList()
			if err != nil {
				return "", nil, 0, err
			}
			freed, err := e.PurgeTrash(true)
			var ids []string
			for _, t := range list {
				ids = append(ids, t.Container.ID)
			}
			for _, v := range vols {
				ids = append(ids, "volume "+v.Volume.Name)
			}
			return "Emptied from the trash:", ids, freed, err
		}},
		{images, func(a *app) (string, []string, int64, error) {
			st, err := a.images()
			if err != nil {
				return "", nil, 0, err
			}
			rep, err := st.Prune(all)
			if rep == nil {
				return "", nil, 0, err
			}
			return "Deleted Images:", imagePruneLines(rep.Deleted), rep.SpaceReclaimed, err
		}},
	}
	steps = append(steps, pruneStep{"unused build cache", func(a *app) (string, []string, int64, error) {
		st, err := a.images()
		if err != nil {
			return "", nil, 0, err
		}
		keys, freed, err := st.PruneBuildCache(0)
		for i, k := range keys {
			keys[i] = k[:25]
		}
		return "Deleted build cache objects:", keys, freed, err
	}})
	if volumes {
		// after the containers, which held them, and before the trash
		// is emptied, which frees them
		vol := pruneStep{"all anonymous volumes not used by at least one container", func(a *app) (string, []string, int64, error) {
			e, err := a.engine()
			if err != nil {
				return "", nil, 0, err
			}
			rep, err := e.PruneVolumes(volume.PruneOptions{}, true)
			if rep == nil {
				return "", nil, 0, err
			}
			return "Deleted Volumes:", rep.Deleted, rep.SpaceReclaimed, err
		}}
		steps = append(steps[:2], append([]pruneStep{vol}, steps[2:]...)...)
	}
	return steps
}
