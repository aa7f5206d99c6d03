package engine

import (
	"net/netip"

	"berth/internal/metadata"
	"berth/internal/portmap"
)

// EndpointInfo is a container's endpoint on a bridge network, as the
// hooks below see it.
type EndpointInfo struct {
	ContainerID string
	NetworkID   string
	// Bridge is the network's bridge interface on the host, and
	// HostVeth the container's port on it.
	Bridge, HostVeth string
	// IPv4 and IPv6 are the container's addresses there; IPv6 is the
	// zero Addr unless the network has IPv6.
	IPv4, IPv6 netip.Addr
	// Gateway says that this is the container's gateway network, which
	// has its default route and publishes its ports.
	Gateway bool
	// Publishes says that the container publishes ports (-p, -P): only
	// then are there rules to add or remove.
	Publishes bool
}

// endpointUp is called once container ep.ContainerID's interface on a
// bridge network is up, before the container runs: the place to publish
// its ports (-p, -P) to ep's addresses, when ep is its gateway network.
// An error fails the start, and the endpoint is taken down again.
func endpointUp(e *Engine, ep EndpointInfo) error {
	if !ep.Gateway || !ep.Publishes {
		return nil
	}
	return e.publishPorts(ep.ContainerID, ep.HostVeth, portmap.Target{
		Network: ep.NetworkID, Addr4: ep.IPv4, Addr6: ep.IPv6, Iface: ep.Bridge})
}

// endpointDown is called when the container leaves the network (stop,
// rm, disconnect), after or instead of endpointUp: the place to
// unpublish its ports. Only ContainerID, NetworkID and Publishes are
// set. It must tolerate being called for a container that published
// nothing.
func endpointDown(e *Engine, ep EndpointInfo) error {
	if !ep.Publishes {
		return nil
	}
	return e.unpublishPorts(ep.ContainerID, ep.NetworkID)
}

// publishes reports whether container c asks for published ports; when
// its config cannot be read, it may.
func publishes(c *metadata.Container) bool {
	cfg, err := configOf(c)
	return err != nil || len(cfg.PortBindings) > 0 || cfg.PublishAll
}
