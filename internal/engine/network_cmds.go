package engine

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/network"
)

// NetworkCreateOptions are `network create`'s flags.
type NetworkCreateOptions struct {
	Name   string
	Driver string
	// Subnets, Gateways and IPRanges: at most one IPv4 and one IPv6
	// subnet; each gateway and range belongs to the subnet holding it.
	Subnets, Gateways, IPRanges []string
	Internal, EnableIPv6        bool
	Labels, Options             map[string]string
}

var networkName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// CreateNetwork makes a user-defined bridge network: its record, its
// bridge and rules, and its name resolver. After a reboot the bridge and
// the resolver come back with the network's first container.
func (e *Engine) CreateNetwork(o NetworkCreateOptions) (*metadata.Network, error) {
	if _, err := e.defaultNetwork(); err != nil {
		return nil, err
	}
	if !networkName().MatchString(o.Name) || len(o.Name) > 64 {
		return nil, errdefs.Invalidf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	switch o.Name {
	case "bridge", "host", "none", "default":
		return nil, errdefs.Conflictf("network with name %s already exists", o.Name)
	}
	if o.Driver != "" && o.Driver != "bridge" {
		return nil, errdefs.Unsupportedf("plugin %q not found: berth has only the bridge driver", o.Driver)
	}
	n := &metadata.Network{Name: o.Name, Driver: "bridge", Created: time.Now().UTC(), Internal: o.Internal,
		EnableIPv6: o.EnableIPv6, Labels: o.Labels, Options: map[string]string{}}
	for k, v := range o.Options {
		switch k {
		case optBridgeName:
			if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \t\n:") {
				return nil, errdefs.Invalidf("-o %s=%s: not a valid interface name (at most 15 characters)", k, v)
			}
		case optMTU:
			if m, err := strconv.Atoi(v); err != nil || m < 68 || m > 65535 {
				return nil, errdefs.Invalidf("-o %s=%s: the MTU must be a number from 68 to 65535", k, v)
			}
		default:
			return nil, errdefs.Invalidf("-o %s: unknown option; berth reads %s and %s", k, optBridgeName, optMTU)
		}
		n.Options[k] = v
	}
	var v4, v6 *network.Subnet
	used := make([]bool, len(o.Gateways)+len(o.IPRanges))
	for _, sub := range o.Subnets {
		p, err := netip.ParsePrefix(sub)
		if err != nil {
			return nil, errdefs.Invalidf("invalid subnet %s: want an address and a prefix length such as 10.1.2.0/24", sub)
		}
		gw, rng := "", ""
		for i, g := range o.Gateways {
			if a, err := netip.ParseAddr(g); err == nil && p.Contains(a) && !used[i] {
				gw, used[i] = g, true
			}
		}
		for i, r := range o.IPRanges {
			if q, err := netip.ParsePrefix(r); err == nil && p.Overlaps(q) && !used[len(o.Gateways)+i] {
				rng, used[len(o.Gateways)+i] = r, true
			}
		}
		s, err := network.ParseSubnet(sub, gw, rng)
		if err != nil {
			return nil, err
		}
		if p.Addr().Is4() {
			if v4 != nil {
				return nil, errdefs.Invalidf("only one IPv4 subnet is supported, got %s and %s", v4.Prefix, sub)
			}
			v4 = &s
		} else {
			if v6 != nil {
				return nil, errdefs.Invalidf("only one IPv6 subnet is supported, got %s and %s", v6.Prefix, sub)
			}
			v6 = &s
		}
	}
	for i, u := range used {
		if !u {
			if i < len(o.Gateways) {
				return nil, errdefs.Invalidf("no matching subnet for gateway %s", o.Gateways[i])
			}
			return nil, errdefs.Invalidf("no matching subnet for range %s", o.IPRanges[i-len(o.Gateways)])
		}
	}
	if v6 != nil && !o.EnableIPv6 {
		return nil, errdefs.Invalidf("IPv6 subnet %s given without --ipv6", v6.Prefix)
	}
	if o.EnableIPv6 && v6 == nil {
		return nil, errdefs.Invalidf("--ipv6 needs an IPv6 --subnet (such as fd00:1::/64): berth has no IPv6 pool")
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	n.ID = id
	n.Bridge = firstOf(n.Options[optBridgeName], "berth"+id[:10])
	if v6 != nil {
		n.Subnet6, n.Gateway6 = v6.Prefix.String(), v6.Gateway.String()
	}
	unlock, err := hostNetworkLock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	err = e.DB.Update(func(tx *metadata.Tx) error {
		if _, ok, err := tx.NetworkByName(o.Name); err != nil {
			return err
		} else if ok {
			return errdefs.Conflictf("network with name %s already exists", o.Name)
		}
		taken := append(network.HostRoutes(), recordedSubnets(tx)...)
		if v4 == nil {
			p, err := pickSubnet(taken)
			if err != nil {
				return err
			}
			s, _ := network.ParseSubnet(p.String(), "", "")
			v4 = &s
		} else if overlaps(v4.Prefix, recordedSubnets(tx)) {
			return errdefs.Conflictf("invalid pool request: Pool overlaps with other one on this address space (%s)", v4.Prefix)
		}
		if v6 != nil && overlaps(v6.Prefix, recordedSubnets(tx)) {
			return errdefs.Conflictf("invalid pool request: Pool overlaps with other one on this address space (%s)", v6.Prefix)
		}
		n.Subnet, n.Gateway = v4.Prefix.String(), v4.Gateway.String()
		if v4.Range != v4.Prefix {
			n.IPRange = v4.Range.String()
		}
		var clash string
		tx.Networks(func(o *metadata.Network) error {
			if o.Bridge != "" && o.Bridge == n.Bridge {
				clash = o.Name
			}
			return nil
		})
		if clash != "" {
			return errdefs.Conflictf("bridge name %s is already used by network %s", n.Bridge, clash)
		}
		return tx.PutNetwork(n)
	})
	if err != nil {
		return nil, err
	}
	err = os.MkdirAll(e.networkDir(n.ID), 0o711)
	if err == nil {
		err = e.writeRecords(n)
	}
	if err == nil {
		_, err = e.bridgeUp(n)
	}
	if err == nil {
		err = dnsEnsureRunning(e.networkDir(n.ID), netip.MustParseAddr(n.Gateway))
	}
	if err != nil {
		e.DB.Update(func(tx *metadata.Tx) error { return tx.DeleteNetwork(n) })
		e.bridgeDown(n)
		os.RemoveAll(e.networkDir(n.ID))
		return nil, err
	}
	return n, nil
}

// Networks lists every network, the predefined ones too, by name.
func (e *Engine) Networks() ([]*metadata.Network, error) {
	if _, err := e.defaultNetwork(); err != nil {
		return nil, err
	}
	var out []*metadata.Network
	err := e.DB.View(func(tx *metadata.Tx) error {
		return tx.Networks(func(n *metadata.Network) error {
			out = append(out, n)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// RemoveNetwork removes a user-defined network that no running
// container is on: its record, bridge, rules and resolver. Stopped
// containers configured for it leave it, in the same transaction, so
// that they start without it rather than fail.
func (e *Engine) RemoveNetwork(n *metadata.Network) error {
	if n.Predefined {
		return errdefs.Conflictf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	err := e.DB.Update(func(tx *metadata.Tx) error {
		var users []string
		err := tx.Endpoints("", func(ep *metadata.Endpoint) error {
			if ep.NetworkID == n.ID {
				if c, err := tx.Container(ep.ContainerID); err == nil {
					users = append(users, c.Name)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return errdefs.Conflictf("error while removing network: network %s id %s has active endpoints (%s)", n.Name, n.ID, strings.Join(users, ", "))
		}
		var leaving []*metadata.Container
		err = tx.Containers(func(c *metadata.Container) error {
			if cfg, err := configOf(c); err == nil && cfg.Network.drop(n.ID) {
				if c.Config, err = json.Marshal(cfg); err != nil {
					return err
				}
				leaving = append(leaving, c)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range leaving {
			if err := tx.PutContainer(c); err != nil {
				return err
			}
		}
		return tx.DeleteNetwork(n)
	})
	if err != nil {
		return err
	}
	err = e.bridgeDown(n)
	if err2 := os.RemoveAll(e.networkDir(n.ID)); err == nil {
		err = err2
	}
	return err
}

// PruneNetworks removes every user-defined network that no container,
// running or not, is configured to use, and returns their names.
func (e *Engine) PruneNetworks(match func(*metadata.Network) bool) ([]string, error) {
	nets, err := e.Networks()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	err = e.DB.View(func(tx *metadata.Tx) error {
		return tx.Containers(func(c *metadata.Container) error {
			if cfg, err := configOf(c); err == nil {
				for _, a := range cfg.Network.Networks {
					used[a.NetworkID] = true
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range nets {
		if n.Predefined || used[n.ID] || (match != nil && !match(n)) {
			continue
		}
		if err := e.RemoveNetwork(n); err != nil {
			if errors.Is(err, errdefs.ErrConflict) {
				continue // a container started on it meanwhile
			}
			return removed, err
		}
		removed = append(removed, n.Name)
	}
	return removed, nil
}

// ConnectOptions are `network connect`'s flags.
type ConnectOptions struct {
	Aliases    []string
	IPv4, IPv6 string
}

// Connect attaches container c to network n: at once when it runs, at
// its next start otherwise.
func (e *Engine) Connect(n *metadata.Network, c *metadata.Container, o ConnectOptions) error {
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	switch mode := cfg.Network.mode(); {
	case n.Driver != "bridge":
		return errdefs.Invalidf("container cannot be disconnected from host network or connected to host network")
	case mode == ModeNone:
		return errdefs.Conflictf("container cannot be connected to multiple networks with one of the networks in private (none) mode")
	case mode != ModeBridge:
		return errdefs.Conflictf("container sharing network namespace with another container or host cannot be connected to any other network")
	}
	for _, a := range cfg.Network.Networks {
		if a.NetworkID == n.ID {
			return errdefs.Conflictf("endpoint with name %s already exists in network %s", c.Name, n.Name)
		}
	}
	if n.Predefined && (len(o.Aliases) > 0 || o.IPv4 != "" || o.IPv6 != "") {
		return errdefs.Invalidf("network-scoped aliases and user specified IP addresses are only supported for user-defined networks")
	}
	a, err := checkAttachment(n, o.Aliases, o.IPv4, o.IPv6, "")
	if err != nil {
		return err
	}
	running := e.status(c) == StatusRunning || e.status(c) == StatusPaused
	nsPath := e.netnsPath(c.ID)
	if running {
		if err := e.connectRunning(c, cfg, a, nsPath); err != nil {
			return err
		}
	}
	err = e.update(c.ID, func(rec *metadata.Container) error {
		rc, err := configOf(rec)
		if err != nil {
			return err
		}
		rc.Network.Networks = append(rc.Network.Networks, a)
		rec.Config, err = json.Marshal(rc)
		return err
	})
	if err != nil && running {
		e.disconnectRunning(c, n.ID, nsPath)
	}
	return err
}

func (e *Engine) connectRunning(c *metadata.Container, cfg *Config, a Attachment, nsPath string) error {
	h, f, err := network.OpenNetNS(nsPath)
	if err != nil {
		return err
	}
	defer f.Close()
	defer h.Close()
	names, err := network.Interfaces(h)
	if err != nil {
		return err
	}
	ifname := ""
	for i := 0; ifname == ""; i++ {
		cand := "eth" + strconv.Itoa(i)
		if !containsString(names, cand) {
			ifname = cand
		}
	}
	have, err := e.endpointsOf(c.ID)
	if err != nil {
		return err
	}
	gw, _ := e.gatewayOf(cfg, have, "")
	ep, _, err := e.attachOne(c, a, ifname, gw == nil, h, int(f.Fd()))
	if err != nil {
		return err
	}
	return e.rewriteHosts(c, cfg, append(have, ep))
}

// rewriteHosts writes a running container's /etc/hosts in place: the
// container has the file's inode bound, so a new file would not reach it.
func (e *Engine) rewriteHosts(c *metadata.Container, cfg *Config, eps []*metadata.Endpoint) error {
	var own []string
	for _, ep := range eps {
		own = append(own, ep.IPv4)
	}
	gw := e.hostGatewayFor(cfg)
	return os.WriteFile(e.dir(c.ID)+"/hosts", []byte(hostsFile(cfg, own, gw)), 0o644)
}

// Disconnect takes container c off network n.
func (e *Engine) Disconnect(n *metadata.Network, c *metadata.Container) error {
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	if n.Driver != "bridge" {
		return errdefs.Invalidf("container cannot be disconnected from host network or connected to host network")
	}
	found := false
	for _, a := range cfg.Network.Networks {
		found = found || a.NetworkID == n.ID
	}
	if !found {
		return errdefs.Conflictf("container %s is not connected to network %s", shortID(c.ID), n.Name)
	}
	if err := e.disconnectRunning(c, n.ID, e.netnsPath(c.ID)); err != nil {
		return err
	}
	err = e.update(c.ID, func(rec *metadata.Container) error {
		rc, err := configOf(rec)
		if err != nil {
			return err
		}
		rc.Network.drop(n.ID)
		rec.Config, err = json.Marshal(rc)
		return err
	})
	if err == nil {
		if eps, err := e.endpointsOf(c.ID); err == nil && (e.status(c) == StatusRunning || e.status(c) == StatusPaused) {
			e.rewriteHosts(c, cfg, eps)
			e.rewriteResolv(c, cfg, eps)
		}
	}
	return err
}

// rewriteResolv writes a running container's /etc/resolv.conf in place
// when it changes: a container disconnected from the user-defined
// network whose resolver it used takes the next one's.
func (e *Engine) rewriteResolv(c *metadata.Container, cfg *Config, eps []*metadata.Endpoint) error {
	path := e.dir(c.ID) + "/resolv.conf"
	b := e.resolvFile(cfg, eps)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	return os.WriteFile(path, b, 0o644)
}

// disconnectRunning removes container c's endpoint on network nid, if it
// has one: its interface, addresses and record. When nid is its gateway
// network, the next one takes its default route and published ports, or
// the disconnect is refused when they cannot move.
func (e *Engine) disconnectRunning(c *metadata.Container, nid, nsPath string) error {
	eps, err := e.endpointsOf(c.ID)
	if err != nil {
		return err
	}
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if ep.NetworkID != nid {
			continue
		}
		gw, _ := e.gatewayOf(cfg, eps, "")
		if next, nextNet := e.gatewayOf(cfg, eps, nid); gw == ep && next != nil {
			if err := e.moveGateway(c, ep, next, nextNet); err != nil {
				return err
			}
		}
		endpointDown(e, EndpointInfo{ContainerID: c.ID, NetworkID: nid, Publishes: publishes(c)})
		if err := network.DeleteEndpoint(ep.HostVeth); err != nil {
			return err
		}
		if err := e.release(ep); err != nil {
			return err
		}
		if n, err := e.networkByID(nid); err == nil && !n.Predefined {
			e.writeRecords(n)
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MatchNetwork says whether network prune's filters o (until=, label=,
// label!=) select a network created at created with labels.
func (o PruneOptions) MatchNetwork(created time.Time, labels map[string]string) bool {
	return o.matches(&metadata.Container{Created: created}, labels)
}
