package portmap

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	berthnet "berth/internal/network"
)

// Where nftables cannot be used, the same rules go through iptables and
// ip6tables, in chains of the publisher's own in the nat table (named
// after its Table: BERTH-PORTS and BERTH-PORTS-POST for berth):
//
//	PREROUTING, OUTPUT: -m addrtype --dst-type LOCAL -j BERTH-PORTS
//	BERTH-PORTS:        [-d HOSTIP] -p PROTO --dport HOSTPORT -j DNAT --to-destination ADDR:PORT
//	POSTROUTING:        -j BERTH-PORTS-POST
//	BERTH-PORTS-POST:   -o IFACE -s SUBNET -d ADDR -p PROTO --dport PORT -m conntrack --ctstate DNAT -j MASQUERADE
//	                    -o IFACE -s 127.0.0.0/8 -d ADDR -p PROTO --dport PORT -m conntrack --ctstate DNAT -j MASQUERADE
//
// SUBNET is each subnet of IFACE (the bridge): a container that reaches
// its own or a neighbour's published port through a host address, whose
// answer must come back through the host. Every rule carries the same
// comment as in nftables, and the rules of one change are applied with
// one iptables-restore per family, which applies them all or none.

func (p *Publisher) iptChains() (dnat, post string) {
	base := strings.ToUpper(p.Table)
	return base + "-PORTS", base + "-PORTS-POST"
}

// iptBinaries are the commands of each family: iptables, ip6tables.
var iptBinaries = []string{"iptables", "ip6tables"}

func iptFor(a netip.Addr) string {
	if a.Is6() {
		return "ip6tables"
	}
	return "iptables"
}

func iptRun(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// iptEnsureChains makes the publisher's chains in bin's nat table, and
// the jumps to them, unless they are there.
func (p *Publisher) iptEnsureChains(bin string) error {
	dnat, post := p.iptChains()
	for _, c := range []struct {
		chain, from string
		match       []string
	}{
		{dnat, "PREROUTING", []string{"-m", "addrtype", "--dst-type", "LOCAL"}},
		{dnat, "OUTPUT", []string{"-m", "addrtype", "--dst-type", "LOCAL"}},
		{post, "POSTROUTING", nil},
	} {
		if _, err := iptRun(bin, "-t", "nat", "-n", "-L", c.chain); err != nil {
			if _, err := iptRun(bin, "-t", "nat", "-N", c.chain); err != nil {
				return err
			}
		}
		jump := append(append([]string{}, c.match...), "-j", c.chain)
		if _, err := iptRun(bin, append([]string{"-t", "nat", "-C", c.from}, jump...)...); err != nil {
			if _, err := iptRun(bin, append([]string{"-t", "nat", "-I", c.from, "1"}, jump...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// iptRule is one rule of a chain, as the arguments after -A CHAIN.
type iptRule struct {
	bin, chain string
	args       []string
}

// iptList lists the rules of the publisher's chains that carry a
// comment it wrote, with what the comment says.
func (p *Publisher) iptList() ([]iptRule, []Held, error) {
	dnat, post := p.iptChains()
	var rules []iptRule
	var held []Held
	for _, bin := range iptBinaries {
		if _, err := exec.LookPath(bin); err != nil {
			continue
		}
		for _, chain := range []string{dnat, post} {
			out, err := iptRun(bin, "-t", "nat", "-S", chain)
			if err != nil {
				continue // no such chain: nothing published
			}
			for _, line := range strings.Split(out, "\n") {
				args := berthnet.SplitRule(line)
				if len(args) < 3 || args[0] != "-A" {
					continue
				}
				h, ok := parseComment(berthnet.ArgAfter(args, "--comment"))
				if !ok {
					continue
				}
				rules = append(rules, iptRule{bin, chain, args[2:]})
				if chain == dnat {
					held = append(held, h)
				}
			}
		}
	}
	return rules, held, nil
}

// iptRules are the rules that forward bindings to t.
func (p *Publisher) iptRules(t Target, bindings []Binding) ([]iptRule, error) {
	dnat, post := p.iptChains()
	subnets, err := ifaceSubnets(t.Iface)
	if err != nil {
		return nil, err
	}
	var out []iptRule
	for _, b := range bindings {
		host := netip.MustParseAddr(b.HostIP)
		dst := t.Addr4
		if host.Is6() {
			dst = t.Addr6
		}
		bin := iptFor(host)
		tag := []string{"-m", "comment", "--comment", comment(Held{ID: t.ID, Network: t.Network, Binding: b})}
		port := func(p uint16) []string {
			return []string{"-p", b.Proto, "-m", b.Proto, "--dport", fmt.Sprint(p)}
		}
		rule := []string{}
		if !host.IsUnspecified() {
			rule = append(rule, "-d", host.String())
		}
		rule = append(append(append(rule, port(b.HostPort)...), tag...),
			"-j", "DNAT", "--to-destination", net.JoinHostPort(dst.String(), fmt.Sprint(b.ContainerPort)))
		out = append(out, iptRule{bin, dnat, rule})
		if t.Iface == "" {
			continue
		}
		var sources []string
		for _, s := range subnets {
			if s.Addr().Is6() == dst.Is6() {
				sources = append(sources, s.String())
			}
		}
		if dst.Is4() {
			sources = append(sources, "127.0.0.0/8")
		}
		for _, src := range sources {
			masq := append([]string{"-o", t.Iface, "-s", src, "-d", dst.String()}, port(b.ContainerPort)...)
			masq = append(append(append(masq, "-m", "conntrack", "--ctstate", "DNAT"), tag...), "-j", "MASQUERADE")
			out = append(out, iptRule{bin, post, masq})
		}
	}
	return out, nil
}

// ifaceSubnets are the subnets of interface name's addresses; none
// without a name.
func ifaceSubnets(name string) ([]netip.Prefix, error) {
	if name == "" {
		return nil, nil
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("published ports: interface %s: %w", name, err)
	}
	addrs, err := netlink.AddrList(l, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("published ports: addresses of %s: %w", name, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		bits, _ := a.Mask.Size()
		if ok && !ip.Unmap().IsLinkLocalUnicast() {
			out = append(out, netip.PrefixFrom(ip.Unmap(), bits).Masked())
		}
	}
	return out, nil
}

// iptApply deletes del and appends add, with one iptables-restore per
// family, which applies all of its rules or none; when the second fails,
// the first is undone.
func (p *Publisher) iptApply(del, add []iptRule) error {
	var done []string
	for _, bin := range iptBinaries {
		script := iptScript(bin, del, add)
		if script == "" {
			continue
		}
		err := p.iptEnsureChains(bin)
		if err == nil {
			err = iptRestore(bin, script)
		}
		if err != nil {
			for _, b := range done {
				iptRestore(b, iptScript(b, add, del))
			}
			return err
		}
		done = append(done, bin)
	}
	return nil
}

// iptScript is the input of iptables-restore that deletes del and
// appends add, of bin's rules; "" when there are none.
func iptScript(bin string, del, add []iptRule) string {
	var b strings.Builder
	for _, set := range []struct {
		op    string
		rules []iptRule
	}{{"-D", del}, {"-A", add}} {
		for _, r := range set.rules {
			if r.bin != bin {
				continue
			}
			b.WriteString(set.op + " " + r.chain)
			for _, a := range r.args {
				b.WriteString(" " + quoteArg(a))
			}
			b.WriteString("\n")
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "*nat\n" + b.String() + "COMMIT\n"
}

func iptRestore(bin, script string) error {
	cmd := exec.Command(bin+"-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s-restore: %v: %s", bin, err, bytes.TrimSpace(out))
	}
	return nil
}

// quoteArg quotes an argument for iptables-restore, which splits its
// lines at spaces outside double quotes.
func quoteArg(a string) string {
	if a != "" && !strings.ContainsAny(a, " \"\\") {
		return a
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
}

// iptSelect returns the rules of container id through network (every
// network when empty), what their DNAT ones publish, and what the
// other DNAT rules do.
func (p *Publisher) iptSelect(id, network string) (sel []iptRule, held, others []Held, err error) {
	rules, _, err := p.iptList()
	if err != nil {
		return nil, nil, nil, err
	}
	dnat, _ := p.iptChains()
	for _, r := range rules {
		h, _ := parseComment(berthnet.ArgAfter(r.args, "--comment"))
		switch {
		case h.of(id, network):
			sel = append(sel, r)
			if r.chain == dnat {
				held = append(held, h)
			}
		case r.chain == dnat:
			others = append(others, h)
		}
	}
	return sel, held, others, nil
}

// iptMove is Move with iptables.
func (p *Publisher) iptMove(from string, t Target) ([]Binding, error) {
	rules, held, _, err := p.iptSelect(t.ID, from)
	if err != nil || len(rules) == 0 {
		return nil, err
	}
	var moved []Binding
	for _, h := range held {
		if host, err := netip.ParseAddr(h.HostIP); err == nil && (host.Is4() && t.Addr4.IsValid() || host.Is6() && t.Addr6.IsValid()) {
			moved = append(moved, h.Binding)
		}
	}
	if err := routeLocalnet(t); err != nil {
		return nil, err
	}
	add, err := p.iptRules(t, moved)
	if err != nil {
		return nil, err
	}
	if err := p.iptApply(rules, add); err != nil {
		return nil, err
	}
	return moved, nil
}
