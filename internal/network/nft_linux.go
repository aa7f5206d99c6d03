package network

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TableName is berth's nftables table (family inet). berth changes no
// other table; within its own, each network's rules carry the comment
// RuleTag(network ID), so that they are removed with the network alone.
const TableName = "berth"

// Chains of berth's table.
const (
	ChainForward     = "forward"
	ChainPostrouting = "postrouting"
)

// RuleTag is the comment on network id's rules.
func RuleTag(id string) string { return "berth network " + id }

// Rules are what a network needs from the packet filter.
type Rules struct {
	ID, Bridge string
	Subnets    []netip.Prefix
	// Internal networks have no way out: no masquerade, and nothing
	// forwarded from the bridge elsewhere.
	Internal bool
}

func table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
}

func chains(t *nftables.Table) (fwd, post *nftables.Chain) {
	accept := nftables.ChainPolicyAccept
	fwd = &nftables.Chain{Name: ChainForward, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}
	post = &nftables.Chain{Name: ChainPostrouting, Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept}
	return fwd, post
}

// installNft puts network r's rules in berth's table, replacing any it
// had, in one transaction:
//
//	forward:     oifname BR iifname != BR ct state established,related accept
//	             oifname BR iifname != BR ct status dnat accept
//	             oifname BR iifname != BR drop
//	             iifname BR oifname != BR drop          (internal only)
//	postrouting: ip saddr SUBNET oifname != BR masquerade (not internal)
//
// So nothing from another network, or from outside, opens a connection
// to a container unless a published port's DNAT let it in, and an
// internal network's containers reach only each other and the host.
func installNft(r Rules) error {
	unlock, err := lockTable()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := NftConn()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := c.AddTable(table())
	fwd, post := chains(t)
	c.AddChain(fwd)
	c.AddChain(post)
	if err := delTagged(c, t, []*nftables.Chain{fwd, post}, RuleTag(r.ID)); err != nil {
		return err
	}
	if err := delOrphans(c, t, []*nftables.Chain{fwd, post}); err != nil {
		return err
	}
	tag := userdata.AppendString(nil, userdata.TypeComment, RuleTag(r.ID))
	add := func(ch *nftables.Chain, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs, UserData: tag})
	}
	in := append(ifname(expr.MetaKeyOIFNAME, r.Bridge, true), ifname(expr.MetaKeyIIFNAME, r.Bridge, false)...)
	add(fwd, append(append(in[:len(in):len(in)], ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)...), verdict(expr.VerdictAccept))...)
	add(fwd, append(append(in[:len(in):len(in)], ctBits(expr.CtKeySTATUS, ipsDstNAT)...), verdict(expr.VerdictAccept))...)
	add(fwd, append(in[:len(in):len(in)], verdict(expr.VerdictDrop))...)
	if r.Internal {
		out := append(ifname(expr.MetaKeyIIFNAME, r.Bridge, true), ifname(expr.MetaKeyOIFNAME, r.Bridge, false)...)
		add(fwd, append(out, verdict(expr.VerdictDrop))...)
	} else {
		for _, s := range r.Subnets {
			add(post, append(append(saddr(s), ifname(expr.MetaKeyOIFNAME, r.Bridge, false)...), &expr.Masq{})...)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: rules of network %s: %w", r.ID, err)
	}
	return nil
}

// removeNft removes network id's rules from berth's table.
func removeNft(id string) error {
	unlock, err := lockTable()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := NftConn()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := table()
	fwd, post := chains(t)
	if err := delTagged(c, t, []*nftables.Chain{fwd, post}, RuleTag(id)); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: remove rules of network %s: %w", id, err)
	}
	return nil
}

// countNft counts the rules in berth's table that carry tag.
func countNft(tag string) (int, error) {
	c, err := NftConn()
	if err != nil {
		return 0, err
	}
	t := table()
	fwd, post := chains(t)
	n := 0
	for _, ch := range []*nftables.Chain{fwd, post} {
		rules, err := c.GetRules(t, ch)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return 0, err
		}
		for _, r := range rules {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && s == tag {
				n++
			}
		}
	}
	return n, nil
}

// delTagged queues the deletion of every rule of chains that carries tag.
func delTagged(c *nftables.Conn, t *nftables.Table, chains []*nftables.Chain, tag string) error {
	for _, ch := range chains {
		rules, err := c.GetRules(t, ch)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // no table or chain yet: nothing of ours
			}
			return fmt.Errorf("nftables: list %s rules: %w", ch.Name, err)
		}
		for _, r := range rules {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && s == tag {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// delOrphans queues the deletion of berth's rules whose bridge is gone
// from the host: a root thrown away without `network rm`, or a bridge
// someone deleted by hand. They match nothing, and a network whose bridge
// is made again gets its rules again with it.
func delOrphans(c *nftables.Conn, t *nftables.Table, chains []*nftables.Chain) error {
	gone := map[string]bool{}
	for _, ch := range chains {
		rules, err := c.GetRules(t, ch)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("nftables: list %s rules: %w", ch.Name, err)
		}
		for _, r := range rules {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); !ok || !strings.HasPrefix(s, RuleTag("")) {
				continue
			}
			name := ruleBridge(r)
			if name == "" {
				continue
			}
			if _, seen := gone[name]; !seen {
				_, err := netlink.LinkByName(name)
				var nf netlink.LinkNotFoundError
				gone[name] = errors.As(err, &nf)
			}
			if gone[name] {
				if err := c.DelRule(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ruleBridge is the interface name the first ifname match of r compares
// with: the bridge of a rule InstallRules made.
func ruleBridge(r *nftables.Rule) string {
	for i, x := range r.Exprs {
		m, ok := x.(*expr.Meta)
		if !ok || (m.Key != expr.MetaKeyIIFNAME && m.Key != expr.MetaKeyOIFNAME) || i+1 >= len(r.Exprs) {
			continue
		}
		if cmp, ok := r.Exprs[i+1].(*expr.Cmp); ok {
			return strings.TrimRight(string(cmp.Data), "\x00")
		}
	}
	return ""
}

// ipsDstNAT is the conntrack status bit of a destination-NATed
// connection (IPS_DST_NAT in linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5

func ifname(key expr.MetaKey, name string, equal bool) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	op := expr.CmpOpEq
	if !equal {
		op = expr.CmpOpNeq
	}
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	zero := binaryutil.NativeEndian.PutUint32(0)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: zero},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: zero},
	}
}

// saddr matches packets of s's family whose source is in s.
func saddr(s netip.Prefix) []expr.Any {
	proto, off := byte(unix.NFPROTO_IPV4), uint32(12)
	if s.Addr().Is6() {
		proto, off = unix.NFPROTO_IPV6, 8
	}
	n := uint32(s.Addr().BitLen() / 8)
	mask := ipNet(s).Mask
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: s.Masked().Addr().AsSlice()},
	}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }
