package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	for _, tc := range []struct {
		subnet, gw, rng string
		wantGW          string
		ok              bool
	}{
		{"10.1.0.0/16", "", "", "10.1.0.1", true},
		{"10.1.0.0/16", "10.1.0.254", "10.1.1.0/24", "10.1.0.254", true},
		{"10.1.0.1/16", "", "", "", false},         // host bits
		{"10.1.0.0/16", "10.2.0.1", "", "", false}, // gateway outside
		{"10.1.0.0/16", "", "10.2.0.0/24", "", false},
		{"10.1.0.0/31", "", "", "", false},
		{"10.1.0.0/24", "10.1.0.255", "", "", false}, // broadcast
		{"fd00:1::/64", "", "", "fd00:1::1", true},
		{"nonsense", "", "", "", false},
	} {
		s, err := ParseSubnet(tc.subnet, tc.gw, tc.rng)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSubnet(%q, %q, %q) = %v, want ok=%v", tc.subnet, tc.gw, tc.rng, err, tc.ok)
			continue
		}
		if tc.ok && s.Gateway.String() != tc.wantGW {
			t.Errorf("ParseSubnet(%q) gateway = %s, want %s", tc.subnet, s.Gateway, tc.wantGW)
		}
	}
}

func TestNextSkipsUsedGatewayAndBroadcast(t *testing.T) {
	s, err := ParseSubnet("10.9.0.0/29", "", "")
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Addr]bool{}
	var got []string
	for {
		a, err := s.Next(func(a netip.Addr) (bool, error) { return used[a], nil })
		if err != nil {
			break
		}
		used[a] = true
		got = append(got, a.String())
	}
	want := []string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"}
	if len(got) != len(want) {
		t.Fatalf("Next handed out %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Next handed out %v, want %v", got, want)
		}
	}
	// A released address is handed out again.
	delete(used, netip.MustParseAddr("10.9.0.4"))
	if a, _ := s.Next(func(a netip.Addr) (bool, error) { return used[a], nil }); a.String() != "10.9.0.4" {
		t.Errorf("after release Next = %s, want 10.9.0.4", a)
	}
}

func TestNextInRange(t *testing.T) {
	s, err := ParseSubnet("10.9.0.0/16", "", "10.9.3.0/24")
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Next(func(netip.Addr) (bool, error) { return false, nil })
	if err != nil || a.String() != "10.9.3.0" {
		t.Errorf("Next = %s, %v; want 10.9.3.0", a, err)
	}
}

func TestPickSubnet(t *testing.T) {
	pool := netip.MustParsePrefix("10.218.0.0/16")
	taken := []netip.Prefix{netip.MustParsePrefix("10.218.0.0/24"), netip.MustParsePrefix("10.218.1.128/25")}
	p, err := PickSubnet(pool, 24, taken)
	if err != nil || p.String() != "10.218.2.0/24" {
		t.Errorf("PickSubnet = %s, %v; want 10.218.2.0/24", p, err)
	}
	if _, err := PickSubnet(netip.MustParsePrefix("10.0.0.0/24"), 24, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err == nil {
		t.Error("PickSubnet of a full pool succeeded")
	}
}

func TestMAC(t *testing.T) {
	if got := MAC(netip.MustParseAddr("172.17.0.2")).String(); got != "02:42:ac:11:00:02" {
		t.Errorf("MAC = %s, want 02:42:ac:11:00:02", got)
	}
}

func TestSplitRule(t *testing.T) {
	got := SplitRule(`-A BERTH-FORWARD -o br1 ! -i br1 -m comment --comment "berth network abc" -j DROP`)
	want := []string{"-A", "BERTH-FORWARD", "-o", "br1", "!", "-i", "br1", "-m", "comment", "--comment", "berth network abc", "-j", "DROP"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("SplitRule = %q, want %q", got, want)
	}
}
