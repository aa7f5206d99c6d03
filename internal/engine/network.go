package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/network"
)

// Network modes, as Docker's HostConfig.NetworkMode names them.
const (
	ModeBridge = "bridge"
	ModeNone   = "none"
	ModeHost   = "host"
	// ModeContainer is the prefix of container:ID, the mode of a
	// container that shares another one's network namespace.
	ModeContainer = "container:"
)

// NetworkConfig is how a container asked to be networked (--network and
// the flags that go with it), kept in its Config.
type NetworkConfig struct {
	// Mode is "bridge" (attached to Networks, the default network or
	// user-defined ones), "none", "host" or "container:ID". An empty
	// mode, in records older than networks, is "none".
	Mode string `json:"mode,omitempty"`
	// Name is the network the user named (--network NAME), for inspect.
	Name     string       `json:"name,omitempty"`
	Networks []Attachment `json:"networks,omitempty"`
}

// Attachment is a container's membership of one network, with what was
// asked for there; the address it gets is its endpoint's.
type Attachment struct {
	NetworkID string   `json:"networkID"`
	Aliases   []string `json:"aliases,omitempty"`
	// IPv4, IPv6 and MAC were asked for (--ip, --ip6, --mac-address).
	IPv4 string `json:"ipv4,omitempty"`
	IPv6 string `json:"ipv6,omitempty"`
	MAC  string `json:"mac,omitempty"`
}

func (n *NetworkConfig) mode() string {
	if n.Mode == "" {
		return ModeNone
	}
	return n.Mode
}

// NetworkRequest is what create's flags ask for: --network and the
// settings of the container on that network.
type NetworkRequest struct {
	Network          string
	Aliases          []string
	IPv4, IPv6, MAC  string
	HostnameGiven    bool
	DNSGiven         bool
	ExtraHostsGiven  bool
	PublishRequested bool
}

// resolveNetwork turns a create's network request into the container's
// NetworkConfig, checking it as Docker does.
func (e *Engine) resolveNetwork(req NetworkRequest) (NetworkConfig, error) {
	var nc NetworkConfig
	mode := req.Network
	if mode == "" || mode == "default" {
		mode = ModeBridge
	}
	userOnly := func() error {
		if len(req.Aliases) > 0 {
			return errdefs.Invalidf("network-scoped aliases are only supported for user-defined networks")
		}
		if req.IPv4 != "" || req.IPv6 != "" {
			return errdefs.Invalidf("user specified IP address is supported on user defined networks only")
		}
		return nil
	}
	switch {
	case mode == ModeNone || mode == ModeHost:
		if err := userOnly(); err != nil {
			return nc, err
		}
		if req.MAC != "" {
			return nc, errdefs.Invalidf("conflicting options: mac-address and the network mode")
		}
		nc.Mode = mode
		return nc, nil
	case strings.HasPrefix(mode, ModeContainer):
		for _, c := range []struct {
			set bool
			msg string
		}{
			{req.HostnameGiven, "conflicting options: hostname and the network mode"},
			{req.DNSGiven, "conflicting options: dns and the network mode"},
			{req.ExtraHostsGiven, "conflicting options: custom host-to-IP mapping and the network mode"},
			{req.MAC != "", "conflicting options: mac-address and the network mode"},
			{req.PublishRequested, "conflicting options: port publishing and the container type network mode"},
		} {
			if c.set {
				return nc, errdefs.Invalidf("%s", c.msg)
			}
		}
		if err := userOnly(); err != nil {
			return nc, err
		}
		target, err := e.Lookup(strings.TrimPrefix(mode, ModeContainer))
		if err != nil {
			return nc, err
		}
		nc.Mode = ModeContainer + target.ID
		return nc, nil
	}
	n, err := e.LookupNetwork(mode)
	if err != nil {
		return nc, err
	}
	switch n.Driver {
	case "host", "null":
		return e.resolveNetwork(NetworkRequest{Network: map[string]string{"host": ModeHost, "null": ModeNone}[n.Driver],
			MAC: req.MAC, Aliases: req.Aliases, IPv4: req.IPv4, IPv6: req.IPv6})
	}
	if n.Predefined {
		if err := userOnly(); err != nil {
			return nc, err
		}
	}
	a, err := checkAttachment(n, req.Aliases, req.IPv4, req.IPv6, req.MAC)
	if err != nil {
		return nc, err
	}
	nc.Mode, nc.Name, nc.Networks = ModeBridge, n.Name, []Attachment{a}
	return nc, nil
}

// checkAttachment checks what a container asks for on network n.
func checkAttachment(n *metadata.Network, aliases []string, ipv4, ipv6, mac string) (Attachment, error) {
	a := Attachment{NetworkID: n.ID, Aliases: aliases, MAC: mac}
	if ipv4 != "" {
		ip, err := netip.ParseAddr(ipv4)
		if err != nil || !ip.Is4() {
			return a, errdefs.Invalidf("invalid IPv4 address: %s", ipv4)
		}
		s, err := network.ParseSubnet(n.Subnet, n.Gateway, "")
		if err != nil || !s.Usable(ip) {
			return a, errdefs.Invalidf("invalid endpoint settings: requested IP address %s is not in subnet %s of network %s, or is its gateway", ipv4, n.Subnet, n.Name)
		}
		a.IPv4 = ip.String()
	}
	if ipv6 != "" {
		ip, err := netip.ParseAddr(ipv6)
		if err != nil || !ip.Is6() {
			return a, errdefs.Invalidf("invalid IPv6 address: %s", ipv6)
		}
		s, err := network.ParseSubnet(n.Subnet6, n.Gateway6, "")
		if !n.EnableIPv6 || err != nil || !s.Usable(ip) {
			return a, errdefs.Invalidf("invalid endpoint settings: requested IPv6 address %s is not in an IPv6 subnet of network %s", ipv6, n.Name)
		}
		a.IPv6 = ip.String()
	}
	if mac != "" {
		hw, err := parseMAC(mac)
		if err != nil {
			return a, err
		}
		a.MAC = hw
	}
	if err := checkAliases(aliases); err != nil {
		return a, errdefs.Invalidf("invalid network alias: %v", err)
	}
	return a, nil
}

func parseMAC(s string) (string, error) {
	hw, err := netParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", errdefs.Invalidf("invalid MAC address: %s", s)
	}
	if hw[0]&1 == 1 {
		return "", errdefs.Invalidf("invalid MAC address: %s is a multicast address", s)
	}
	return hw.String(), nil
}

// netnsPath is where container id's network namespace is kept while it
// runs on a bridge: a file beside the runtime's state, on its tmpfs.
func (e *Engine) netnsPath(id string) string {
	return filepath.Join(filepath.Dir(e.Runtime.Root), "netns", id)
}

// vethName is the host end of container id's veth on network nid:
// unique on the host, and at most 15 characters.
func vethName(id, nid string) string {
	h := sha256.Sum256([]byte(id + "/" + nid))
	return "bv" + hex.EncodeToString(h[:])[:12]
}

// netUp gives container c, about to start, its network, and says which
// network namespace its spec joins ("" for a new, empty one) and
// whether it shares the host's. It also writes the container's
// /etc/hosts and /etc/resolv.conf for that network.
func (e *Engine) netUp(c *metadata.Container, cfg *Config) (nsPath string, host bool, err error) {
	nc := &cfg.Network
	dir := e.dir(c.ID)
	switch mode := nc.mode(); {
	case mode == ModeNone:
		return "", false, nil
	case mode == ModeHost:
		resolv := []byte(nil)
		if len(cfg.DNS)+len(cfg.DNSSearch)+len(cfg.DNSOptions) == 0 {
			resolv, _ = os.ReadFile("/etc/resolv.conf")
		}
		if resolv != nil {
			if err := writePublic(filepath.Join(dir, "resolv.conf"), resolv); err != nil {
				return "", false, err
			}
		}
		return "", true, nil
	case strings.HasPrefix(mode, ModeContainer):
		target := strings.TrimPrefix(mode, ModeContainer)
		tc, err := e.Lookup(target)
		if err != nil {
			return "", false, err
		}
		st, err := e.Runtime.State(tc.ID)
		if err != nil || e.status(tc) != StatusRunning || st.Pid == 0 {
			return "", false, errdefs.Conflictf("cannot join network of a non running container: %s", shortID(tc.ID))
		}
		// The container sees the other one's names and resolver.
		for _, f := range []string{"hosts", "resolv.conf", "hostname"} {
			if b, err := os.ReadFile(filepath.Join(e.dir(tc.ID), f)); err == nil {
				if err := writePublic(filepath.Join(dir, f), b); err != nil {
					return "", false, err
				}
			}
		}
		return "/proc/" + strconv.Itoa(st.Pid) + "/ns/net", false, nil
	}
	nsPath = e.netnsPath(c.ID)
	eps, reused, err := e.attachAll(c, nc, nsPath)
	if err != nil {
		return "", false, err
	}
	if !reused {
		if err := e.writeNetFiles(c, cfg, eps); err != nil {
			e.netDown(c)
			return "", false, err
		}
	}
	return nsPath, false, nil
}

// attachAll puts container c on each of its networks, in a network
// namespace of its own kept at nsPath. A container that a monitor
// restarts keeps the namespace and endpoints it has.
func (e *Engine) attachAll(c *metadata.Container, nc *NetworkConfig, nsPath string) ([]*metadata.Endpoint, bool, error) {
	have, err := e.endpointsOf(c.ID)
	if err != nil {
		return nil, false, err
	}
	if len(have) == len(nc.Networks) && len(have) > 0 && network.IsNetNS(nsPath) {
		return have, true, nil
	}
	if len(have) > 0 || fileExists(nsPath) {
		e.netDown(c)
	}
	if err := os.MkdirAll(filepath.Dir(nsPath), 0o700); err != nil {
		return nil, false, err
	}
	h, err := network.NewNetNS(nsPath)
	if err != nil {
		return nil, false, err
	}
	defer h.Close()
	f, err := os.Open(nsPath)
	if err != nil {
		network.RemoveNetNS(nsPath)
		return nil, false, err
	}
	defer f.Close()
	var eps []*metadata.Endpoint
	haveGateway := false
	for i, a := range nc.Networks {
		ep, gw, err := e.attachOne(c, a, "eth"+strconv.Itoa(i), !haveGateway, h, int(f.Fd()))
		if err != nil {
			e.netDown(c)
			return nil, false, err
		}
		haveGateway = haveGateway || gw
		eps = append(eps, ep)
	}
	return eps, false, nil
}

// attachOne gives container c an address on network a.NetworkID and an
// interface ifname there, inside the namespace h and fd name. When
// mayGateway says that none of its networks does yet, a network that is
// not internal becomes its gateway network: it takes the default route
// and the published ports, as Docker's gateway endpoint does; gateway
// says whether it did.
func (e *Engine) attachOne(c *metadata.Container, a Attachment, ifname string, mayGateway bool, h nsHandle, fd int) (ep *metadata.Endpoint, gateway bool, err error) {
	ep, n, err := e.allocate(c, a, ifname)
	if err != nil {
		return nil, false, err
	}
	gateway = mayGateway && !n.Internal
	br, err := e.bridgeUp(n)
	if err != nil {
		e.release(ep)
		return nil, false, err
	}
	v4, _ := netip.ParseAddr(ep.IPv4)
	s4, _ := netip.ParsePrefix(n.Subnet)
	gw4, _ := netip.ParseAddr(n.Gateway)
	hw, _ := netParseMAC(ep.MAC)
	link := network.Endpoint{HostVeth: ep.HostVeth, Interface: ifname, MAC: hw,
		Addrs: []netip.Prefix{netip.PrefixFrom(v4, s4.Bits())}}
	if gateway {
		link.Gateways = append(link.Gateways, gw4)
	}
	var v6 netip.Addr
	if ep.IPv6 != "" {
		v6, _ = netip.ParseAddr(ep.IPv6)
		s6, _ := netip.ParsePrefix(n.Subnet6)
		link.Addrs = append(link.Addrs, netip.PrefixFrom(v6, s6.Bits()))
		if gw6, err := netip.ParseAddr(n.Gateway6); err == nil && gateway {
			link.Gateways = append(link.Gateways, gw6)
		}
	}
	if err := network.AddEndpoint(h, fd, br, link); err != nil {
		e.release(ep)
		return nil, false, err
	}
	if err := endpointUp(e, EndpointInfo{ContainerID: c.ID, NetworkID: n.ID, Bridge: n.Bridge, HostVeth: ep.HostVeth, Publishes: publishes(c),
		IPv4: v4, IPv6: v6, Gateway: gateway}); err != nil {
		network.DeleteEndpoint(ep.HostVeth)
		e.release(ep)
		return nil, false, err
	}
	if !n.Predefined {
		err := e.writeRecords(n)
		if err == nil {
			err = dnsEnsureRunning(e.networkDir(n.ID), gw4)
		}
		if err != nil {
			endpointDown(e, EndpointInfo{ContainerID: c.ID, NetworkID: n.ID, Publishes: publishes(c)})
			network.DeleteEndpoint(ep.HostVeth)
			e.release(ep)
			return nil, false, err
		}
	}
	return ep, gateway, nil
}

// allocate claims container c's address on a.NetworkID, and records its
// endpoint, in one transaction: of many containers starting at once each
// gets an address of its own.
func (e *Engine) allocate(c *metadata.Container, a Attachment, ifname string) (*metadata.Endpoint, *metadata.Network, error) {
	var ep *metadata.Endpoint
	var n *metadata.Network
	err := e.DB.Update(func(tx *metadata.Tx) error {
		var err error
		if n, err = tx.Network(a.NetworkID); err != nil {
			return errdefs.NotFoundf("network %s not found: it was removed; disconnect the container from it", a.NetworkID)
		}
		ep = &metadata.Endpoint{ContainerID: c.ID, NetworkID: n.ID, Aliases: a.Aliases,
			HostVeth: vethName(c.ID, n.ID), Interface: ifname}
		if ep.ID, err = newID(); err != nil {
			return err
		}
		s, err := network.ParseSubnet(n.Subnet, n.Gateway, n.IPRange)
		if err != nil {
			return err
		}
		ip, err := claim(tx, n.ID, s, a.IPv4, c.ID)
		if err != nil {
			return err
		}
		ep.IPv4 = ip.String()
		ep.MAC = a.MAC
		if ep.MAC == "" {
			ep.MAC = network.MAC(ip).String()
		}
		if n.EnableIPv6 {
			s6, err := network.ParseSubnet(n.Subnet6, n.Gateway6, "")
			if err != nil {
				return err
			}
			ip6, err := claim(tx, n.ID, s6, a.IPv6, c.ID)
			if err != nil {
				return err
			}
			ep.IPv6 = ip6.String()
		}
		return tx.PutEndpoint(ep)
	})
	return ep, n, err
}

// claim takes want on network nid for container id, or the lowest free
// address of s when want is empty.
func claim(tx *metadata.Tx, nid string, s network.Subnet, want, id string) (netip.Addr, error) {
	if want != "" {
		ip, err := netip.ParseAddr(want)
		if err != nil {
			return ip, err
		}
		return ip, tx.ClaimAddress(nid, ip.String(), id)
	}
	ip, err := s.Next(func(a netip.Addr) (bool, error) {
		_, used, err := tx.AddressHolder(nid, a.String())
		return used, err
	})
	if err != nil {
		return ip, err
	}
	return ip, tx.ClaimAddress(nid, ip.String(), id)
}

// release frees an endpoint's addresses and its record.
func (e *Engine) release(ep *metadata.Endpoint) error {
	return e.DB.Update(func(tx *metadata.Tx) error { return releaseTx(tx, ep) })
}

func releaseTx(tx *metadata.Tx, ep *metadata.Endpoint) error {
	for _, ip := range []string{ep.IPv4, ep.IPv6} {
		if ip == "" {
			continue
		}
		if holder, ok, err := tx.AddressHolder(ep.NetworkID, ip); err != nil {
			return err
		} else if ok && holder == ep.ContainerID {
			if err := tx.ReleaseAddress(ep.NetworkID, ip); err != nil {
				return err
			}
		}
	}
	return tx.DeleteEndpoint(ep)
}

func (e *Engine) endpointsOf(id string) ([]*metadata.Endpoint, error) {
	var eps []*metadata.Endpoint
	err := e.DB.View(func(tx *metadata.Tx) error {
		return tx.Endpoints(id, func(ep *metadata.Endpoint) error {
			eps = append(eps, ep)
			return nil
		})
	})
	return eps, err
}

// netDown takes container c off its networks: its addresses, endpoint
// records and network namespace. It is safe to call more than once, and
// on a container that has none.
//
// The veths go with the namespace: the kernel destroys them when it
// frees the namespace, in the background, where deleting each one here
// would wait for an RCU grace period (tens of milliseconds).
func (e *Engine) netDown(c *metadata.Container) error {
	nsPath := e.netnsPath(c.ID)
	if cfg, err := configOf(c); err == nil && cfg.Network.mode() != ModeBridge && !fileExists(nsPath) {
		return nil // only a bridge mode container has endpoints
	}
	// A read first: most calls (a second one for the same stop, a
	// container that never ran) find nothing to release, and a write
	// waits for the disk.
	eps, err := e.endpointsOf(c.ID)
	// The kernel's part goes while the addresses' release waits for the
	// disk: removing rules and unmounting the namespace each wait for
	// the kernel (an RCU grace period). The published ports go first, so
	// that no connection is sent to an interface on its way out.
	downs := make(chan error, 1)
	go func() {
		var errs []error
		pub := publishes(c)
		for _, ep := range eps {
			errs = append(errs, endpointDown(e, EndpointInfo{ContainerID: c.ID, NetworkID: ep.NetworkID, Publishes: pub}))
		}
		if err := network.RemoveNetNS(nsPath); err != nil {
			// The namespace stays; its veths must not.
			for _, ep := range eps {
				network.DeleteEndpoint(ep.HostVeth)
			}
			errs = append(errs, err)
		}
		downs <- errors.Join(errs...)
	}()
	if err == nil && len(eps) > 0 {
		err = e.DB.Update(func(tx *metadata.Tx) error {
			for _, ep := range eps {
				if err := releaseTx(tx, ep); err != nil {
					return err
				}
			}
			return nil
		})
	}
	errs := []error{err}
	for _, ep := range eps {
		if n, err := e.networkByID(ep.NetworkID); err == nil && !n.Predefined {
			errs = append(errs, e.writeRecords(n))
		}
	}
	return errors.Join(append(errs, <-downs)...)
}

// dropNetNS makes spec s share the host's network namespace.
func dropNetNS(s *specs.Spec) {
	var keep []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			keep = append(keep, ns)
		}
	}
	s.Linux.Namespaces = keep
}

// writeNetFiles writes the container's /etc/hosts, with its addresses,
// and its /etc/resolv.conf: the host's resolvers (loopback ones
// replaced by their upstream servers), or the --dns servers, or on a
// user-defined network only the network's own resolver at its gateway,
// which forwards to them.
func (e *Engine) writeNetFiles(c *metadata.Container, cfg *Config, eps []*metadata.Endpoint) error {
	dir := e.dir(c.ID)
	var own []string
	for _, ep := range eps {
		own = append(own, ep.IPv4)
		if ep.IPv6 != "" {
			own = append(own, ep.IPv6)
		}
	}
	gw := e.hostGatewayFor(cfg)
	if err := writePublic(filepath.Join(dir, "hosts"), []byte(hostsFile(cfg, own, gw))); err != nil {
		return err
	}
	return writePublic(filepath.Join(dir, "resolv.conf"), e.resolvFile(cfg, eps))
}

// resolvFile is the /etc/resolv.conf of a container with cfg on
// endpoints eps (see writeNetFiles). Its nameserver is the resolver of
// the first user-defined network it joined that is not internal (its
// gateway network, when that is user-defined), or else of the first
// internal one.
func (e *Engine) resolvFile(cfg *Config, eps []*metadata.Endpoint) []byte {
	var dnsServer, internal string
	for _, a := range cfg.Network.Networks {
		for _, ep := range eps {
			if ep.NetworkID != a.NetworkID {
				continue
			}
			n, err := e.networkByID(ep.NetworkID)
			switch {
			case err != nil || n.Predefined:
			case !n.Internal && dnsServer == "":
				dnsServer = n.Gateway
			case n.Internal && internal == "":
				internal = n.Gateway
			}
		}
	}
	if dnsServer == "" {
		dnsServer = internal
	}
	r := network.HostResolv()
	if len(cfg.DNS) > 0 {
		r.Servers = cfg.DNS
	}
	if dnsServer != "" {
		// The network's resolver forwards to the --dns servers.
		r.Servers = []string{dnsServer}
	}
	if len(cfg.DNSSearch) > 0 {
		r.Search = cfg.DNSSearch
	}
	if len(cfg.DNSOptions) > 0 {
		r.Options = cfg.DNSOptions
	}
	if dnsServer != "" {
		r.Options = withNdots(r.Options)
	}
	return []byte(r.Format())
}

// withNdots adds ndots:0 to the options of a container whose nameserver
// is its network's resolver, unless they set ndots, as Docker does: a
// container's name is then asked as it is before the search domains are
// tried.
func withNdots(opts []string) []string {
	for _, o := range opts {
		if strings.HasPrefix(o, "ndots:") {
			return opts
		}
	}
	return append(opts[:len(opts):len(opts)], "ndots:0")
}

// hostsFile is a container's /etc/hosts: localhost, its host name on
// its own addresses (127.0.1.1 without any), and the --add-host entries,
// host-gateway as gw.
func hostsFile(cfg *Config, own []string, gw string) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if len(own) == 0 {
		own = []string{"127.0.1.1"}
	}
	for _, ip := range own {
		b.WriteString(ip + "\t" + cfg.Hostname + "\n")
	}
	b.WriteString(hostsLines(cfg.ExtraHosts, gw))
	return b.String()
}

// hostGateway is the address --add-host NAME:host-gateway means: the
// default bridge network's gateway, as in Docker.
func (e *Engine) hostGateway() (string, error) {
	n, err := e.defaultNetwork()
	if err != nil {
		return "", err
	}
	return n.Gateway, nil
}

// nsHandle is a netlink handle in a container's network namespace.
type nsHandle = *netlink.Handle

var netParseMAC = net.ParseMAC

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// lockFile takes an exclusive flock on path, made when missing; the
// returned func releases it.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// writePublic replaces path with b atomically, readable by every user:
// the files a container's processes read at /etc.
func writePublic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// hostGatewayFor is host-gateway's address for a container with cfg, or
// "" when it asks for none (no network is made for nothing).
func (e *Engine) hostGatewayFor(cfg *Config) string {
	for _, x := range cfg.ExtraHosts {
		if strings.HasSuffix(x, ":"+hostGatewayName) {
			gw, _ := e.hostGateway()
			return gw
		}
	}
	return ""
}

// sharedHostname is the host name of the container whose network
// namespace nc shares (container:ID), which Docker gives the new one too;
// "" for other modes.
func (e *Engine) sharedHostname(nc NetworkConfig) string {
	if !strings.HasPrefix(nc.Mode, ModeContainer) {
		return ""
	}
	c, err := e.Lookup(strings.TrimPrefix(nc.Mode, ModeContainer))
	if err != nil {
		return ""
	}
	if cfg, err := configOf(c); err == nil {
		return cfg.Hostname
	}
	return ""
}

// drop takes network id out of n's networks, and says whether it was
// there.
func (n *NetworkConfig) drop(id string) bool {
	var keep []Attachment
	for _, a := range n.Networks {
		if a.NetworkID != id {
			keep = append(keep, a)
		}
	}
	dropped := len(keep) != len(n.Networks)
	n.Networks = keep
	return dropped
}
