package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// newNetworkCommand is `network` and its subcommands, as Docker's.
func newNetworkCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks"}
	cmd.AddCommand(newNetworkCreateCommand(a), newNetworkLsCommand(a), newNetworkInspectCommand(a),
		newNetworkRmCommand(a), newNetworkPruneCommand(a), newNetworkConnectCommand(a), newNetworkDisconnectCommand(a))
	return cmd
}

func newNetworkCreateCommand(a *app) *cobra.Command {
	var (
		o               engine.NetworkCreateOptions
		labels, options []string
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			var err error
			if o.Labels, err = keyValues("label", labels); err != nil {
				return err
			}
			if o.Options, err = keyValues("opt", options); err != nil {
				return err
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			n, err := e.CreateNetwork(o)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.out, n.ID)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Driver, "driver", "d", "bridge", "driver: bridge (the only one)")
	fl.StringArrayVar(&o.Subnets, "subnet", nil, "subnet in CIDR form (one IPv4, and one IPv6 with --ipv6); default: a free /24 of the pool")
	fl.StringArrayVar(&o.Gateways, "gateway", nil, "gateway of a subnet (default: its first address)")
	fl.StringArrayVar(&o.IPRanges, "ip-range", nil, "hand out container addresses from this part of a subnet")
	fl.BoolVar(&o.Internal, "internal", false, "no way out: containers reach only each other and the host")
	fl.BoolVar(&o.EnableIPv6, "ipv6", false, "give containers IPv6 addresses too (needs an IPv6 --subnet)")
	fl.StringArrayVar(&labels, "label", nil, "set a label (KEY=VALUE)")
	fl.StringArrayVarP(&options, "opt", "o", nil, "driver option: com.docker.network.bridge.name=NAME, com.docker.network.driver.mtu=N")
	return cmd
}

// networkRow is one line of `network ls`.
type networkRow struct {
	n       *metadata.Network
	noTrunc bool
}

func (r networkRow) ID() string {
	if r.noTrunc {
		return r.n.ID
	}
	return r.n.ID[:12]
}
func (r networkRow) Name() string     { return r.n.Name }
func (r networkRow) Driver() string   { return r.n.Driver }
func (r networkRow) Scope() string    { return "local" }
func (r networkRow) IPv6() string     { return fmt.Sprint(r.n.EnableIPv6) }
func (r networkRow) Internal() string { return fmt.Sprint(r.n.Internal) }
func (r networkRow) CreatedAt() string {
	return r.n.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
}
func (r networkRow) Labels() string {
	var kv []string
	for k, v := range r.n.Labels {
		kv = append(kv, k+"="+v)
	}
	return strings.Join(kv, ",")
}

// networkFilter reads `network ls --filter`: driver=, name=, id=,
// label=KEY[=VALUE], type=custom|builtin.
func networkFilter(filters []string) (func(*metadata.Network) bool, error) {
	var checks []func(*metadata.Network) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.Invalidf("bad format of filter (expected name=value): %s", f)
		}
		switch k {
		case "driver":
			checks = append(checks, func(n *metadata.Network) bool { return n.Driver == v })
		case "name":
			checks = append(checks, func(n *metadata.Network) bool { return strings.Contains(n.Name, v) })
		case "id":
			checks = append(checks, func(n *metadata.Network) bool { return strings.HasPrefix(n.ID, v) })
		case "label":
			lk, lv, hasValue := strings.Cut(v, "=")
			checks = append(checks, func(n *metadata.Network) bool {
				got, ok := n.Labels[lk]
				return ok && (!hasValue || got == lv)
			})
		case "type":
			if v != "custom" && v != "builtin" {
				return nil, errdefs.Invalidf("invalid filter: 'type'='%s'", v)
			}
			checks = append(checks, func(n *metadata.Network) bool { return n.Predefined == (v == "builtin") })
		default:
			return nil, errdefs.Invalidf("invalid filter '%s'", k)
		}
	}
	return func(n *metadata.Network) bool {
		for _, c := range checks {
			if !c(n) {
				return false
			}
		}
		return true
	}, nil
}

func newNetworkLsCommand(a *app) *cobra.Command {
	var (
		quiet, noTrunc bool
		format         string
		filters        []string
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			match, err := networkFilter(filters)
			if err != nil {
				return err
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			nets, err := e.Networks()
			if err != nil {
				return err
			}
			var rows []any
			for _, n := range nets {
				if match(n) {
					rows = append(rows, networkRow{n: n, noTrunc: noTrunc})
				}
			}
			l := &lister{w: a.out, format: format, headers: map[string]string{"ID": "NETWORK ID", "Name": "NAME",
				"Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS"}}
			if quiet {
				l.format = "{{.ID}}"
			}
			return l.write("table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	cmd.Flags().StringVar(&format, "format", "", "format output: table, json, or a Go template")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: driver=, name=, id=, label=KEY[=VALUE], type=custom|builtin")
	return cmd
}

func newNetworkInspectCommand(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return inspectEach(a.out, format, args, func(arg string) (any, error) {
				n, err := e.LookupNetwork(arg)
				if err != nil {
					return nil, err
				}
				return e.InspectNetwork(n)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: json, or a Go template")
	return cmd
}

func newNetworkRmCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return eachResult(a.out, args, func(arg string) (any, error) {
				n, err := e.LookupNetwork(arg)
				if err == nil {
					err = e.RemoveNetwork(n)
				}
				if force && errdefs.IsNotFound(err) {
					return nil, nil
				}
				return arg, err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not fail when a network does not exist")
	return cmd
}

func newNetworkPruneCommand(a *app) *cobra.Command {
	var (
		force   bool
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pruneFilters(filters)
			if err != nil {
				return err
			}
			if !force && !confirm(a.in, a.out, "WARNING! This will remove all custom networks not used by at least one container.") {
				return nil
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			removed, err := e.PruneNetworks(func(n *metadata.Network) bool {
				return opts.MatchNetwork(n.Created, n.Labels)
			})
			if len(removed) > 0 {
				fmt.Fprintln(a.out, "Deleted Networks:")
				for _, name := range removed {
					fmt.Fprintln(a.out, name)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "provide filter values (until=DURATION|TIME, label=KEY[=VALUE], label!=KEY[=VALUE])")
	return cmd
}

func newNetworkConnectCommand(a *app) *cobra.Command {
	var o engine.ConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, n, c, err := a.networkAndContainer(args[0], args[1])
			if err != nil {
				return err
			}
			return e.Connect(n, c, o)
		},
	}
	cmd.Flags().StringArrayVar(&o.Aliases, "alias", nil, "add a network-scoped alias for the container")
	cmd.Flags().StringVar(&o.IPv4, "ip", "", "IPv4 address")
	cmd.Flags().StringVar(&o.IPv6, "ip6", "", "IPv6 address")
	return cmd
}

func newNetworkDisconnectCommand(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, n, c, err := a.networkAndContainer(args[0], args[1])
			if err != nil {
				return err
			}
			return e.Disconnect(n, c)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "accepted for Docker's sake: a disconnect always goes ahead")
	return cmd
}

// networkAndContainer opens the engine and looks up the network and the
// container that connect and disconnect name, the network first.
func (a *app) networkAndContainer(network, container string) (*engine.Engine, *metadata.Network, *metadata.Container, error) {
	e, err := a.engine()
	if err != nil {
		return nil, nil, nil, err
	}
	n, err := e.LookupNetwork(network)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := e.Lookup(container)
	if err != nil {
		return nil, nil, nil, err
	}
	return e, n, c, nil
}
