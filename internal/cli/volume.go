package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"berth/internal/errdefs"
	"berth/internal/volume"
)

// addVolumeCommands adds `volume` and its subcommands, as Docker has them.
func addVolumeCommands(root *cobra.Command, a *app) {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	cmd.AddCommand(newVolumeCreateCommand(a), newVolumeLsCommand(a), newVolumeInspectCommand(a),
		newVolumeRmCommand(a), newVolumePruneCommand(a), newVolumeRestoreCommand(a))
	root.AddCommand(cmd)
}

// keyValues reads repeated KEY=VALUE flags into a map.
func keyValues(flag string, values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" || (!ok && flag == "opt") {
			return nil, errdefs.Invalidf("--%s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func newVolumeCreateCommand(a *app) *cobra.Command {
	var driver string
	var opts, labels []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o volume.CreateOptions
			var err error
			o.Driver = driver
			if o.Options, err = keyValues("opt", opts); err != nil {
				return err
			}
			if o.Labels, err = keyValues("label", labels); err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			v, err := e.Volumes.Create(name, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, v.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&driver, "driver", "d", "local", "volume driver (only local)")
	cmd.Flags().StringArrayVarP(&opts, "opt", "o", nil, "driver option: type=TYPE, device=DEVICE, o=MOUNT_OPTIONS")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "set metadata on the volume: KEY=VALUE")
	return cmd
}

type volumeRow struct {
	Driver, Name, Mountpoint, Scope, Labels, Links, CreatedAt string
}

// volumeFilters reads volume ls's --filter: dangling, name, label,
// label!, driver.
func volumeFilters(filters []string) (volume.Filter, error) {
	var f volume.Filter
	err := eachFilter(filters, func(_, k, v string) error {
		switch strings.ToLower(k) {
		case "dangling":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errdefs.Invalidf("invalid filter 'dangling=%s'", v)
			}
			f.Dangling = &b
		case "name":
			f.Names = append(f.Names, v)
		case "label":
			f.Labels = append(f.Labels, v)
		case "label!":
			f.NotLabels = append(f.NotLabels, v)
		case "driver":
			f.Drivers = append(f.Drivers, v)
		default:
			return errdefs.Invalidf("invalid filter '%s'", k)
		}
		return nil
	})
	return f, err
}

func labelString(labels map[string]string) string {
	var parts []string
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func newVolumeLsCommand(a *app) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := volumeFilters(filters)
			if err != nil {
				return err
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			list, err := e.Volumes.List(f)
			if err != nil {
				return err
			}
			var rows []any
			for _, v := range list {
				rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: e.Volumes.Path(v.Name),
					Scope: "local", Labels: labelString(v.Labels), Links: strconv.Itoa(len(v.Users)),
					CreatedAt: v.Created.Local().Format(time.RFC3339)})
			}
			def := "table {{.Driver}}\t{{.Name}}"
			if quiet {
				def, format = "{{.Name}}", ""
			}
			l := &lister{w: a.out, format: format, headers: map[string]string{
				"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE",
				"Labels": "LABELS", "Links": "LINKS", "CreatedAt": "CREATED"}}
			return l.write(def, rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	cmd.Flags().StringVar(&format, "format", "", "format output: table, json, or a Go template")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: dangling=true|false, name=NAME, label=KEY[=VALUE], label!=KEY[=VALUE], driver=local")
	return cmd
}

// volumeJSON is `volume inspect`'s output, with Docker's field names.
type volumeJSON struct {
	CreatedAt  string
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
}

func newVolumeInspectCommand(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return inspectEach(a.out, format, args, func(name string) (any, error) {
				v, err := e.Volumes.Get(name)
				if err != nil {
					return nil, errdefs.NotFoundf("no such volume: %s", name)
				}
				return volumeJSON{CreatedAt: v.Created.Local().Format(time.RFC3339), Driver: v.Driver,
					Labels: v.Labels, Mountpoint: e.Volumes.Path(v.Name), Name: v.Name, Options: v.Options, Scope: "local"}, nil
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: json, or a Go template")
	return cmd
}

func newVolumeRmCommand(a *app) *cobra.Command {
	var force, purge bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes (into the trash: see volume restore)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return eachArg(a.out, args, func(name string) error {
				return e.RemoveVolume(name, force, purge)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove a volume that containers use; no error for a missing one")
	cmd.Flags().BoolVar(&purge, "purge", false, "free the data now instead of keeping it in the trash")
	return cmd
}

func newVolumePruneCommand(a *app) *cobra.Command {
	var force, all, purge bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused anonymous volumes (all unused volumes with -a)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := volume.PruneOptions{All: all}
			err := eachFilter(filters, func(_, k, v string) error {
				switch k {
				case "label":
					o.Labels = append(o.Labels, v)
				case "label!":
					o.NotLabels = append(o.NotLabels, v)
				case "all":
					b, err := strconv.ParseBool(v)
					if err != nil {
						return errdefs.Invalidf("invalid filter 'all=%s'", v)
					}
					o.All = o.All || b
				default:
					return errdefs.Invalidf("invalid filter '%s'", k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			msg := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if o.All {
				msg = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !force && !confirm(a.in, a.out, msg) {
				return nil
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			rep, err := e.PruneVolumes(o, purge)
			if rep == nil {
				return err
			}
			printDeleted(a.out, "Deleted Volumes:", rep.Deleted)
			fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(rep.SpaceReclaimed))
			if len(rep.Deleted) > 0 && rep.SpaceReclaimed == 0 {
				fmt.Fprintf(a.err, "The trash keeps what was pruned (volumes: %d, space: %s) for volume restore; "+
					"`berth container trash --purge` frees it now.\n", len(rep.Deleted), humanSize(rep.SpaceInTrash))
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused volumes, not only anonymous ones")
	cmd.Flags().BoolVar(&purge, "purge", false, "free the volumes now instead of keeping them in the trash")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (label=KEY[=VALUE], label!=KEY[=VALUE], all=true)")
	return cmd
}

func newVolumeRestoreCommand(a *app) *cobra.Command {
	var name string
	var list bool
	cmd := &cobra.Command{
		Use:   "restore [--name NEW_NAME] VOLUME | --list",
		Short: "Bring back a removed volume, with its data, from the trash",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if list {
				if len(args) > 0 {
					return errdefs.Invalidf("--list takes no volume")
				}
				tl, err := e.Volumes.TrashList()
				if err != nil {
					return err
				}
				var rows []any
				for _, tv := range tl {
					rows = append(rows, trashRow{Name: tv.Volume.Name, Removed: since(tv.Removed)})
				}
				l := &lister{w: a.out, headers: map[string]string{"Name": "VOLUME NAME", "Removed": "REMOVED"}}
				return l.write("table {{.Name}}\t{{.Removed}}", rows)
			}
			if len(args) != 1 {
				return errdefs.Invalidf("volume restore takes one volume name (or --list)")
			}
			v, err := e.Volumes.Restore(args[0], name)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, v.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "restore it under another name (when its old one is taken)")
	cmd.Flags().BoolVar(&list, "list", false, "list the removed volumes the trash keeps")
	return cmd
}
