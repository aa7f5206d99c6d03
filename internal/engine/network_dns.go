package engine

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"berth/internal/metadata"
	"berth/internal/netdns"
	"berth/internal/network"
)

// Each user-defined network has a name resolver (internal/netdns),
// listening on its gateway's port 53, which serves the records file that
// writeRecords keeps in the network's directory. Containers on the network
// have the gateway as their nameserver (writeNetFiles).

// writeRecords rewrites network n's records file from its endpoints,
// under the network's lock so that a slower writer never puts back an
// older list. A name or alias that is no DNS name is left out.
func (e *Engine) writeRecords(n *metadata.Network) error {
	dir := e.networkDir(n.ID)
	unlock, err := lockFile(filepath.Join(dir, "records.lock"))
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
			var names []string
			for _, name := range append(append([]string{c.Name}, ep.Aliases...), shortID(c.ID)) {
				if netdns.CheckName(name) == nil {
					names = append(names, name)
				}
			}
			if len(names) == 0 {
				return nil
			}
			r := netdns.Record{Name: names[0], Aliases: names[1:]}
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
	return netdns.WriteRecords(dir, recs)
}

// dnsUp starts network n's resolver at its gateway unless it runs.
func (e *Engine) dnsUp(n *metadata.Network) error {
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil {
		return fmt.Errorf("network %s: gateway %q: %w", n.Name, n.Gateway, err)
	}
	return netdns.EnsureRunning(e.networkDir(n.ID), gw.AsSlice())
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
