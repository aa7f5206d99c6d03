package network

import (
	"os"

	"github.com/google/nftables"
)

// EnvFirewall chooses where berth's rules go: "nftables" (berth's own
// table, the default wherever the kernel has nf_tables) or "iptables"
// (berth's own chains, through the iptables command, the default where
// nftables cannot be used).
const EnvFirewall = "BERTH_FIREWALL"

// useIptables says whether this host's rules go through iptables.
func useIptables() bool {
	switch os.Getenv(EnvFirewall) {
	case "iptables":
		return true
	case "nftables":
		return false
	}
	c, err := NftConn()
	if err != nil {
		return true
	}
	_, err = c.ListTablesOfFamily(nftables.TableFamilyINet)
	return err != nil
}

// UsesIptables says whether this host's rules go through iptables:
// where nftables cannot be used, or with BERTH_FIREWALL=iptables.
func UsesIptables() bool { return useIptables() }

// InstallRules puts network r's rules in place, replacing any it had:
// in berth's nftables table, or in berth's iptables chains where only
// iptables can be used.
func InstallRules(r Rules) error {
	if useIptables() {
		return installIptables(r)
	}
	return installNft(r)
}

// RemoveRules removes network id's rules, wherever they are.
func RemoveRules(id string) error {
	if useIptables() {
		return removeIptables(RuleTag(id))
	}
	return removeNft(id)
}

// CountRules counts the rules that carry tag.
func CountRules(tag string) (int, error) {
	if useIptables() {
		return countIptables(tag)
	}
	return countNft(tag)
}
