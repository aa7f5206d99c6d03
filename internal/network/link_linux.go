package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Bridge is a network's bridge interface on the host, and the gateway
// addresses it holds (with the subnets' prefix lengths).
type Bridge struct {
	Name  string
	Addrs []netip.Prefix
	// MTU is the bridge's and its veths' MTU; 0 is that of the host's
	// default route interface, at most 1500.
	MTU int
}

// BridgeLink is a bridge as it is on the host.
type BridgeLink struct {
	Index, MTU int
	// gsoIPv4 and gso are its GSO sizes, IPv4's and the others'.
	gsoIPv4, gso uint32
}

func bridgeLink(l netlink.Link) BridgeLink {
	a := l.Attrs()
	return BridgeLink{Index: a.Index, MTU: a.MTU, gsoIPv4: a.GSOIPv4MaxSize, gso: a.GSOMaxSize}
}

// LookupBridge returns bridge name, or ok=false when it does not exist.
func LookupBridge(name string) (BridgeLink, bool, error) {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return BridgeLink{}, false, nil
	}
	if err != nil {
		return BridgeLink{}, false, fmt.Errorf("bridge %s: %w", name, err)
	}
	if l.Type() != "bridge" {
		return BridgeLink{}, false, fmt.Errorf("interface %s exists and is not a bridge", name)
	}
	return bridgeLink(l), true, nil
}

// CreateBridge makes bridge b, gives it its addresses and brings it up,
// and turns on forwarding (what Docker does too). A bridge that
// exists already is taken as it is.
func CreateBridge(b Bridge) (BridgeLink, error) {
	mtu := b.MTU
	if mtu == 0 {
		mtu = uplinkMTU()
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = b.Name, mtu
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
		return BridgeLink{}, fmt.Errorf("create bridge %s: %w", b.Name, err)
	}
	l, err := netlink.LinkByName(b.Name)
	if err != nil {
		return BridgeLink{}, fmt.Errorf("bridge %s: %w", b.Name, err)
	}
	for _, a := range b.Addrs {
		if a.Addr().Is6() {
			if err := sysctl("net/ipv6/conf/"+b.Name+"/disable_ipv6", "0"); err != nil {
				return BridgeLink{}, err
			}
		}
		addr := &netlink.Addr{IPNet: ipNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return BridgeLink{}, fmt.Errorf("bridge %s: address %s: %w", b.Name, a, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return BridgeLink{}, fmt.Errorf("bridge %s: up: %w", b.Name, err)
	}
	if err := sysctl("net/ipv4/ip_forward", "1"); err != nil {
		return BridgeLink{}, err
	}
	for _, a := range b.Addrs {
		if a.Addr().Is6() {
			if err := sysctl("net/ipv6/conf/all/forwarding", "1"); err != nil {
				return BridgeLink{}, err
			}
		}
	}
	return bridgeLink(l), nil
}

// DeleteBridge removes bridge name; a missing one is no error.
func DeleteBridge(name string) error { return deleteLink(name) }

func deleteLink(name string) error {
	// The kernel deletes links by index; looked up by name first, one
	// that is not there is no error.
	link, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err == nil {
		err = netlink.LinkDel(link)
	}
	if err != nil && !errors.As(err, &nf) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete interface %s: %w", name, err)
	}
	return nil
}

// uplinkMTU is the MTU of the host's default route's interface, at
// most 1500, so that containers' packets leave the host unfragmented.
func uplinkMTU() int {
	routes, err := dump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, unix.AF_INET) })
	if err != nil {
		return 1500
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.IP != nil && !r.Dst.IP.IsUnspecified() {
			continue
		}
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().MTU < 1500 && l.Attrs().MTU >= 1280 {
			return l.Attrs().MTU
		}
	}
	return 1500
}

// Endpoint is a container's interface on a bridge.
type Endpoint struct {
	// HostVeth is the host's end; Interface the container's (eth0...).
	HostVeth, Interface string
	MAC                 net.HardwareAddr
	// Addrs are the container's addresses with the subnets' prefix
	// lengths; Gateways, when set, get the default routes.
	Addrs    []netip.Prefix
	Gateways []netip.Addr
}

// AddEndpoint makes ep's veth pair, the host's end a port of bridge br,
// the container's end inside the namespace that ns (a handle there) and
// nsFd (a descriptor of it) name, with its addresses and routes, up.
func AddEndpoint(ns *netlink.Handle, nsFd int, br BridgeLink, ep Endpoint) error {
	la := netlink.NewLinkAttrs()
	la.Name, la.MasterIndex, la.MTU, la.Flags = ep.HostVeth, br.Index, br.MTU, net.FlagUp
	v6 := hasIPv6(ep.Addrs)
	hostVethGSO(&la, br, v6)
	veth := &netlink.Veth{LinkAttrs: la, PeerName: ep.Interface, PeerHardwareAddr: ep.MAC,
		PeerNamespace: netlink.NsFd(nsFd), PeerMTU: uint32(br.MTU)}
	err := netlink.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) {
		// The same container's veth of its last run, whose namespace
		// the kernel has not freed yet.
		deleteLink(ep.HostVeth)
		err = netlink.LinkAdd(veth)
	}
	if err != nil {
		return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
	}
	l, err := ns.LinkByName(ep.Interface)
	if err == nil {
		raiseGSO(ns, l, veth, br, v6)
		err = configure(ns, l, ep)
	} else {
		err = fmt.Errorf("container interface %s: %w", ep.Interface, err)
	}
	if err != nil {
		deleteLink(ep.HostVeth)
		return err
	}
	return nil
}

func configure(ns *netlink.Handle, l netlink.Link, ep Endpoint) error {
	for _, a := range ep.Addrs {
		addr := &netlink.Addr{IPNet: ipNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := ns.AddrAdd(l, addr); err != nil {
			return fmt.Errorf("container interface %s: address %s: %w", ep.Interface, a, err)
		}
	}
	if err := ns.LinkSetUp(l); err != nil {
		return fmt.Errorf("container interface %s: up: %w", ep.Interface, err)
	}
	for _, gw := range ep.Gateways {
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice()}
		if err := ns.RouteAdd(r); err != nil {
			return fmt.Errorf("container default route via %s: %w", gw, err)
		}
	}
	return nil
}

// SetDefaultRoutes makes the default routes of the namespace at nsPath
// go via gws on interface ifname, replacing those it has: a container
// whose gateway network is disconnected takes another one's.
func SetDefaultRoutes(nsPath, ifname string, gws []netip.Addr) error {
	h, f, err := OpenNetNS(nsPath)
	if err != nil {
		return err
	}
	defer f.Close()
	defer h.Close()
	l, err := h.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("container interface %s: %w", ifname, err)
	}
	for _, gw := range gws {
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: gw.AsSlice()}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("container default route via %s: %w", gw, err)
		}
	}
	return nil
}

// DeleteEndpoint removes the veth pair whose host end is hostVeth; a
// missing one is no error.
func DeleteEndpoint(hostVeth string) error { return deleteLink(hostVeth) }

// RemoveInterface removes interface name inside the namespace at
// nsPath (a disconnect from a running container).
func RemoveInterface(nsPath, name string) error {
	h, f, err := OpenNetNS(nsPath)
	if err != nil {
		return err
	}
	defer f.Close()
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return h.LinkDel(l)
}

// OpenNetNS returns a netlink handle in the namespace at path, and the
// namespace's file, which the caller closes with the handle.
func OpenNetNS(path string) (*netlink.Handle, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("network namespace: %w", err)
	}
	h, err := netlink.NewHandleAt(nsHandle(f))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	return h, f, nil
}

// Interfaces lists the names of the interfaces in the namespace that
// h is a handle of.
func Interfaces(h *netlink.Handle) ([]string, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		out = append(out, l.Attrs().Name)
	}
	return out, nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func sysctl(key, value string) error {
	path := "/proc/sys/" + key
	if b, err := os.ReadFile(path); err == nil && string(b) == value+"\n" {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// HostRoutes are the destinations of the host's IPv4 routes other than
// the default one: subnets a new network must not overlap.
func HostRoutes() []netip.Prefix {
	routes, err := dump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() || r.Dst.IP.IsLoopback() {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		bits, _ := r.Dst.Mask.Size()
		if bits == 32 {
			continue // a host route (the local table's addresses)
		}
		out = append(out, netip.PrefixFrom(a, bits).Masked())
	}
	return out
}

// dump runs a netlink dump again while the kernel says that what it
// dumped changed meanwhile (another program adding links or routes), so
// that none is missed: a route missed is a subnet taken twice.
func dump[T any](list func() ([]T, error)) ([]T, error) {
	for tries := 0; ; tries++ {
		out, err := list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || tries == 20 {
			return out, err
		}
	}
}
