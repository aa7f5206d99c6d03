package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRestoreCommand(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "restore [--name NEW_NAME] CONTAINER",
		Short: "Bring back a removed container, with its data, from the trash",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			c, err := e.Restore(args[0], name)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, c.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "restore it under another name (when its old one is taken)")
	return cmd
}

type trashRow struct{ ID, Name, Image, Removed string }

func newTrashCommand(a *app) *cobra.Command {
	var format string
	var purge bool
	cmd := &cobra.Command{
		Use:   "trash [--purge] [--format FORMAT]",
		Short: "List removed containers kept for restore, or free them all with --purge",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if purge {
				freed, err := e.PurgeTrash(true)
				fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(freed))
				return err
			}
			list, err := e.TrashList()
			if err != nil {
				return err
			}
			var rows []any
			for _, tr := range list {
				rows = append(rows, trashRow{ID: tr.Container.ID[:12], Name: tr.Container.Name,
					Image: tr.Container.ImageName, Removed: since(tr.Removed)})
			}
			l := &lister{w: a.out, format: format, headers: map[string]string{
				"ID": "CONTAINER ID", "Name": "NAME", "Image": "IMAGE", "Removed": "REMOVED"}}
			return l.write("table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Removed}}", rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "format output: table, json, or a Go template")
	cmd.Flags().BoolVar(&purge, "purge", false, "free every removed container now")
	return cmd
}
