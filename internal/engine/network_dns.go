package engine

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"berth/internal/metadata"
	"berth/internal/netdns"
	"berth/internal/network"
)

// Each user-defined network has a name resolver (internal/netdns), a
// process that listens on the network's gateway, port 53, and serves the
// records file the engine keeps in the network's directory. The default
// network has none, as in Docker.

// dnsEnsureRunning starts network dir's resolver on gateway unless it
// runs there: after a reboot, or a kill, the next start brings it back.
func dnsEnsureRunning(dir string, gateway netip.Addr) error {
	return netdns.EnsureRunning(dir, net.IP(gateway.AsSlice()))
}

// dnsStop stops network dir's resolver.
func dnsStop(dir string) error { return netdns.Stop(dir) }

// checkAliases checks network aliases as DNS names, at create rather
// than when the records are written at start.
func checkAliases(aliases []string) error {
	r := netdns.Records{Records: []netdns.Record{{Name: "x", Aliases: aliases}}}
	return r.Validate()
}

// RecordsPath is network id's records file.
func (e *Engine) RecordsPath(id string) string {
	return filepath.Join(e.networkDir(id), netdns.RecordsFile)
}

// writeRecords rewrites network n's records file from its endpoints:
// each container's name, aliases (its --network-alias names and short
// ID), addresses and --dns servers, the network's subnets, and the
// host's resolvers as upstream servers. It replaces the file atomically, under the network's
// lock so that a slower writer never puts back an older list, and
// without an fsync: the file is made again from the database at every
// change.
func (e *Engine) writeRecords(n *metadata.Network) error {
	unlock, err := lockFile(filepath.Join(e.networkDir(n.ID), "records.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	recs := netdns.Records{Records: []netdns.Record{}, Upstream: dnsUpstream()}
	if netdns.CheckName(n.Name) == nil {
		recs.Network = n.Name
	}
	for _, s := range []string{n.Subnet, n.Subnet6} {
		if s != "" {
			recs.Subnets = append(recs.Subnets, s)
		}
	}
	err = e.DB.View(func(tx *metadata.Tx) error {
		return tx.Endpoints("", func(ep *metadata.Endpoint) error {
			if ep.NetworkID != n.ID {
				return nil
			}
			c, err := tx.Container(ep.ContainerID)
			if err != nil {
				return nil
			}
			// A name that is no DNS name (Docker's allow "a..b") is
			// left out rather than failing the network's every start.
			var names []string
			for _, name := range append(append([]string{c.Name}, ep.Aliases...), shortID(c.ID)) {
				if netdns.CheckName(name) == nil {
					names = append(names, name)
				}
			}
			if len(names) == 0 {
				return nil
			}
			r := netdns.Record{Name: names[0], Aliases: names[1:], Upstream: containerUpstream(c)}
			if ep.IPv4 != "" {
				r.IPv4 = append(r.IPv4, ep.IPv4)
			}
			if ep.IPv6 != "" {
				r.IPv6 = append(r.IPv6, ep.IPv6)
			}
			recs.Records = append(recs.Records, r)
			return nil
		})
	})
	if err != nil {
		return err
	}
	sort.Slice(recs.Records, func(i, j int) bool { return recs.Records[i].Name < recs.Records[j].Name })
	if err := recs.Validate(); err != nil {
		return err
	}
	b, err := jsonIndent(recs)
	if err != nil {
		return err
	}
	return writePublic(e.RecordsPath(n.ID), b)
}

// dnsUpstream is where a resolver sends the names its network does not
// know: the host's servers. The resolver runs on the host, so a local
// stub resolver (127.0.0.53) is reachable and used, as the host's own
// programs use it; without any usable server, the ones containers on the
// default network get.
func dnsUpstream() []string {
	var out []string
	b, _ := os.ReadFile("/etc/resolv.conf")
	for _, s := range network.ParseResolv(b).Servers {
		if _, err := netdns.ParseUpstream(s); err == nil {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		for _, s := range network.HostResolv().Servers {
			if _, err := netdns.ParseUpstream(s); err == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// containerUpstream is where the resolver forwards container c's queries
// for names it does not know: its --dns servers, as Docker's resolver
// does; none (the network's) without any.
func containerUpstream(c *metadata.Container) []string {
	cfg, err := configOf(c)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range cfg.DNS {
		if _, err := netdns.ParseUpstream(s); err == nil {
			out = append(out, s)
		}
	}
	return out
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// renamedOnNetworks rewrites the records of the user-defined networks
// container id is on, so that its new name resolves there.
func (e *Engine) renamedOnNetworks(id string) error {
	eps, err := e.endpointsOf(id)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if n, err := e.networkByID(ep.NetworkID); err == nil && !n.Predefined {
			if err := e.writeRecords(n); err != nil {
				return err
			}
		}
	}
	return nil
}
