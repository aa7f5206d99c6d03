package network

import (
	"fmt"
	"net"
	"net/netip"

	"berth/internal/errdefs"
)

// Defaults: the default bridge network's subnet, and the pool user
// networks' /24 subnets are carved from. Both stay clear of Docker's
// 172.17.0.0/16 (and its 172.18-31 pool) and podman's 10.88.0.0/16.
const (
	DefaultSubnet = "10.217.0.0/16"
	DefaultPool   = "10.218.0.0/16"
	// PoolSize is the prefix length of a subnet taken from the pool.
	PoolSize = 24
)

// Subnet is a network's address plan for one family.
type Subnet struct {
	Prefix  netip.Prefix
	Gateway netip.Addr
	// Range is where containers' addresses come from; the whole
	// prefix when not set.
	Range netip.Prefix
}

// ParseSubnet checks a subnet, gateway and range as `network create`
// takes them (--subnet, --gateway, --ip-range); an empty gateway is the
// subnet's first address.
func ParseSubnet(subnet, gateway, ipRange string) (Subnet, error) {
	var s Subnet
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return s, errdefs.Invalidf("invalid subnet %s: want an address and a prefix length such as 10.1.2.0/24", subnet)
	}
	if p != p.Masked() {
		return s, errdefs.Invalidf("invalid subnet %s: it has host bits set; the subnet is %s", subnet, p.Masked())
	}
	if p.Bits() > maxBits(p.Addr())-2 {
		return s, errdefs.Invalidf("invalid subnet %s: too small to hold a gateway and a container", subnet)
	}
	s.Prefix, s.Range = p, p
	if ipRange != "" {
		r, err := netip.ParsePrefix(ipRange)
		if err != nil || r != r.Masked() {
			return s, errdefs.Invalidf("invalid ip-range %s: want a prefix such as 10.1.2.128/25", ipRange)
		}
		if !p.Contains(r.Addr()) || r.Bits() < p.Bits() {
			return s, errdefs.Invalidf("ip-range %s is not inside subnet %s", ipRange, subnet)
		}
		s.Range = r
	}
	if gateway == "" {
		s.Gateway = p.Addr().Next()
	} else if s.Gateway, err = netip.ParseAddr(gateway); err != nil {
		return s, errdefs.Invalidf("invalid gateway %s: not an IP address", gateway)
	}
	if !p.Contains(s.Gateway) || s.Gateway == p.Addr() || s.Gateway == lastAddr(p) && s.Gateway.Is4() {
		return s, errdefs.Invalidf("gateway %s is not a host address of subnet %s", s.Gateway, subnet)
	}
	return s, nil
}

func maxBits(a netip.Addr) int {
	if a.Is4() {
		return 32
	}
	return 128
}

// lastAddr is p's last address (the broadcast address of an IPv4 one).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Usable says whether a may be handed to a container: inside the range,
// neither the gateway nor the subnet's own or broadcast address.
func (s Subnet) Usable(a netip.Addr) bool {
	return s.Range.Contains(a) && a != s.Gateway && a != s.Prefix.Addr() && !(a.Is4() && a == lastAddr(s.Prefix))
}

// Next returns the lowest usable address that used does not report,
// or a conflict error when the range is full.
func (s Subnet) Next(used func(netip.Addr) (bool, error)) (netip.Addr, error) {
	end := lastAddr(s.Range)
	for a := s.Range.Addr(); ; a = a.Next() {
		if s.Usable(a) {
			u, err := used(a)
			if err != nil {
				return a, err
			}
			if !u {
				return a, nil
			}
		}
		if a == end {
			return netip.Addr{}, errdefs.Conflictf("no available IP addresses left in %s", s.Range)
		}
	}
}

// MAC is the hardware address a container with IPv4 address a gets, as
// Docker derives it: 02:42 and the address, so that an address taken
// again comes with the same MAC and no neighbour has a stale entry.
func MAC(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// PickSubnet returns the first /size subnet of pool that overlaps none
// of taken.
func PickSubnet(pool netip.Prefix, size int, taken []netip.Prefix) (netip.Prefix, error) {
	if size < pool.Bits() || size > maxBits(pool.Addr()) {
		return netip.Prefix{}, fmt.Errorf("pool %s cannot hold /%d subnets", pool, size)
	}
	p := netip.PrefixFrom(pool.Addr(), size)
	for pool.Contains(p.Addr()) {
		free := true
		for _, t := range taken {
			if t.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
		next := lastAddr(p).Next()
		if !next.IsValid() {
			break
		}
		p = netip.PrefixFrom(next, size)
	}
	return netip.Prefix{}, errdefs.Conflictf("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network (%s)", pool)
}
