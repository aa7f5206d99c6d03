package portmap

import (
	"slices"
	"testing"

	berthnet "berth/internal/network"
)

// TestIptablesQuoting: a rule written for iptables-restore reads back as
// the same arguments, as iptables -S prints them.
func TestIptablesQuoting(t *testing.T) {
	args := []string{"-p", "tcp", "-m", "comment", "--comment", `berth-port abc net tcp 0.0.0.0 8080 80`,
		"-j", "DNAT", "--to-destination", "[fd00::2]:80", `odd "quoted\ arg`}
	line := "-A BERTH-PORTS"
	for _, a := range args {
		line += " " + quoteArg(a)
	}
	got := berthnet.SplitRule(line)
	if want := append([]string{"-A", "BERTH-PORTS"}, args...); !slices.Equal(got, want) {
		t.Errorf("splitRule(%q) = %q, want %q", line, got, want)
	}
	if c := berthnet.ArgAfter(got, "--comment"); c != args[5] {
		t.Errorf("argAfter --comment = %q", c)
	}
	if h, ok := parseComment(args[5]); !ok || h.ID != "abc" || h.Network != "net" || h.HostPort != 8080 {
		t.Errorf("parseComment(%q) = %+v, %v", args[5], h, ok)
	}
}
