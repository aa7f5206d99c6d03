package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/portmap"
)

// ports reads -p, -P and --expose.
func (f *runFlags) ports(o *engine.PortOptions) error {
	for _, e := range f.expose {
		ps, err := portmap.ParseExpose(e)
		if err != nil {
			return err
		}
		o.ExposedPorts = append(o.ExposedPorts, ps...)
	}
	for _, p := range f.publish {
		bs, err := portmap.Parse(p)
		if err != nil {
			return err
		}
		o.PortBindings = append(o.PortBindings, bs...)
	}
	o.PublishAll = f.publishAll
	return nil
}

func newPortCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			ports, err := e.PortsOf(c)
			if err != nil {
				return err
			}
			sort.SliceStable(ports, func(i, j int) bool {
				if ports[i].ContainerPort != ports[j].ContainerPort {
					return ports[i].ContainerPort < ports[j].ContainerPort
				}
				return ports[i].Proto < ports[j].Proto
			})
			if len(args) == 1 {
				for _, b := range ports {
					fmt.Fprintf(a.out, "%s -> %s\n", b.Port(), b.HostAddr())
				}
				return nil
			}
			want := args[1]
			if !strings.Contains(want, "/") {
				want += "/tcp"
			}
			if ps, err := portmap.ParseExpose(want); err != nil || len(ps) != 1 {
				return errdefs.Invalidf("invalid port %q: want PRIVATE_PORT[/PROTO]", args[1])
			}
			found := false
			for _, b := range ports {
				if b.Port() == strings.ToLower(want) {
					fmt.Fprintln(a.out, b.HostAddr())
					found = true
				}
			}
			if !found {
				return errdefs.NotFoundf("No public port '%s' published for %s", want, args[0])
			}
			return nil
		},
	}
}
