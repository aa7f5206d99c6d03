package metadata

import (
	"strings"
	"time"

	"berth/internal/errdefs"
)

var (
	bucketNetworks     = []byte("networks")     // network ID -> Network
	bucketNetworkNames = []byte("networkNames") // name -> network ID
	bucketEndpoints    = []byte("endpoints")    // container ID "/" network ID -> Endpoint
	bucketAddresses    = []byte("addresses")    // network ID "/" address -> container ID
)

// Network is one network's record: its name, driver and addresses.
type Network struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Driver  string    `json:"driver"` // bridge, host, null
	Created time.Time `json:"created"`
	// Bridge is the bridge interface's name on the host.
	Bridge string `json:"bridge,omitempty"`
	// Subnet, Gateway and IPRange are IPv4 prefixes and an address;
	// IPRange is the part of Subnet addresses are handed out from.
	Subnet  string `json:"subnet,omitempty"`
	Gateway string `json:"gateway,omitempty"`
	IPRange string `json:"ipRange,omitempty"`
	// Subnet6 and Gateway6 are the IPv6 ones, with EnableIPv6.
	EnableIPv6 bool              `json:"enableIPv6,omitempty"`
	Subnet6    string            `json:"subnet6,omitempty"`
	Gateway6   string            `json:"gateway6,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	// Predefined networks (bridge, host, none) cannot be removed.
	Predefined bool `json:"predefined,omitempty"`
}

// Endpoint is a container's place on a network: the addresses it was
// given and the names it answers to there.
type Endpoint struct {
	ContainerID string   `json:"containerID"`
	NetworkID   string   `json:"networkID"`
	ID          string   `json:"id"`
	IPv4        string   `json:"ipv4,omitempty"`
	IPv6        string   `json:"ipv6,omitempty"`
	MAC         string   `json:"mac,omitempty"`
	Aliases     []string `json:"aliases,omitempty"`
	// HostVeth is the host's end of the container's veth pair;
	// Interface its name inside the container (eth0...).
	HostVeth  string `json:"hostVeth,omitempty"`
	Interface string `json:"interface,omitempty"`
}

func (t *Tx) ensureNetworks() error {
	for _, b := range [][]byte{bucketNetworks, bucketNetworkNames, bucketEndpoints, bucketAddresses} {
		if err := t.ensure(b); err != nil {
			return err
		}
	}
	return nil
}

// PutNetwork stores n and claims its name; a name another network holds
// is an errdefs.ErrConflict error.
func (t *Tx) PutNetwork(n *Network) error {
	if err := t.ensureNetworks(); err != nil {
		return err
	}
	var holder string
	ok, err := t.get(bucketNetworkNames, n.Name, &holder)
	if err != nil {
		return err
	}
	if ok && holder != n.ID {
		return errdefs.Conflictf("network with name %s already exists", n.Name)
	}
	if err := t.put(bucketNetworkNames, n.Name, n.ID); err != nil {
		return err
	}
	return t.put(bucketNetworks, n.ID, n)
}

// Network returns network id.
func (t *Tx) Network(id string) (*Network, error) {
	n := &Network{}
	ok, err := t.get(bucketNetworks, id, n)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errdefs.NotFoundf("network %s not found", id)
	}
	return n, nil
}

// NetworkByName returns the ID of the network called name.
func (t *Tx) NetworkByName(name string) (string, bool, error) {
	var id string
	ok, err := t.get(bucketNetworkNames, name, &id)
	return id, ok, err
}

// Networks calls fn for every network.
func (t *Tx) Networks(fn func(n *Network) error) error {
	return each(t, bucketNetworks, func(_ string, n *Network) error { return fn(n) })
}

// DeleteNetwork removes network n's record and frees its name.
func (t *Tx) DeleteNetwork(n *Network) error {
	if err := t.ensureNetworks(); err != nil {
		return err
	}
	if err := t.del(bucketNetworkNames, n.Name); err != nil {
		return err
	}
	return t.del(bucketNetworks, n.ID)
}

// ClaimAddress records addr on network as container id's; an address
// already held is an errdefs.ErrConflict error.
func (t *Tx) ClaimAddress(network, addr, id string) error {
	if err := t.ensureNetworks(); err != nil {
		return err
	}
	var holder string
	ok, err := t.get(bucketAddresses, network+"/"+addr, &holder)
	if err != nil {
		return err
	}
	if ok && holder != id {
		return errdefs.Conflictf("Address already in use: %s", addr)
	}
	return t.put(bucketAddresses, network+"/"+addr, id)
}

// AddressHolder says which container holds addr on network.
func (t *Tx) AddressHolder(network, addr string) (string, bool, error) {
	var holder string
	ok, err := t.get(bucketAddresses, network+"/"+addr, &holder)
	return holder, ok, err
}

// ReleaseAddress frees addr on network.
func (t *Tx) ReleaseAddress(network, addr string) error {
	if err := t.ensureNetworks(); err != nil {
		return err
	}
	return t.del(bucketAddresses, network+"/"+addr)
}

// PutEndpoint stores ep.
func (t *Tx) PutEndpoint(ep *Endpoint) error {
	if err := t.ensureNetworks(); err != nil {
		return err
	}
	return t.put(bucketEndpoints, ep.ContainerID+"/"+ep.NetworkID, ep)
}

// DeleteEndpoint removes ep's record.
func (t *Tx) DeleteEndpoint(ep *Endpoint) error {
	if err := t.ensureNetworks(); err != nil {
		return err
	}
	return t.del(bucketEndpoints, ep.ContainerID+"/"+ep.NetworkID)
}

// Endpoints calls fn for every endpoint of container id, or of every
// container when id is empty.
func (t *Tx) Endpoints(id string, fn func(ep *Endpoint) error) error {
	return each(t, bucketEndpoints, func(k string, ep *Endpoint) error {
		if id != "" && !strings.HasPrefix(k, id+"/") {
			return nil
		}
		return fn(ep)
	})
}
