package network

import (
	"testing"

	"github.com/vishvananda/netlink"
)

func TestBigTCPSize(t *testing.T) {
	for _, c := range []struct {
		name                  string
		tsoMax, gsoIPv4, want uint32
	}{
		{"kernel without BIG TCP for IPv4", 524280, 0, 0},
		{"device that takes 64 KiB", 65536, 65536, 0},
		{"device that takes less", 16384, 16384, 0},
		{"veth", 524280, 65536, 524280},
		{"already raised", 524280, 524280, 524280},
		{"device with a lower limit", 200000, 65536, 200000},
		{"above the kernel's ceiling", 1 << 20, 65536, 524280},
	} {
		if got := bigTCPSize(c.tsoMax, c.gsoIPv4); got != c.want {
			t.Errorf("%s: bigTCPSize(%d, %d) = %d, want %d", c.name, c.tsoMax, c.gsoIPv4, got, c.want)
		}
	}
}

func TestHostVethGSO(t *testing.T) {
	for _, c := range []struct {
		name            string
		br              BridgeLink
		v6              bool
		wantIPv4, want6 uint32
	}{
		{"kernel without BIG TCP for IPv4", BridgeLink{}, true, 0, 0},
		{"bridge not raised yet", BridgeLink{gsoIPv4: 65536, gso: 65536}, true, 0, 0},
		{"bridge raised, IPv4 endpoint", BridgeLink{gsoIPv4: 524280, gso: 524280}, false, 524280, 0},
		{"bridge raised, IPv6 endpoint", BridgeLink{gsoIPv4: 524280, gso: 524280}, true, 524280, 524280},
		{"bridge raised for IPv4 only", BridgeLink{gsoIPv4: 200000, gso: 65536}, true, 200000, 0},
	} {
		la := netlink.NewLinkAttrs()
		hostVethGSO(&la, c.br, c.v6)
		if la.GSOIPv4MaxSize != c.wantIPv4 || la.GSOMaxSize != c.want6 {
			t.Errorf("%s: gso_ipv4_max_size %d, gso_max_size %d; want %d, %d", c.name, la.GSOIPv4MaxSize, la.GSOMaxSize, c.wantIPv4, c.want6)
		}
	}
}
