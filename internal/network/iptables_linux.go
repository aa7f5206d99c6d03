package network

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// IptablesChain is berth's chain in iptables' filter table. It exists
// only where iptables' FORWARD chain drops by policy, as dockerd sets
// it: in nftables a packet that any base chain at a hook drops is
// dropped, so berth's own table cannot let its networks' packets
// through there. berth then jumps from FORWARD to this chain, which
// accepts its bridges' packets, and it adds and removes only those
// rules.
const IptablesChain = "BERTH-FORWARD"

// ForwardBlocked says whether iptables-nft's FORWARD chain drops by
// policy while berth's chain has no rule for bridge (dockerd started
// after the bridge was made, or the rules were flushed). Where FORWARD
// accepts, that is one netlink dump.
func ForwardBlocked(bridge string) bool {
	c, err := NftConn()
	if err != nil {
		return false
	}
	list, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false
	}
	var drop bool
	var ours *nftables.Chain
	for _, ch := range list {
		if ch.Table.Name != "filter" {
			continue
		}
		switch ch.Name {
		case "FORWARD":
			drop = ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop
		case IptablesChain:
			ours = ch
		}
	}
	if !drop {
		return false
	}
	if ours == nil {
		return true
	}
	rules, err := c.GetRules(ours.Table, ours)
	if err != nil {
		return true
	}
	// iptables-nft matches an interface with a comparison of its name
	// and the terminating NUL.
	name := append([]byte(bridge), 0)
	for _, r := range rules {
		for _, x := range r.Exprs {
			if cmp, ok := x.(*expr.Cmp); ok && bytes.HasPrefix(cmp.Data, name) {
				return false
			}
		}
	}
	return true
}

// AllowForward accepts the packets of bridges in iptables' and
// ip6tables' FORWARD where that chain's policy is DROP; elsewhere, and
// on a host without iptables, it changes nothing.
func AllowForward(bridges []string) error {
	for _, bin := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(bin); err != nil {
			continue
		}
		out, err := exec.Command(bin, "-w", "-S", "FORWARD").Output()
		if err != nil || !bytes.Contains(out, []byte("-P FORWARD DROP")) {
			continue
		}
		ipt := func(args ...string) error {
			out, err := exec.Command(bin, append([]string{"-w"}, args...)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, bytes.TrimSpace(out))
			}
			return nil
		}
		ensure := func(chain string, insert bool, rule ...string) error {
			if ipt(append([]string{"-C", chain}, rule...)...) == nil {
				return nil
			}
			if insert {
				return ipt(append([]string{"-I", chain, "1"}, rule...)...)
			}
			return ipt(append([]string{"-A", chain}, rule...)...)
		}
		if ipt("-n", "-L", IptablesChain) != nil {
			if err := ipt("-N", IptablesChain); err != nil {
				return err
			}
		}
		if err := ensure("FORWARD", true, "-j", IptablesChain); err != nil {
			return err
		}
		if err := removeIptablesOrphans(); err != nil {
			return err
		}
		for _, b := range bridges {
			for _, rule := range forwardRules(b) {
				if err := ensure(IptablesChain, false, rule...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// DisallowForward removes bridge's rules from berth's iptables chain.
func DisallowForward(bridge string) {
	for _, bin := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(bin); err != nil {
			continue
		}
		for _, rule := range forwardRules(bridge) {
			for exec.Command(bin, append([]string{"-w", "-D", IptablesChain}, rule...)...).Run() == nil {
			}
		}
	}
}

func forwardRules(bridge string) [][]string {
	c := []string{"-m", "comment", "--comment", "berth"}
	return [][]string{
		append([]string{"-i", bridge}, append(c, "-j", "ACCEPT")...),
		append([]string{"-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED,DNAT"}, append(c, "-j", "ACCEPT")...),
	}
}
