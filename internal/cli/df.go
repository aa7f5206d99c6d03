package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

type dfRow struct {
	Type, TotalCount, Active, Size, Reclaimable string
}

func newDfCommand(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show berth's disk usage: images, their blobs, containers, volumes, build cache, logs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			rows, err := e.DiskUsage()
			if err != nil {
				return err
			}
			var out []any
			for _, r := range rows {
				rec := humanSize(r.Reclaimable)
				if r.Size > 0 {
					rec += fmt.Sprintf(" (%d%%)", r.Reclaimable*100/r.Size)
				}
				out = append(out, dfRow{Type: r.Type, TotalCount: fmt.Sprint(r.Total), Active: fmt.Sprint(r.Active),
					Size: humanSize(r.Size), Reclaimable: rec})
			}
			l := &lister{w: a.out, format: format, headers: map[string]string{
				"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE",
			}}
			return l.write("table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}
