package network

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
)

// iptNatChain is berth's chain in iptables' nat table, where nftables
// cannot be used; its filter rules go in IptablesChain.
const iptNatChain = "BERTH-POSTROUTING"

// iptables runs one iptables (or ip6tables) command.
type iptables string

func (bin iptables) run(args ...string) ([]byte, error) {
	out, err := exec.Command(string(bin), append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// chain makes chain in table, jumped to from the top of from, unless it
// is there.
func (bin iptables) chain(table, chain, from string) error {
	if _, err := bin.run("-t", table, "-n", "-L", chain); err != nil {
		if _, err := bin.run("-t", table, "-N", chain); err != nil {
			return err
		}
	}
	if _, err := bin.run("-t", table, "-C", from, "-j", chain); err != nil {
		if _, err := bin.run("-t", table, "-I", from, "1", "-j", chain); err != nil {
			return err
		}
	}
	return nil
}

// installIptables is InstallRules with iptables: the same rules as in
// berth's nftables table, in berth's own chains. In iptables the first
// ACCEPT ends the walk of FORWARD, so each network's drops go at the top
// of the chain and its ACCEPT at the bottom: a packet from one network
// to another meets the drop before the accept.
//
//	filter BERTH-FORWARD (from FORWARD):
//	    -o BR ! -i BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//	    -o BR ! -i BR -m conntrack --ctstate DNAT -j ACCEPT
//	    -o BR ! -i BR -j DROP
//	    -i BR ! -o BR -j DROP                  (internal only)
//	    ...
//	    -i BR -j ACCEPT
//	nat BERTH-POSTROUTING (from POSTROUTING):
//	    -s SUBNET ! -o BR -j MASQUERADE         (not internal)
func installIptables(r Rules) error {
	if err := removeIptables(RuleTag(r.ID)); err != nil {
		return err
	}
	if err := removeIptablesOrphans(); err != nil {
		return err
	}
	tag := []string{"-m", "comment", "--comment", RuleTag(r.ID)}
	with := func(rule ...string) []string { return append(rule, tag...) }
	for _, bin := range r.binaries() {
		if err := bin.chain("filter", IptablesChain, "FORWARD"); err != nil {
			return err
		}
		if err := bin.chain("nat", iptNatChain, "POSTROUTING"); err != nil {
			return err
		}
		top := [][]string{
			with("-o", r.Bridge, "!", "-i", r.Bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
			with("-o", r.Bridge, "!", "-i", r.Bridge, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"),
			with("-o", r.Bridge, "!", "-i", r.Bridge, "-j", "DROP"),
		}
		if r.Internal {
			top = append(top, with("-i", r.Bridge, "!", "-o", r.Bridge, "-j", "DROP"))
		}
		for i := len(top) - 1; i >= 0; i-- {
			if _, err := bin.run(append([]string{"-t", "filter", "-I", IptablesChain, "1"}, top[i]...)...); err != nil {
				return err
			}
		}
		if _, err := bin.run(append([]string{"-t", "filter", "-A", IptablesChain}, with("-i", r.Bridge, "-j", "ACCEPT")...)...); err != nil {
			return err
		}
		if r.Internal {
			continue
		}
		for _, s := range r.Subnets {
			if (bin == "ip6tables") != s.Addr().Is6() {
				continue
			}
			if _, err := bin.run(append([]string{"-t", "nat", "-A", iptNatChain}, with("-s", s.String(), "!", "-o", r.Bridge, "-j", "MASQUERADE")...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// binaries are iptables, and ip6tables for a network with IPv6.
func (r Rules) binaries() []iptables {
	bins := []iptables{"iptables"}
	for _, s := range r.Subnets {
		if s.Addr().Is6() {
			return append(bins, "ip6tables")
		}
	}
	return bins
}

// removeIptables deletes the rules that carry tag from berth's chains.
func removeIptables(tag string) error {
	return eachTagged(tag, func(bin iptables, table, chain string, rule []string) error {
		_, err := bin.run(append([]string{"-t", table, "-D", chain}, rule...)...)
		return err
	})
}

// removeIptablesOrphans deletes berth's rules whose bridge is gone from
// the host, as delOrphans does in nftables: those of a network's rules
// (comment RuleTag) and those that let a bridge through FORWARD's DROP
// policy (comment "berth"), left by a root thrown away without `network
// rm`, or a bridge someone deleted by hand. They match nothing, and a
// network whose bridge is made again gets its rules again with it.
func removeIptablesOrphans() error {
	gone := map[string]bool{}
	orphan := func(rule []string) bool {
		c := ArgAfter(rule, "--comment")
		if c != "berth" && !strings.HasPrefix(c, RuleTag("")) {
			return false
		}
		name := ArgAfter(rule, "-i")
		if name == "" {
			name = ArgAfter(rule, "-o")
		}
		if name == "" {
			return false
		}
		if _, seen := gone[name]; !seen {
			_, err := netlink.LinkByName(name)
			var nf netlink.LinkNotFoundError
			gone[name] = errors.As(err, &nf)
		}
		return gone[name]
	}
	return eachRule(orphan, func(bin iptables, table, chain string, rule []string) error {
		_, err := bin.run(append([]string{"-t", table, "-D", chain}, rule...)...)
		return err
	})
}

// ArgAfter is the argument that follows flag in rule, "" without one.
func ArgAfter(rule []string, flag string) string {
	for i, a := range rule {
		if a == flag && i+1 < len(rule) {
			return rule[i+1]
		}
	}
	return ""
}

func countIptables(tag string) (int, error) {
	n := 0
	err := eachTagged(tag, func(iptables, string, string, []string) error { n++; return nil })
	return n, err
}

// eachTagged calls fn with each rule of berth's chains that carries tag,
// as the arguments that name it.
func eachTagged(tag string, fn func(bin iptables, table, chain string, rule []string) error) error {
	return eachRule(func(rule []string) bool { return containsArg(rule, tag) }, fn)
}

// eachRule calls fn with each rule of berth's chains that match selects,
// as the arguments that name it.
func eachRule(match func(rule []string) bool, fn func(bin iptables, table, chain string, rule []string) error) error {
	for _, bin := range []iptables{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(string(bin)); err != nil {
			continue
		}
		for _, tc := range [][2]string{{"filter", IptablesChain}, {"nat", iptNatChain}} {
			out, err := bin.run("-t", tc[0], "-S", tc[1])
			if err != nil {
				continue // no such chain: nothing of ours
			}
			for _, line := range strings.Split(string(out), "\n") {
				args := SplitRule(line)
				if len(args) < 2 || args[0] != "-A" || !match(args[2:]) {
					continue
				}
				if err := fn(bin, tc[0], tc[1], args[2:]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// SplitRule splits a line of `iptables -S` into arguments: words, and
// double-quoted strings (a comment) with their quotes removed.
func SplitRule(line string) []string {
	var args []string
	var cur strings.Builder
	quoted, in := false, false
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == '\\' && quoted && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case ch == '"':
			quoted, in = !quoted, true
		case ch == ' ' && !quoted:
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args
}

func containsArg(args []string, s string) bool {
	for _, a := range args {
		if a == s {
			return true
		}
	}
	return false
}
