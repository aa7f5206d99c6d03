package engine

import (
	"errors"
	"fmt"
	"net/netip"

	"berth/internal/metadata"
	"berth/internal/network"
	"berth/internal/portmap"
)

// A container on several networks has one gateway network, as Docker's
// sandbox has one gateway endpoint: the first of its networks, in the
// order it joined them, that is not internal. That network has its
// default route, and its published ports are DNATed to its address
// there. When a running container is disconnected from its gateway
// network, the next one takes over both, with the same host ports, as
// Docker moves a container's external connectivity.

// gatewayOf is the gateway network among container endpoints eps (in
// the order of cfg's networks), leaving out network skip; nil, nil when
// none is.
func (e *Engine) gatewayOf(cfg *Config, eps []*metadata.Endpoint, skip string) (*metadata.Endpoint, *metadata.Network) {
	for _, a := range cfg.Network.Networks {
		if a.NetworkID == skip {
			continue
		}
		for _, ep := range eps {
			if ep.NetworkID != a.NetworkID {
				continue
			}
			if n, err := e.networkByID(ep.NetworkID); err == nil && !n.Internal {
				return ep, n
			}
		}
	}
	return nil, nil
}

// moveGateway makes network to, where container c has endpoint ep, its
// gateway network in place of from, whose endpoint is still there: the
// ports it publishes through from go to ep, on the same host ports, and
// its default route through to's gateway. When the route cannot move,
// the ports go back, and the disconnect is refused.
func (e *Engine) moveGateway(c *metadata.Container, from *metadata.Endpoint, ep *metadata.Endpoint, to *metadata.Network) error {
	pub := e.publisher()
	t := targetOf(c.ID, ep, to)
	moved, err := pub.Move(from.NetworkID, t)
	if err != nil {
		return fmt.Errorf("cannot move the container's published ports to network %s: %w", to.Name, err)
	}
	if len(moved) > 0 {
		// As publishPorts does, for the container to reach its own
		// ports through a host address.
		e.hairpin(ep.HostVeth)
	}
	var gws []netip.Addr
	for _, g := range []string{to.Gateway, to.Gateway6} {
		if a, perr := netip.ParseAddr(g); perr == nil && (a.Is4() || ep.IPv6 != "") {
			gws = append(gws, a)
		}
	}
	if err := network.SetDefaultRoutes(e.netnsPath(c.ID), ep.Interface, gws); err != nil {
		if fn, ferr := e.networkByID(from.NetworkID); ferr == nil && len(moved) > 0 {
			_, berr := pub.Move(to.ID, targetOf(c.ID, from, fn))
			err = errors.Join(err, berr)
		}
		return fmt.Errorf("cannot move the container's default route to network %s: %w", to.Name, err)
	}
	return nil
}

// targetOf is where the ports container id publishes through endpoint
// ep of network n go.
func targetOf(id string, ep *metadata.Endpoint, n *metadata.Network) portmap.Target {
	t := portmap.Target{ID: id, Network: n.ID, Iface: n.Bridge}
	t.Addr4, _ = netip.ParseAddr(ep.IPv4)
	t.Addr6, _ = netip.ParseAddr(ep.IPv6)
	return t
}
