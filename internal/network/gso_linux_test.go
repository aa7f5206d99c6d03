package network

import "testing"

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
