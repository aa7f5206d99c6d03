package engine

import (
	"errors"
	"fmt"
	"sort"

	"github.com/vishvananda/netlink"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/network"
	"berth/internal/portmap"
)

// PortOptions are the ports a container publishes and exposes (-p, -P,
// --expose).
type PortOptions struct {
	// PortBindings are -p's bindings, as asked (host port 0 or a range
	// until the container starts).
	PortBindings []portmap.Binding `json:"portBindings,omitempty"`
	// PublishAll publishes every exposed port to a free host port (-P).
	PublishAll bool `json:"publishAll,omitempty"`
	// ExposedPorts ("80/tcp") are the image's, --expose's and -p's.
	ExposedPorts []string `json:"exposedPorts,omitempty"`
}

// portsTable is the nftables table of berth's rules.
const portsTable = "berth"

// publisher works under a lock of the whole host's, whatever the root:
// the table, and the host's ports, are the host's.
func (e *Engine) publisher() *portmap.Publisher {
	return &portmap.Publisher{Table: portsTable, LockPath: "/run/berth/ports.lock", Iptables: network.UsesIptables()}
}

// exposePorts adds the image's exposed ports and the published ones to
// the container's. The image's are untrusted: any that does not read as
// a port is left out.
func exposePorts(o *PortOptions, image map[string]struct{}) {
	exposed := append([]string(nil), o.ExposedPorts...)
	for p := range image {
		if ps, err := portmap.ParseExpose(p); err == nil {
			exposed = append(exposed, ps...)
		}
	}
	o.ExposedPorts = portmap.Exposed(exposed, o.PortBindings)
}

// publishPorts publishes container id's ports to its addresses t on
// network t.Network (the host's interface towards it is t.Iface, and
// hostVeth the container's port on that bridge), with -P's added. It
// runs when the container's interface is up, before it starts; on error
// nothing is published and the container must not start.
func (e *Engine) publishPorts(id, hostVeth string, t portmap.Target) error {
	c, err := e.Lookup(id)
	if errdefs.IsNotFound(err) {
		return nil // a build's RUN step: on the network, without a record or ports
	}
	if err != nil {
		return err
	}
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	bindings := cfg.PortBindings
	if cfg.PublishAll {
		var err error
		if bindings, err = portmap.PublishAll(cfg.ExposedPorts, bindings); err != nil {
			return err
		}
	}
	if len(bindings) == 0 {
		return nil
	}
	// A container that reaches its own published port through a host
	// address: with br_netfilter the kernel bridges the DNATed packet
	// straight back out of the port it came in by, which a bridge port
	// allows only in hairpin mode.
	if hostVeth != "" {
		if err := e.hairpin(hostVeth); err != nil {
			return fmt.Errorf("publish ports: %w", err)
		}
	}
	t.ID = c.ID
	_, err = e.publisher().Publish(t, bindings)
	var inUse *portmap.InUseError
	if errors.As(err, &inUse) && inUse.ContainerID != "" {
		if other, lerr := e.Lookup(inUse.ContainerID); lerr == nil {
			inUse.Container = other.Name
		}
	}
	return err
}

// hairpin lets bridge port hostVeth send a packet back out of the port
// it came in by.
func (e *Engine) hairpin(hostVeth string) error {
	l, err := netlink.LinkByName(hostVeth)
	if err == nil {
		err = netlink.LinkSetHairpin(l, true)
	}
	if err != nil {
		return fmt.Errorf("hairpin mode on %s: %w", hostVeth, err)
	}
	return nil
}

// unpublishPorts removes container id's rules on network (all of them
// when empty), if it has any.
func (e *Engine) unpublishPorts(id, network string) error {
	return e.publisher().Unpublish(id, network)
}

// Published returns the ports that containers publish now, by ID.
func (e *Engine) Published() (map[string][]portmap.Binding, error) {
	held, err := e.publisher().List()
	if err != nil {
		return nil, err
	}
	out := map[string][]portmap.Binding{}
	for _, h := range held {
		out[h.ID] = append(out[h.ID], h.Binding)
	}
	return out, nil
}

// PortsOf returns the ports container c publishes now.
func (e *Engine) PortsOf(c *metadata.Container) ([]portmap.Binding, error) {
	all, err := e.Published()
	if err != nil {
		return nil, err
	}
	return all[c.ID], nil
}

// listPorts fills the PORTS column of running containers.
func (e *Engine) listPorts(list []Summary) {
	var published map[string][]portmap.Binding
	for i, s := range list {
		if s.Status != StatusRunning && s.Status != StatusPaused {
			continue
		}
		if published == nil {
			published, _ = e.Published()
		}
		list[i].Ports = portmap.Display(published[s.ID], s.Config.ExposedPorts)
	}
}

// PortBindingJSON is Docker's PortBinding.
type PortBindingJSON struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// inspectPorts fills the port fields of Docker's inspect: what was
// asked (HostConfig.PortBindings, ExposedPorts) and what is published
// (NetworkSettings.Ports, where an exposed port that is not is null).
func (e *Engine) inspectPorts(c *metadata.Container, cfg *Config, out *ContainerJSON) {
	h := &out.HostConfig
	h.PortBindings = map[string][]PortBindingJSON{}
	h.PublishAllPorts = cfg.PublishAll
	for _, b := range cfg.PortBindings {
		h.PortBindings[b.Port()] = append(h.PortBindings[b.Port()], PortBindingJSON{HostIP: b.HostIP, HostPort: b.HostPortSpec()})
	}
	if len(cfg.ExposedPorts) > 0 {
		out.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range cfg.ExposedPorts {
			out.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if !out.State.Running {
		return
	}
	published, _ := e.PortsOf(c)
	ports := out.NetworkSettings.Ports
	for _, p := range cfg.ExposedPorts {
		ports[p] = nil
	}
	sort.SliceStable(published, func(i, j int) bool { return published[i].HostIP < published[j].HostIP })
	for _, b := range published {
		list, _ := ports[b.Port()].([]PortBindingJSON)
		ports[b.Port()] = append(list, PortBindingJSON{HostIP: b.HostIP, HostPort: b.HostPortSpec()})
	}
}
