package compose

import (
	"errors"
	"fmt"
	"sort"

	"github.com/compose-spec/compose-go/v2/types"

	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/volume"
)

// serviceNetworks are the networks s joins, first the one it is created
// on (highest priority, then by name).
func serviceNetworks(p *types.Project, s types.ServiceConfig) []string {
	return s.NetworksByPriority()
}

// networkRequest is how s is created on its first network, with its
// service name and aliases there.
func networkRequest(p *types.Project, s types.ServiceConfig) engine.NetworkRequest {
	switch s.NetworkMode {
	case "none", "host":
		return engine.NetworkRequest{Network: s.NetworkMode}
	}
	nets := serviceNetworks(p, s)
	if len(nets) == 0 {
		return engine.NetworkRequest{Network: "none"}
	}
	r := engine.NetworkRequest{Network: p.Networks[nets[0]].Name, Aliases: []string{s.Name}}
	if c := s.Networks[nets[0]]; c != nil {
		r.Aliases = append(r.Aliases, c.Aliases...)
		r.IPv4, r.IPv6, r.MAC = c.Ipv4Address, c.Ipv6Address, c.MacAddress
	}
	r.HostnameGiven = s.Hostname != ""
	return r
}

// Prepare makes the networks and volumes that the named services use
// and that are not there yet, as up does before it creates containers.
func (p *Project) Prepare(names []string) error {
	if err := p.ensureNetworks(names); err != nil {
		return err
	}
	return p.ensureVolumes(names)
}

// ensureNetworks makes the project's networks that the named services
// use, labelled as Docker Compose labels them; an external one must
// exist already.
func (p *Project) ensureNetworks(names []string) error {
	used := map[string]bool{}
	for _, n := range names {
		for _, net := range serviceNetworks(p.Model, p.Model.Services[n]) {
			used[net] = true
		}
	}
	for _, key := range sortedKeys(used) {
		cfg := p.Model.Networks[key]
		if _, err := p.E.LookupNetwork(cfg.Name); err == nil {
			continue
		} else if bool(cfg.External) {
			return errdefs.NotFoundf("network %s declared as external, but could not be found", cfg.Name)
		}
		o := engine.NetworkCreateOptions{Name: cfg.Name, Driver: cfg.Driver, Internal: cfg.Internal,
			Labels:  map[string]string{LabelProject: p.Model.Name, LabelNetwork: key, LabelVersion: Version},
			Options: cfg.DriverOpts}
		if cfg.EnableIPv6 != nil {
			o.EnableIPv6 = *cfg.EnableIPv6
		}
		for k, v := range cfg.Labels {
			o.Labels[k] = v
		}
		for _, pool := range cfg.Ipam.Config {
			o.Subnets = append(o.Subnets, pool.Subnet)
			if pool.Gateway != "" {
				o.Gateways = append(o.Gateways, pool.Gateway)
			}
			if pool.IPRange != "" {
				o.IPRanges = append(o.IPRanges, pool.IPRange)
			}
		}
		if _, err := p.E.CreateNetwork(o); err != nil {
			return fmt.Errorf("network %s: %w", cfg.Name, err)
		}
		p.progressKind("Network", cfg.Name, "Created")
	}
	return nil
}

// ConnectOthers attaches container id to the networks of s past its
// first, where it answers to the service's name and aliases when
// aliases is set (a one-off container of run does only when asked).
func (p *Project) ConnectOthers(s types.ServiceConfig, id string, aliases bool) error {
	nets := serviceNetworks(p.Model, s)
	if s.NetworkMode != "" || len(nets) < 2 {
		return nil
	}
	for _, key := range nets[1:] {
		n, err := p.E.LookupNetwork(p.Model.Networks[key].Name)
		if err != nil {
			return err
		}
		c, err := p.E.Lookup(id)
		if err != nil {
			return err
		}
		var o engine.ConnectOptions
		if aliases {
			o.Aliases = []string{s.Name}
		}
		if nc := s.Networks[key]; nc != nil {
			if aliases {
				o.Aliases = append(o.Aliases, nc.Aliases...)
			}
			o.IPv4, o.IPv6 = nc.Ipv4Address, nc.Ipv6Address
		}
		if err := p.E.Connect(n, c, o); err != nil {
			return fmt.Errorf("connect %s to %s: %w", c.Name, n.Name, err)
		}
	}
	return nil
}

// ensureVolumes makes the project's named volumes that the services
// use, with their driver options and labels.
func (p *Project) ensureVolumes(names []string) error {
	for _, n := range names {
		for _, v := range p.Model.Services[n].Volumes {
			if v.Type != types.VolumeTypeVolume || v.Source == "" {
				continue
			}
			cfg, declared := p.Model.Volumes[v.Source]
			if !declared {
				continue // run -v NAME:PATH: the engine makes it
			}
			if _, err := p.E.Volumes.Get(cfg.Name); err == nil {
				continue
			} else if bool(cfg.External) {
				return errdefs.NotFoundf("external volume %q not found", cfg.Name)
			}
			o := volume.CreateOptions{Driver: cfg.Driver, Options: cfg.DriverOpts,
				Labels: map[string]string{LabelProject: p.Model.Name, LabelVolume: v.Source, LabelVersion: Version}}
			for k, val := range cfg.Labels {
				o.Labels[k] = val
			}
			if _, err := p.E.Volumes.Create(cfg.Name, o); err != nil {
				return fmt.Errorf("volume %s: %w", cfg.Name, err)
			}
			p.progressKind("Volume", cfg.Name, "Created")
		}
	}
	return nil
}

// removeResources removes the project's networks, and with volumes its
// named volumes, that carry its label: never those of another project
// or external ones.
func (p *Project) removeResources(volumes bool) error {
	var errs []error
	nets, err := p.E.Networks()
	if err != nil {
		return err
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	for _, n := range nets {
		if n.Labels[LabelProject] != p.Model.Name {
			continue
		}
		p.progressKind("Network", n.Name, "Removing")
		if err := p.E.RemoveNetwork(n); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", n.Name, err))
			continue
		}
		p.progressKind("Network", n.Name, "Removed")
	}
	if !volumes {
		return errors.Join(errs...)
	}
	vols, err := p.E.Volumes.List(volume.Filter{})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, v := range vols {
		if v.Labels[LabelProject] != p.Model.Name {
			continue
		}
		p.progressKind("Volume", v.Name, "Removing")
		if err := p.E.RemoveVolume(v.Name, false, false); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", v.Name, err))
			continue
		}
		p.progressKind("Volume", v.Name, "Removed")
	}
	return errors.Join(errs...)
}
