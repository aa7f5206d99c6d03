package portmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"berth/internal/cgroup"
)

// The connect shortcut. A connection that the host opens to a port
// published on 127.0.0.1 is routed through lo, so its socket sizes its
// packets for lo (64 KiB) and every packet then goes through DNAT on its
// way to the bridge. The shortcut rewrites the address at connect(2)
// instead, in BPF programs on the host's cgroup2 root (cgroup/connect4
// and connect6), so that the socket connects straight to the container's
// address: the path, packet size and speed of a connection to that
// address, with no NAT. It also takes connections to [::1], which no rule
// can send out of lo. Two more programs (cgroup/getpeername4 and 6) make
// getpeername(2) give the address that was asked for, which the first
// keep in the socket's local storage. shortcut_prog_linux.go has them.
//
// The shortcut only ever takes a connection that the DNAT rules would
// have taken to the same place, or one to [::1], and only a TCP one, from
// a socket of the network namespace that published the port and not bound
// to an address yet. Everything else, and any host where the programs
// cannot be loaded, goes through the rules as before. Its map holds one
// entry per (namespace, address, port), each tagged with the publisher
// that made it; entries are added after the rules and removed before
// them, so that the map never sends a connection where the rules would
// not.
//
// The programs stay attached while the map has entries, whatever berth
// process made them, and are detached with the last one.
const (
	mapPorts = "berth_ports"
	mapPeers = "berth_peers"
)

// EnvShortcut turns the connect shortcut off when set to "off": the
// host's connections to published ports then go through the DNAT rules.
const EnvShortcut = "BERTH_PORT_SHORTCUT"

// shortcutLock serialises the shortcut's changes across berth processes,
// whatever their publisher: the programs and map are the host's.
var shortcutLock = "/run/berth/shortcut.lock"

// cgroup2Root is where the host's cgroup2 hierarchy is mounted: the
// programs go on its root, so that every process's connects see them.
func cgroup2Root() (string, error) {
	ms, err := cgroup.Mounts()
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if len(m.Controllers) == 0 {
			return m.MountPoint, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy is mounted")
}

// netnsCookie is the kernel's cookie of this process's network namespace.
func netnsCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
}

// shortcutProg is one of the shortcut's programs: its name and hook.
type shortcutProg struct {
	name    string
	at      ebpf.AttachType
	connect bool // connectProgram, else peerProgram
	v6      bool
}

// shortcutProgs in the order they are attached: getpeername's first, so
// that a connect rewritten is found there; detached the other way round.
var shortcutProgs = []shortcutProg{
	{"berth_peer4", ebpf.AttachCgroupInet4GetPeername, false, false},
	{"berth_peer6", ebpf.AttachCgroupInet6GetPeername, false, true},
	{"berth_connect4", ebpf.AttachCGroupInet4Connect, true, false},
	{"berth_connect6", ebpf.AttachCGroupInet6Connect, true, true},
}

// attachedProg is a program of the shortcut's found attached to root.
type attachedProg struct {
	*ebpf.Program
	shortcutProg
}

// attachedPorts finds the shortcut's programs attached to root, and
// their ports map when there are any.
func attachedPorts(rootFD int) (*ebpf.Map, []attachedProg, error) {
	var found *ebpf.Map
	var progs []attachedProg
	for _, sp := range shortcutProgs {
		q, err := link.QueryPrograms(link.QueryOptions{Target: rootFD, Attach: sp.at})
		if err != nil {
			return nil, nil, err
		}
		for _, ap := range q.Programs {
			p, err := ebpf.NewProgramFromID(ap.ID)
			if err != nil {
				continue // detached meanwhile
			}
			info, err := p.Info()
			if err != nil || info.Name != sp.name {
				p.Close()
				continue
			}
			progs = append(progs, attachedProg{p, sp})
			if !sp.connect || found != nil {
				continue
			}
			ids, _ := info.MapIDs()
			for _, id := range ids {
				m, err := ebpf.NewMapFromID(id)
				if err != nil {
					continue
				}
				if mi, err := m.Info(); err == nil && mi.Name == mapPorts {
					found = m
					break
				}
				m.Close()
			}
		}
	}
	return found, progs, nil
}

// attach loads the programs and their maps and attaches them to root;
// it returns the ports map and the programs, for the caller to close.
func attach(rootFD int) (*ebpf.Map, []attachedProg, error) {
	ports, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: mapPorts, Type: ebpf.Hash, KeySize: keySize, ValueSize: valueSize,
		MaxEntries: 65536, Flags: unix.BPF_F_NO_PREALLOC,
	})
	if err != nil {
		return nil, nil, err
	}
	peers, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: mapPeers, Type: ebpf.SkStorage, Flags: unix.BPF_F_NO_PREALLOC,
		Key: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
		Value: &btf.Array{
			Type:   &btf.Int{Name: "u8", Size: 1},
			Index:  &btf.Int{Name: "u32", Size: 4},
			Nelems: peerSize,
		},
		KeySize: 4, ValueSize: peerSize,
	})
	if err != nil {
		ports.Close()
		return nil, nil, err
	}
	defer peers.Close()
	var attached []attachedProg
	fail := func(err error) (*ebpf.Map, []attachedProg, error) {
		detach(rootFD, attached)
		for _, p := range attached {
			p.Close()
		}
		ports.Close()
		return nil, nil, err
	}
	for _, sp := range shortcutProgs {
		insts := peerProgram(peers, sp.v6)
		if sp.connect {
			insts = connectProgram(ports, peers, sp.v6)
		}
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: sp.name, Type: ebpf.CGroupSockAddr, AttachType: sp.at,
			Instructions: insts, License: "Apache",
		})
		if err != nil {
			return fail(err)
		}
		err = link.RawAttachProgram(link.RawAttachProgramOptions{
			Target: rootFD, Program: p, Attach: sp.at, Flags: unix.BPF_F_ALLOW_MULTI,
		})
		if err != nil {
			p.Close()
			return fail(err)
		}
		attached = append(attached, attachedProg{p, sp})
	}
	return ports, attached, nil
}

// detach takes progs off root, the connect ones first. It is done as
// far as it goes: programs left without their map send nothing anywhere.
func detach(rootFD int, progs []attachedProg) {
	for i := len(shortcutProgs) - 1; i >= 0; i-- {
		for _, p := range progs {
			if p.name == shortcutProgs[i].name {
				link.RawDetachProgram(link.RawDetachProgramOptions{Target: rootFD, Program: p.Program, Attach: p.at})
			}
		}
	}
}

// shortcutEntry is one connection the shortcut takes: a TCP connect to
// Host:HostPort goes to Dst:Port instead.
type shortcutEntry struct {
	Host     netip.Addr
	HostPort uint16
	Dst      netip.Addr
	Port     uint16
	ID       string // the container's
}

var (
	loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	loopback6 = netip.IPv6Loopback()
)

// hostAddr is a binding's host address; every IPv4 one when it has none.
func hostAddr(b Binding) (netip.Addr, bool) {
	if b.HostIP == "" {
		return netip.IPv4Unspecified(), true
	}
	a, err := netip.ParseAddr(b.HostIP)
	return a, err == nil
}

// shortcutHosts are the addresses whose TCP connects the shortcut takes
// for binding b: 127.0.0.1 and ::1 for every IPv4 address (docker-proxy
// answers at both), ::1 for every IPv6 address, the address itself for
// one address; none for UDP or SCTP.
func shortcutHosts(b Binding) []netip.Addr {
	a, ok := hostAddr(b)
	switch {
	case !ok || b.Proto != "tcp":
		return nil
	case a == netip.IPv4Unspecified():
		return []netip.Addr{loopback4, loopback6}
	case a == netip.IPv6Unspecified():
		return []netip.Addr{loopback6}
	}
	return []netip.Addr{a}
}

// shortcutEntries are the shortcut's entries for bindings published to
// t, with held the bindings published besides. ::1 goes to the container
// of an IPv6 binding when there is one for the port, which a connection
// to an IPv6 address belongs to, else to that of an IPv4 binding for
// every address, through its IPv4-mapped address.
func shortcutEntries(t Target, bindings []Binding, held []Held) []shortcutEntry {
	v6 := map[uint16]bool{}
	all := append([]Binding(nil), bindings...)
	for _, h := range held {
		all = append(all, h.Binding)
	}
	for _, b := range all {
		if a, ok := hostAddr(b); ok && b.Proto == "tcp" && (a == netip.IPv6Unspecified() || a == loopback6) {
			v6[b.HostPort] = true
		}
	}
	var out []shortcutEntry
	for _, b := range bindings {
		a, _ := hostAddr(b)
		dst := t.Addr4
		if a.Is6() {
			dst = t.Addr6
		}
		if !dst.IsValid() {
			continue
		}
		for _, h := range shortcutHosts(b) {
			if h == loopback6 && dst.Is4() && v6[b.HostPort] {
				continue
			}
			out = append(out, shortcutEntry{Host: h, HostPort: b.HostPort, Dst: dst, Port: b.ContainerPort, ID: t.ID})
		}
	}
	return out
}

// owner is the tag of the publisher's entries.
func (p *Publisher) owner() uint32 { return tag(p.Table) }

// syncShortcut brings this namespace's entries of the publisher to the
// bindings held (all of them, after the change at hand) and adds add. An
// entry stays only while the container it sends connections to holds a
// binding that gives its address and port. Adding is skipped where the
// shortcut is off or cannot be had; the entries of bindings no longer
// held are removed in any case, and an error says that one may be left.
func (p *Publisher) syncShortcut(held []Held, add []shortcutEntry) error {
	if p.NoShortcut || os.Getenv(EnvShortcut) == "off" {
		add = nil
	}
	unlock, err := lockFile(shortcutLock)
	if err != nil {
		return err
	}
	defer unlock()
	root, err := cgroup2Root()
	if err != nil {
		return nil // no cgroup2: no shortcut, and none to remove
	}
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(rootFD)
	ports, progs, err := attachedPorts(rootFD)
	if err != nil {
		return nil // the kernel has no such hooks
	}
	defer func() {
		for _, p := range progs {
			p.Close()
		}
	}()
	if ports == nil && len(add) == 0 {
		// Programs without their map send nothing anywhere: a detach
		// that fails leaves nothing wrong.
		detach(rootFD, progs)
		return nil
	}
	cookie, err := netnsCookie()
	if err != nil {
		return nil
	}
	if ports == nil {
		var made []attachedProg
		if ports, made, err = attach(rootFD); err != nil {
			return nil // an older kernel: the rules carry the traffic
		}
		progs = append(progs, made...)
	}
	defer ports.Close()
	// keep: for each key, the containers whose bindings give it.
	keep := map[string]map[uint32]bool{}
	for _, h := range held {
		for _, a := range shortcutHosts(h.Binding) {
			k := string(portKey(cookie, a, h.HostPort))
			if keep[k] == nil {
				keep[k] = map[uint32]bool{}
			}
			keep[k][tag(h.ID)] = true
		}
	}
	owner := p.owner()
	var (
		k, v  []byte
		stale [][]byte
		left  int
	)
	it := ports.Iterate()
	for it.Next(&k, &v) {
		mine := binary.NativeEndian.Uint64(k) == cookie && binary.NativeEndian.Uint32(v[valOwner:]) == owner
		if mine && !keep[string(k)][binary.NativeEndian.Uint32(v[valContainer:])] {
			stale = append(stale, append([]byte(nil), k...))
			continue
		}
		left++
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read the connect shortcut's map: %w", err)
	}
	for _, k := range stale {
		if err := ports.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("remove a published port from the connect shortcut: %w", err)
		}
	}
	for _, e := range add {
		if err := ports.Put(portKey(cookie, e.Host, e.HostPort), portValue(e.Dst, e.Port, owner, tag(e.ID))); err != nil {
			return nil // full: the rules carry the rest
		}
		left++
	}
	if left == 0 {
		detach(rootFD, progs)
	}
	return nil
}
