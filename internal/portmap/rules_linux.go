package portmap

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	berthnet "berth/internal/network"
)

// Publisher adds and removes the rules of published ports in one
// nftables table of the inet family, or in iptables chains of its own
// (Iptables). It only ever touches its own chains, and in them only
// rules whose comment it wrote.
type Publisher struct {
	// Table is the nftables table, "berth" for berth itself.
	Table string
	// LockPath is a file that serialises berth commands that publish,
	// so that two never take one port.
	LockPath string
	// Iptables puts the rules in iptables chains instead, for a host
	// where nftables cannot be used (see iptables_linux.go).
	Iptables bool
	// NoShortcut leaves the host's own connections to published ports
	// to the rules too, without the connect shortcut (shortcut_linux.go).
	NoShortcut bool
}

// Target is the container that receives a publisher's traffic.
type Target struct {
	// ID is the container's ID, and Network the network whose
	// addresses these are; they tag every rule.
	ID, Network string
	// Addr4 and Addr6 are the container's addresses; an invalid one
	// means the container has none of that family.
	Addr4, Addr6 netip.Addr
	// Iface is the host's interface towards the container (its bridge).
	// Traffic from 127.0.0.0/8 may leave through it (route_localnet),
	// and traffic that comes back out of it is masqueraded, so that a
	// container can reach its own and its neighbours' published ports
	// through the host's addresses.
	Iface string
}

// The chains: DNAT for packets that arrive (from outside or from a
// container) and for packets the host sends to its own addresses, then
// masquerade where the reply would otherwise bypass the host.
const (
	chainPrerouting  = "ports-prerouting"
	chainOutput      = "ports-output"
	chainPostrouting = "ports-postrouting"
	commentPrefix    = "berth-port "
)

// rule comments read
// "berth-port ID NETWORK PROTO HOSTIP HOSTPORT CONTAINERPORT".
func comment(h Held) string {
	return fmt.Sprintf("%s%s %s %s %s %d %d", commentPrefix, h.ID, firstOf(h.Network, "-"), h.Proto, h.HostIP, h.HostPort, h.ContainerPort)
}

func parseComment(s string) (h Held, ok bool) {
	f := strings.Fields(strings.TrimPrefix(s, commentPrefix))
	if !strings.HasPrefix(s, commentPrefix) || len(f) != 6 {
		return h, false
	}
	hp, err1 := strconv.ParseUint(f[4], 10, 16)
	cp, err2 := strconv.ParseUint(f[5], 10, 16)
	if err1 != nil || err2 != nil {
		return h, false
	}
	h = Held{ID: f[0], Network: f[1], Binding: Binding{Proto: f[2], HostIP: f[3], HostPort: uint16(hp), ContainerPort: uint16(cp)}}
	if h.Network == "-" {
		h.Network = ""
	}
	return h, true
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (p *Publisher) table() *nftables.Table {
	return &nftables.Table{Name: p.Table, Family: nftables.TableFamilyINet}
}

func (p *Publisher) chains(t *nftables.Table) []*nftables.Chain {
	accept := nftables.ChainPolicyAccept
	mk := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeNAT, Hooknum: hook, Priority: prio, Policy: &accept}
	}
	return []*nftables.Chain{
		mk(chainPrerouting, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest),
		mk(chainOutput, nftables.ChainHookOutput, nftables.ChainPriorityNATDest),
		mk(chainPostrouting, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource),
	}
}

// lock takes the publisher's lock file; the returned func releases it.
func (p *Publisher) lock() (func(), error) { return lockFile(p.LockPath) }

// lockFile takes an exclusive flock on path, made when missing; the
// returned func releases it.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// Held is a binding that a container holds now, through a network.
type Held struct {
	ID, Network string
	Binding
}

// of says whether h is container id's through network (any network
// when empty).
func (h Held) of(id, network string) bool {
	return h.ID == id && (network == "" || h.Network == network)
}

// List returns every binding published now, read from the rules.
func (p *Publisher) List() ([]Held, error) {
	if p.Iptables {
		_, held, err := p.iptList()
		return held, err
	}
	conn, err := berthnet.NftConn()
	if err != nil {
		return nil, err
	}
	rules, err := p.rules(conn, chainPrerouting)
	if err != nil {
		return nil, err
	}
	var out []Held
	for _, r := range rules {
		c, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		if h, ok := parseComment(c); ok {
			out = append(out, h)
		}
	}
	return out, nil
}

// rules lists a chain of the table; a table or chain not made yet has none.
func (p *Publisher) rules(conn *nftables.Conn, chain string) ([]*nftables.Rule, error) {
	t := p.table()
	rules, err := conn.GetRules(t, &nftables.Chain{Name: chain, Table: t})
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list nftables chain %s %s: %w", p.Table, chain, err)
	}
	return rules, nil
}

// Publish picks the host ports of bindings, checks that each is free,
// and adds the rules that forward them to t, all in one nftables
// transaction (or iptables-restore per family): on any error, nothing is
// added. It returns the bindings as published, one per address family,
// with their host ports.
//
// A container publishes its ports through one network: when it already
// has rules (it is on several networks), Publish adds nothing.
func (p *Publisher) Publish(t Target, bindings []Binding) ([]Binding, error) {
	if len(bindings) == 0 {
		return nil, nil
	}
	unlock, err := p.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	held, err := p.List()
	if err != nil {
		return nil, err
	}
	for _, h := range held {
		if h.ID == t.ID {
			return nil, nil
		}
	}
	var out []Binding
	for _, b := range bindings {
		bs, err := allocate(b, t, held)
		if err != nil {
			return nil, err
		}
		for _, x := range bs {
			held = append(held, Held{ID: t.ID, Network: t.Network, Binding: x})
		}
		out = append(out, bs...)
	}
	if err := p.addRules(t, out); err != nil {
		return nil, err
	}
	// The ports work through the rules alone: a shortcut that cannot be
	// had changes nothing but their speed.
	_ = p.syncShortcut(held, shortcutEntries(t, out, held))
	return out, nil
}

func (p *Publisher) addRules(t Target, bindings []Binding) error {
	if p.Iptables {
		if err := routeLocalnet(t); err != nil {
			return err
		}
		rules, err := p.iptRules(t, bindings)
		if err != nil {
			return err
		}
		return p.iptApply(nil, rules)
	}
	conn, err := berthnet.NftConn()
	if err != nil {
		return err
	}
	if err := p.queueRules(conn, t, bindings); err != nil {
		return err
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("add nftables rules for published ports: %w", err)
	}
	return nil
}

// queueRules queues, on conn, the rules that forward bindings to t.
func (p *Publisher) queueRules(conn *nftables.Conn, t Target, bindings []Binding) error {
	if err := routeLocalnet(t); err != nil {
		return err
	}
	tab, chains := p.table(), p.chains(p.table())
	// Adding the table and its base chains again, when they are there,
	// costs a commit that waits for the kernel (10 to 30 ms here), where
	// adding rules alone takes well under one.
	have, err := p.haveChains(conn)
	if err != nil {
		return err
	}
	if !have {
		tab = conn.AddTable(tab)
		for i, c := range p.chains(tab) {
			chains[i] = conn.AddChain(c)
		}
	}
	pre, out, post := chains[0], chains[1], chains[2]
	for _, b := range bindings {
		ud := userdata.AppendString(nil, userdata.TypeComment, comment(Held{ID: t.ID, Network: t.Network, Binding: b}))
		host := netip.MustParseAddr(b.HostIP)
		dst := t.Addr4
		if host.Is6() {
			dst = t.Addr6
		}
		dnat := dnatExprs(host, dst, b)
		conn.AddRule(&nftables.Rule{Table: tab, Chain: pre, Exprs: dnat, UserData: ud})
		conn.AddRule(&nftables.Rule{Table: tab, Chain: out, Exprs: dnat, UserData: ud})
		if t.Iface == "" {
			continue
		}
		// Back out of the interface it came in, a container to its own
		// or a neighbour's port through a host address: the answer must
		// come back through the host. With br_netfilter such a packet is
		// bridged, not routed, and has no input interface here; then
		// only a container's packets to itself need it, as the bridge
		// tracks its neighbours' connections.
		routed := append(toContainer(dst, b), ifname(expr.MetaKeyIIFNAME, t.Iface)...)
		routed = append(routed, ifname(expr.MetaKeyOIFNAME, t.Iface)...)
		conn.AddRule(&nftables.Rule{Table: tab, Chain: post, Exprs: append(routed, &expr.Masq{}), UserData: ud})
		self := append(toContainer(dst, b), saddr(dst)...)
		conn.AddRule(&nftables.Rule{Table: tab, Chain: post, Exprs: append(self, &expr.Masq{}), UserData: ud})
		if dst.Is4() {
			// From the host's 127.0.0.0/8, which the container cannot answer.
			lo := append(toContainer(dst, b), ifname(expr.MetaKeyOIFNAME, t.Iface)...)
			lo = append(lo, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127}})
			conn.AddRule(&nftables.Rule{Table: tab, Chain: post, Exprs: append(lo, &expr.Masq{}), UserData: ud})
		}
	}
	return nil
}

// haveChains says whether the publisher's table has its three chains.
func (p *Publisher) haveChains(conn *nftables.Conn) (bool, error) {
	all, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list nftables chains: %w", err)
	}
	n := 0
	for _, c := range all {
		if c.Table.Name == p.Table && (c.Name == chainPrerouting || c.Name == chainOutput || c.Name == chainPostrouting) {
			n++
		}
	}
	return n == 3, nil
}

// routeLocalnet lets the host's own 127.0.0.1 connections be DNATed out
// of t's interface, which the kernel drops as martians unless told.
func routeLocalnet(t Target) error {
	if t.Addr4.IsValid() && t.Iface != "" {
		path := filepath.Join("/proc/sys/net/ipv4/conf", t.Iface, "route_localnet")
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("allow 127.0.0.1 to the container: %w", err)
		}
	}
	return nil
}

// Move makes the ports that container t.ID publishes through network
// from go to t instead, on the same host ports, in one nftables
// transaction: a container whose gateway network is disconnected keeps
// its ports through the next one. The host ports stay berth's all along,
// so they are not checked again. A binding of an address family that t
// has no address of is dropped. It returns the bindings published to t;
// none when the container published nothing through from.
func (p *Publisher) Move(from string, t Target) ([]Binding, error) {
	unlock, err := p.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The shortcut's entries of the old network first, as Unpublish does:
	// they must not outlive its rules.
	held, err := p.List()
	if err != nil {
		return nil, err
	}
	var keep []Held
	for _, h := range held {
		if h.ID != t.ID || h.Network != from {
			keep = append(keep, h)
		}
	}
	if len(keep) < len(held) {
		if err := p.syncShortcut(keep, nil); err != nil {
			return nil, err
		}
	}
	moved, err := p.move(from, t)
	if err != nil || len(moved) == 0 {
		return moved, err
	}
	if held, err := p.List(); err == nil {
		_ = p.syncShortcut(held, shortcutEntries(t, moved, held))
	}
	return moved, nil
}

func (p *Publisher) move(from string, t Target) ([]Binding, error) {
	if p.Iptables {
		return p.iptMove(from, t)
	}
	conn, err := berthnet.NftConn()
	if err != nil {
		return nil, err
	}
	var moved []Binding
	n := 0
	for _, chain := range []string{chainPrerouting, chainOutput, chainPostrouting} {
		rules, err := p.rules(conn, chain)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			c, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			h, ok := parseComment(c)
			if !ok || h.ID != t.ID || h.Network != from {
				continue
			}
			if err := conn.DelRule(r); err != nil {
				return nil, err
			}
			n++
			host, err := netip.ParseAddr(h.HostIP)
			if chain == chainPrerouting && err == nil && (host.Is4() && t.Addr4.IsValid() || host.Is6() && t.Addr6.IsValid()) {
				moved = append(moved, h.Binding)
			}
		}
	}
	if n == 0 {
		return nil, nil
	}
	if err := p.queueRules(conn, t, moved); err != nil {
		return nil, err
	}
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("move the nftables rules of published ports: %w", err)
	}
	return moved, nil
}

// Unpublish removes the rules of container id on network (every
// network when empty), in one transaction. It is safe to call when
// there are none.
func (p *Publisher) Unpublish(id, network string) error {
	unlock, err := p.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if p.Iptables {
		rules, gone, keep, err := p.iptSelect(id, network)
		if err != nil || len(rules) == 0 {
			return err
		}
		if len(gone) > 0 {
			if err := p.syncShortcut(keep, nil); err != nil {
				return err
			}
		}
		return p.iptApply(rules, nil)
	}
	conn, err := berthnet.NftConn()
	if err != nil {
		return err
	}
	n := 0
	var keep []Held
	gone := false
	for _, chain := range []string{chainPrerouting, chainOutput, chainPostrouting} {
		rules, err := p.rules(conn, chain)
		if err != nil {
			return err
		}
		for _, r := range rules {
			c, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			h, ok := parseComment(c)
			switch {
			case !ok:
			case h.of(id, network):
				if err := conn.DelRule(r); err != nil {
					return err
				}
				n++
				gone = gone || chain == chainPrerouting
			case chain == chainPrerouting:
				keep = append(keep, h)
			}
		}
	}
	if n == 0 {
		return nil
	}
	// The shortcut before the rules, which go at Flush: it must never
	// send a connection where the rules no longer would.
	if gone {
		if err := p.syncShortcut(keep, nil); err != nil {
			return err
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("remove nftables rules of published ports: %w", err)
	}
	return nil
}

// dnatExprs: packets of b's protocol to b's host port, on an address of
// this host (host, or any of its family), go to dst at the container port.
func dnatExprs(host, dst netip.Addr, b Binding) []expr.Any {
	family, daddrOff := byte(unix.NFPROTO_IPV4), uint32(16)
	if host.Is6() {
		family, daddrOff = unix.NFPROTO_IPV6, 24
	}
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
	}
	if !host.IsUnspecified() {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: daddrOff, Len: uint32(host.BitLen() / 8)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: host.AsSlice()})
	}
	e = append(e,
		&expr.Fib{Register: 1, ResultADDRTYPE: true, FlagDADDR: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
	e = append(e, l4Port(b.Proto, b.HostPort)...)
	return append(e,
		&expr.Immediate{Register: 1, Data: dst.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(b.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: uint32(family), RegAddrMin: 1, RegProtoMin: 2, Specified: true})
}

// toContainer matches packets that a DNAT rule of b sent to dst.
func toContainer(dst netip.Addr, b Binding) []expr.Any {
	family, daddrOff := byte(unix.NFPROTO_IPV4), uint32(16)
	if dst.Is6() {
		family, daddrOff = unix.NFPROTO_IPV6, 24
	}
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{family}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: daddrOff, Len: uint32(dst.BitLen() / 8)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: dst.AsSlice()},
	}
	e = append(e, l4Port(b.Proto, b.ContainerPort)...)
	return append(e,
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
}

var protoNumbers = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "sctp": unix.IPPROTO_SCTP}

// l4Port matches the protocol and the destination port, which TCP, UDP
// and SCTP all keep at offset 2 of their header.
func l4Port(proto string, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoNumbers[proto]}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func saddr(a netip.Addr) []expr.Any {
	off := uint32(12)
	if a.Is6() {
		off = 8
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(a.BitLen() / 8)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	}
}

func ifname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// ipsDstNAT is IPS_DST_NAT of the conntrack status bits
// (include/uapi/linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5
