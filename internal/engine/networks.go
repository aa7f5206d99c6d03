package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/network"
)

// The default network, and the environment that shapes it: its subnet
// (network.DefaultSubnet unless set) and the pool user networks' subnets
// come from.
const (
	DefaultNetwork  = "bridge"
	envBridgeSubnet = "BERTH_BRIDGE_SUBNET"
	envNetworkPool  = "BERTH_NETWORK_POOL"
	defaultRootDir  = "/var/lib/berth"
)

// Options of `network create -o` that berth reads, with Docker's names.
const (
	optBridgeName = "com.docker.network.bridge.name"
	optMTU        = "com.docker.network.driver.mtu"
)

// networkDir is network id's directory: its lock and its name records.
func (e *Engine) networkDir(id string) string { return filepath.Join(e.root, "networks", id) }

// defaultBridgeName is the default network's bridge: berth0 for the
// default root, a name of its own for any other, so that two roots on
// one host never share a bridge.
func (e *Engine) defaultBridgeName() string {
	if filepath.Clean(e.root) == defaultRootDir {
		return "berth0"
	}
	h := sha256.Sum256([]byte(filepath.Clean(e.root)))
	return "berth" + hex.EncodeToString(h[:])[:10]
}

// defaultNetwork returns the default bridge network's record, making the
// predefined networks (bridge, host, none) on first use. When
// BERTH_BRIDGE_SUBNET names another subnet than the record's and no
// container is on the network, the network takes the new subnet.
func (e *Engine) defaultNetwork() (*metadata.Network, error) {
	var n *metadata.Network
	want := os.Getenv(envBridgeSubnet)
	err := e.DB.View(func(tx *metadata.Tx) error {
		id, ok, err := tx.NetworkByName(DefaultNetwork)
		if err != nil || !ok {
			return err
		}
		n, err = tx.Network(id)
		return err
	})
	if err != nil || (n != nil && (want == "" || want == n.Subnet)) {
		return n, err
	}
	unlock, err := hostNetworkLock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var old *metadata.Network
	made := false
	err = e.DB.Update(func(tx *metadata.Tx) error {
		n, old, made = nil, nil, false
		if id, ok, err := tx.NetworkByName(DefaultNetwork); err != nil {
			return err
		} else if ok {
			if n, err = tx.Network(id); err != nil {
				return err
			}
			if want == "" || want == n.Subnet {
				return nil
			}
			if used, err := networkInUse(tx, n.ID); err != nil || used {
				return err // keeps its subnet until no container is on it
			}
			cp := *n
			old = &cp
		}
		subnet := want
		if subnet == "" {
			subnet = network.DefaultSubnet
			taken := append(network.HostRoutes(), recordedSubnets(tx)...)
			if overlaps(netip.MustParsePrefix(subnet), taken) {
				p, err := pickSubnet(taken)
				if err != nil {
					return err
				}
				subnet = p.String()
			}
		}
		s, err := network.ParseSubnet(subnet, "", "")
		if err != nil {
			return errdefs.Invalidf("%s: %v", envBridgeSubnet, err)
		}
		if n == nil {
			n = &metadata.Network{Name: DefaultNetwork, Driver: "bridge", Created: time.Now().UTC(),
				Bridge: e.defaultBridgeName(), Predefined: true}
			if n.ID, err = newID(); err != nil {
				return err
			}
			for _, p := range []struct{ name, driver string }{{"host", "host"}, {"none", "null"}} {
				id, err := newID()
				if err != nil {
					return err
				}
				if err := tx.PutNetwork(&metadata.Network{ID: id, Name: p.name, Driver: p.driver,
					Created: n.Created, Predefined: true}); err != nil {
					return err
				}
			}
		}
		n.Subnet, n.Gateway = s.Prefix.String(), s.Gateway.String()
		made = true
		return tx.PutNetwork(n)
	})
	if err != nil || !made {
		return n, err
	}
	if old != nil {
		e.bridgeDown(old)
	}
	// The bridge comes now, under the host's lock, so that its route
	// keeps the next root from choosing the same subnet.
	_, err = e.bridgeUp(n)
	return n, err
}

// hostNetworkLock serializes the choice of subnets and the making of
// bridges among every berth on the host, whatever its root: a subnet is
// free when no route covers it, and the route comes with the bridge.
func hostNetworkLock() (func(), error) {
	return lockFile("/run/berth/network.lock")
}

// networkInUse says whether a container has an endpoint on network id.
func networkInUse(tx *metadata.Tx, id string) (bool, error) {
	used := false
	err := tx.Endpoints("", func(ep *metadata.Endpoint) error {
		used = used || ep.NetworkID == id
		return nil
	})
	return used, err
}

func recordedSubnets(tx *metadata.Tx) []netip.Prefix {
	var out []netip.Prefix
	tx.Networks(func(n *metadata.Network) error {
		for _, s := range []string{n.Subnet, n.Subnet6} {
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, p)
			}
		}
		return nil
	})
	return out
}

func overlaps(p netip.Prefix, taken []netip.Prefix) bool {
	for _, t := range taken {
		if t.Overlaps(p) {
			return true
		}
	}
	return false
}

// pickSubnet takes a free /24 from the pool (BERTH_NETWORK_POOL, else
// network.DefaultPool).
func pickSubnet(taken []netip.Prefix) (netip.Prefix, error) {
	pool := os.Getenv(envNetworkPool)
	if pool == "" {
		pool = network.DefaultPool
	}
	p, err := netip.ParsePrefix(pool)
	if err != nil || !p.Addr().Is4() || p.Bits() > network.PoolSize {
		return netip.Prefix{}, errdefs.Invalidf("%s %q: want an IPv4 prefix of /%d or wider", envNetworkPool, pool, network.PoolSize)
	}
	return network.PickSubnet(p.Masked(), network.PoolSize, taken)
}

// LookupNetwork finds the network a user means: a name, a full ID or a
// unique ID prefix.
func (e *Engine) LookupNetwork(arg string) (*metadata.Network, error) {
	if _, err := e.defaultNetwork(); err != nil {
		return nil, err
	}
	var n *metadata.Network
	err := e.DB.View(func(tx *metadata.Tx) error {
		var err error
		n, err = lookupNetwork(tx, arg)
		return err
	})
	return n, err
}

func lookupNetwork(tx *metadata.Tx, arg string) (*metadata.Network, error) {
	if id, ok, err := tx.NetworkByName(arg); err != nil {
		return nil, err
	} else if ok {
		return tx.Network(id)
	}
	var found []*metadata.Network
	err := tx.Networks(func(n *metadata.Network) error {
		if arg != "" && strings.HasPrefix(n.ID, arg) {
			found = append(found, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, errdefs.NotFoundf("network %s not found", arg)
	case 1:
		return found[0], nil
	}
	return nil, errdefs.Invalidf("network %s is ambiguous (%d matches found based on ID prefix)", arg, len(found))
}

func (e *Engine) networkByID(id string) (*metadata.Network, error) {
	var n *metadata.Network
	err := e.DB.View(func(tx *metadata.Tx) error {
		var err error
		n, err = tx.Network(id)
		return err
	})
	return n, err
}

// bridgeUp makes sure network n's bridge and packet filter rules are
// there, and returns the bridge. When the bridge exists (the usual case)
// that is one netlink request and one nftables dump.
func (e *Engine) bridgeUp(n *metadata.Network) (network.BridgeLink, error) {
	br, ok, err := network.LookupBridge(n.Bridge)
	if err != nil {
		return br, err
	}
	if ok {
		if network.ForwardBlocked(n.Bridge) {
			return br, network.AllowForward([]string{n.Bridge})
		}
		return br, nil
	}
	unlock, err := lockFile(filepath.Join(e.networkDir(n.ID), "lock"))
	if err != nil {
		return br, err
	}
	defer unlock()
	if br, ok, err = network.LookupBridge(n.Bridge); ok || err != nil {
		return br, err
	}
	b := network.Bridge{Name: n.Bridge}
	var subnets []netip.Prefix
	for _, sg := range [][2]string{{n.Subnet, n.Gateway}, {n.Subnet6, n.Gateway6}} {
		s, err1 := netip.ParsePrefix(sg[0])
		g, err2 := netip.ParseAddr(sg[1])
		if err1 == nil && err2 == nil {
			b.Addrs = append(b.Addrs, netip.PrefixFrom(g, s.Bits()))
			subnets = append(subnets, s)
		}
	}
	if m := n.Options[optMTU]; m != "" {
		b.MTU, _ = strconv.Atoi(m)
	}
	if br, err = network.CreateBridge(b); err != nil {
		network.DeleteBridge(n.Bridge)
		return br, err
	}
	if err := network.InstallRules(network.Rules{ID: n.ID, Bridge: n.Bridge, Subnets: subnets, Internal: n.Internal}); err != nil {
		network.DeleteBridge(n.Bridge)
		return br, err
	}
	if err := network.AllowForward([]string{n.Bridge}); err != nil {
		e.bridgeDown(n)
		return br, err
	}
	// A bridge made again means a reboot (or a hand) took the old one,
	// and with it the namespaces of the containers that were on it.
	return br, e.sweepStale(n)
}

// sweepStale gives back the addresses of network n's endpoints whose
// container has no network namespace any more: after a reboot, the
// containers that ran are stopped, and no daemon was there to take them
// off their networks. A container that is starting has made its
// namespace before it claims an address, so it is never swept.
func (e *Engine) sweepStale(n *metadata.Network) error {
	var stale []*metadata.Endpoint
	err := e.DB.View(func(tx *metadata.Tx) error {
		return tx.Endpoints("", func(ep *metadata.Endpoint) error {
			if ep.NetworkID == n.ID && !network.IsNetNS(e.netnsPath(ep.ContainerID)) {
				stale = append(stale, ep)
			}
			return nil
		})
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	err = e.DB.Update(func(tx *metadata.Tx) error {
		for _, ep := range stale {
			if err := releaseTx(tx, ep); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && !n.Predefined {
		err = e.writeRecords(n)
	}
	return err
}

// bridgeDown removes network n's bridge, rules and resolver.
func (e *Engine) bridgeDown(n *metadata.Network) error {
	err := network.RemoveRules(n.ID)
	network.DisallowForward(n.Bridge)
	if err2 := network.DeleteBridge(n.Bridge); err == nil {
		err = err2
	}
	if !n.Predefined {
		dnsStop(e.networkDir(n.ID))
	}
	return err
}
