package engine

import (
	"net/netip"
	"strconv"
	"time"

	"berth/internal/metadata"
)

// EndpointJSON is the address part of Docker's endpoint settings.
type EndpointJSON struct {
	EndpointID          string
	Gateway             string
	GlobalIPv6Address   string
	GlobalIPv6PrefixLen int
	IPAddress           string
	IPPrefixLen         int
	IPv6Gateway         string
	MacAddress          string
}

// EndpointSettingsJSON is one of NetworkSettings.Networks.
type EndpointSettingsJSON struct {
	IPAMConfig *IPAMConfigJSON
	Aliases    []string
	NetworkID  string
	EndpointJSON
	DNSNames []string
}

// IPAMConfigJSON is the address a container asked for on a network.
type IPAMConfigJSON struct {
	IPv4Address string `json:",omitempty"`
	IPv6Address string `json:",omitempty"`
}

// modeName is Docker's HostConfig.NetworkMode: the network's name (bridge
// for the default one), none, host or container:ID.
func (n *NetworkConfig) modeName() string {
	if m := n.mode(); m != ModeBridge {
		return m
	}
	if n.Name == "" {
		return DefaultNetwork
	}
	return n.Name
}

// inspectNetwork fills NetworkSettings from container c's endpoints; a
// container that does not run has its networks with no addresses.
func (e *Engine) inspectNetwork(c *metadata.Container, cfg *Config, out *NetworkJSON) {
	eps := map[string]*metadata.Endpoint{}
	nets := map[string]*metadata.Network{}
	e.DB.View(func(tx *metadata.Tx) error {
		for _, a := range cfg.Network.Networks {
			if n, err := tx.Network(a.NetworkID); err == nil {
				nets[a.NetworkID] = n
			}
		}
		return tx.Endpoints(c.ID, func(ep *metadata.Endpoint) error {
			eps[ep.NetworkID] = ep
			return nil
		})
	})
	if len(eps) > 0 {
		out.SandboxKey = e.netnsPath(c.ID)
	}
	switch m := cfg.Network.mode(); m {
	case ModeNone, ModeHost:
		out.Networks[m] = &EndpointSettingsJSON{}
		return
	}
	for _, a := range cfg.Network.Networks {
		n := nets[a.NetworkID]
		if n == nil {
			continue
		}
		s := &EndpointSettingsJSON{NetworkID: n.ID, Aliases: a.Aliases}
		if a.IPv4 != "" || a.IPv6 != "" {
			s.IPAMConfig = &IPAMConfigJSON{IPv4Address: a.IPv4, IPv6Address: a.IPv6}
		}
		if !n.Predefined {
			s.DNSNames = append([]string{c.Name}, append(append([]string{}, a.Aliases...), shortID(c.ID))...)
		}
		if ep := eps[n.ID]; ep != nil {
			s.EndpointJSON = endpointJSON(n, ep)
		}
		out.Networks[n.Name] = s
		if n.Name == DefaultNetwork {
			out.EndpointJSON = s.EndpointJSON
		}
	}
}

func endpointJSON(n *metadata.Network, ep *metadata.Endpoint) EndpointJSON {
	j := EndpointJSON{EndpointID: ep.ID, IPAddress: ep.IPv4, MacAddress: ep.MAC, GlobalIPv6Address: ep.IPv6}
	if p, err := netip.ParsePrefix(n.Subnet); err == nil {
		j.IPPrefixLen = p.Bits()
	}
	if !n.Internal {
		j.Gateway = n.Gateway
	}
	if ep.IPv6 != "" {
		if p, err := netip.ParsePrefix(n.Subnet6); err == nil {
			j.GlobalIPv6PrefixLen = p.Bits()
		}
		if !n.Internal {
			j.IPv6Gateway = n.Gateway6
		}
	}
	return j
}

// NetworkInspectJSON is `network inspect`'s output, with Docker's fields.
type NetworkInspectJSON struct {
	Name       string
	ID         string `json:"Id"`
	Created    string
	Scope      string
	Driver     string
	EnableIPv4 bool
	EnableIPv6 bool
	IPAM       struct {
		Driver  string
		Options map[string]string
		Config  []IPAMPoolJSON
	}
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigFrom struct{ Network string }
	ConfigOnly bool
	Containers map[string]NetworkContainerJSON
	Options    map[string]string
	Labels     map[string]string
}

// IPAMPoolJSON is one subnet of a network.
type IPAMPoolJSON struct {
	Subnet  string
	IPRange string `json:",omitempty"`
	Gateway string
}

// NetworkContainerJSON is a running container on a network.
type NetworkContainerJSON struct {
	Name        string
	EndpointID  string
	MacAddress  string
	IPv4Address string
	IPv6Address string
}

// InspectNetwork describes network n and the containers running on it.
func (e *Engine) InspectNetwork(n *metadata.Network) (*NetworkInspectJSON, error) {
	j := &NetworkInspectJSON{Name: n.Name, ID: n.ID, Created: n.Created.Format(time.RFC3339Nano), Scope: "local",
		Driver: n.Driver, EnableIPv4: n.Driver == "bridge", EnableIPv6: n.EnableIPv6, Internal: n.Internal,
		Containers: map[string]NetworkContainerJSON{}, Options: n.Options, Labels: n.Labels}
	j.IPAM.Driver = "default"
	j.IPAM.Options = map[string]string{}
	j.IPAM.Config = []IPAMPoolJSON{}
	if n.Subnet != "" {
		j.IPAM.Config = append(j.IPAM.Config, IPAMPoolJSON{Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway})
	}
	if n.Subnet6 != "" {
		j.IPAM.Config = append(j.IPAM.Config, IPAMPoolJSON{Subnet: n.Subnet6, Gateway: n.Gateway6})
	}
	if j.Options == nil {
		j.Options = map[string]string{}
	}
	if n.Bridge != "" && n.Predefined {
		j.Options = map[string]string{"com.docker.network.bridge.name": n.Bridge, "com.docker.network.bridge.default_bridge": "true"}
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	s4, _ := netip.ParsePrefix(n.Subnet)
	s6, _ := netip.ParsePrefix(n.Subnet6)
	err := e.DB.View(func(tx *metadata.Tx) error {
		return tx.Endpoints("", func(ep *metadata.Endpoint) error {
			if ep.NetworkID != n.ID {
				return nil
			}
			c, err := tx.Container(ep.ContainerID)
			if err != nil {
				return nil
			}
			nc := NetworkContainerJSON{Name: c.Name, EndpointID: ep.ID, MacAddress: ep.MAC,
				IPv4Address: ep.IPv4 + "/" + itoa(s4.Bits())}
			if ep.IPv6 != "" {
				nc.IPv6Address = ep.IPv6 + "/" + itoa(s6.Bits())
			}
			j.Containers[c.ID] = nc
			return nil
		})
	})
	return j, err
}

// ContainerNetworks names the networks container c is configured on, for
// ps's NETWORKS column.
func (e *Engine) ContainerNetworks(c *metadata.Container) []string {
	cfg, err := configOf(c)
	if err != nil {
		return nil
	}
	if m := cfg.Network.mode(); m != ModeBridge {
		return []string{m}
	}
	var out []string
	e.DB.View(func(tx *metadata.Tx) error {
		for _, a := range cfg.Network.Networks {
			if n, err := tx.Network(a.NetworkID); err == nil {
				out = append(out, n.Name)
			}
		}
		return nil
	})
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
