package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

type dfRow struct {
	Type, TotalCount, Active, Size, Reclaimable string
}

type dfVolumeRow struct{ Name, Links, Size string }

func newDfCommand(a *app) *cobra.Command {
	var format string
	var verbose bool
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
			if err := l.write("table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", out); err != nil || !verbose {
				return err
			}
			vols, err := e.VolumeUsages()
			if err != nil {
				return err
			}
			var vrows []any
			for _, v := range vols {
				vrows = append(vrows, dfVolumeRow{Name: v.Name, Links: fmt.Sprint(v.Links), Size: humanSize(v.Size)})
			}
			fmt.Fprint(a.out, "\nLocal Volumes space usage:\n\n")
			vl := &lister{w: a.out, headers: map[string]string{"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}}
			return vl.write("table {{.Name}}\t{{.Links}}\t{{.Size}}", vrows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "format output: table, json, or a Go template")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also show each volume's size and number of containers")
	return cmd
}
