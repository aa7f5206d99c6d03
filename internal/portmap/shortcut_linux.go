package portmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"berth/internal/cgroup"
)

// The connect shortcut. A connection that the host opens to a port
// published on 127.0.0.1 is routed through lo, so its socket sizes its
// packets for lo (64 KiB) and every packet then goes through DNAT on its
// way to the bridge. The shortcut rewrites the address at connect(2)
// instead, in a BPF program on the host's cgroup2 root (cgroup/connect4),
// so that the socket connects straight to the container's address: the
// path, packet size and speed of a connection to that address, with no
// NAT. A second program (cgroup/getpeername4) makes getpeername(2) give
// the address that was asked for, which the first keeps in the socket's
// local storage.
//
// The shortcut only ever takes a connection that the DNAT rules would
// have taken to the same place, and only a TCP one, from a socket of the
// network namespace that published the port and not bound to an address
// yet. Everything else, and any host where the programs cannot be
// loaded, goes through the rules as before. Its map holds one entry per
// (namespace, address, port), each tagged with the publisher that made
// it; entries are added after the rules and removed before them, so that
// the map never sends a connection where the rules would not.
//
// The programs stay attached while the map has entries, whatever berth
// process made them, and are detached with the last one.
const (
	progConnect = "berth_connect4"
	progPeer    = "berth_peer4"
	mapPorts    = "berth_ports"
	mapPeers    = "berth_peers"
)

// EnvShortcut turns the connect shortcut off when set to "off": the
// host's connections to published ports then go through the DNAT rules.
const EnvShortcut = "BERTH_PORT_SHORTCUT"

// shortcutLock serialises the shortcut's changes across berth processes,
// whatever their publisher: the programs and map are the host's.
var shortcutLock = "/run/berth/shortcut.lock"

// Offsets in struct bpf_sock_addr and struct bpf_sock (linux/bpf.h).
const (
	saUserIP4  = 4
	saUserPort = 24
	saProtocol = 36
	saSk       = 64
	skSrcIP4   = 24
)

// A key of the ports map: the namespace's cookie, then the address and
// port asked for, in network order. A value: where the connection goes
// instead, in network order, and its publisher's tag. A value of the
// peers storage: the address and port asked for, then the ones given.
const (
	keySize   = 16
	valueSize = 12
	peerSize  = 16
)

func portKey(cookie uint64, addr netip.Addr, port uint16) []byte {
	k := make([]byte, keySize)
	binary.NativeEndian.PutUint64(k, cookie)
	a := addr.As4()
	copy(k[8:], a[:])
	binary.BigEndian.PutUint16(k[12:], port)
	return k
}

func portValue(addr netip.Addr, port uint16, owner uint32) []byte {
	v := make([]byte, valueSize)
	a := addr.As4()
	copy(v, a[:])
	binary.BigEndian.PutUint16(v[4:], port)
	binary.NativeEndian.PutUint32(v[8:], owner)
	return v
}

// connectProgram rewrites the destination of a TCP connect whose
// (namespace, address, port) the ports map holds, keeping the one asked
// for in the peers storage; it lets every connect through.
func connectProgram(ports, peers *ebpf.Map) asm.Instructions {
	return append(asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, saProtocol, asm.Word),
		asm.JNE.Imm(asm.R2, unix.IPPROTO_TCP, "out"),
		// A socket bound to an address keeps it: from 127.0.0.1 the
		// container could not answer.
		asm.LoadMem(asm.R2, asm.R6, saSk, asm.DWord),
		asm.LoadMem(asm.R3, asm.R2, skSrcIP4, asm.Word),
		asm.JNE.Imm(asm.R3, 0, "out"),
		// The key, at fp-16: cookie, address, port, padding.
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnGetNetnsCookie.Call(),
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.DWord),
		asm.LoadMem(asm.R2, asm.R6, saUserIP4, asm.Word),
		asm.StoreMem(asm.RFP, -8, asm.R2, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, saUserPort, asm.Word),
		asm.StoreMem(asm.RFP, -4, asm.R3, asm.Half),
		asm.StoreImm(asm.RFP, -2, 0, asm.Half),
		asm.LoadMapPtr(asm.R1, ports.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R7, asm.R0),
		// The peer, at fp-32: asked for, then given.
		asm.LoadMem(asm.R2, asm.RFP, -8, asm.Word),
		asm.StoreMem(asm.RFP, -32, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, asm.RFP, -4, asm.Word),
		asm.StoreMem(asm.RFP, -28, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, asm.R7, 0, asm.Word),
		asm.StoreMem(asm.RFP, -24, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, asm.R7, 4, asm.Half),
		asm.StoreMem(asm.RFP, -20, asm.R2, asm.Word),
		asm.LoadMapPtr(asm.R1, peers.FD()),
		asm.LoadMem(asm.R2, asm.R6, saSk, asm.DWord),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -32),
		asm.Mov.Imm(asm.R4, 1), // BPF_SK_STORAGE_GET_F_CREATE
		asm.FnSkStorageGet.Call(),
		// Without the peer kept, getpeername would give the container's
		// address: leave this one to the rules.
		asm.JEq.Imm(asm.R0, 0, "out"),
		// Storage that was there already, from an earlier connect of the
		// socket, is written afresh.
		asm.LoadMem(asm.R2, asm.RFP, -32, asm.DWord),
		asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		asm.LoadMem(asm.R2, asm.RFP, -24, asm.DWord),
		asm.StoreMem(asm.R0, 8, asm.R2, asm.DWord),
	}, rewrite(asm.R7, 0)...)
}

// rewrite ends a program whose context is in R6: it writes the address
// and port at src+off (network order, the port right after the address)
// into the socket address, and lets the call through, as "out" does
// without the change.
func rewrite(src asm.Register, off int16) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R2, src, off, asm.Word),
		asm.StoreMem(asm.R6, saUserIP4, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, src, off+4, asm.Half),
		asm.StoreMem(asm.R6, saUserPort, asm.R2, asm.Word),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("out"),
		asm.Return(),
	}
}

// peerProgram gives getpeername the address and port that connect was
// asked for, where connectProgram changed them.
func peerProgram(peers *ebpf.Map) asm.Instructions {
	return append(asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMapPtr(asm.R1, peers.FD()),
		asm.LoadMem(asm.R2, asm.R6, saSk, asm.DWord),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnSkStorageGet.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R2, asm.R6, saUserIP4, asm.Word),
		asm.LoadMem(asm.R3, asm.R0, 8, asm.Word),
		asm.JNE.Reg(asm.R2, asm.R3, "out"),
		asm.LoadMem(asm.R2, asm.R6, saUserPort, asm.Word),
		asm.And.Imm(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R0, 12, asm.Half),
		asm.JNE.Reg(asm.R2, asm.R3, "out"),
	}, rewrite(asm.R0, 0)...)
}

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

// attachedPorts finds the ports map of the programs attached to root, if
// any.
func attachedPorts(rootFD int) (*ebpf.Map, []*ebpf.Program, error) {
	var found *ebpf.Map
	var progs []*ebpf.Program
	for _, at := range []ebpf.AttachType{ebpf.AttachCGroupInet4Connect, ebpf.AttachCgroupInet4GetPeername} {
		q, err := link.QueryPrograms(link.QueryOptions{Target: rootFD, Attach: at})
		if err != nil {
			return nil, nil, err
		}
		for _, ap := range q.Programs {
			p, err := ebpf.NewProgramFromID(ap.ID)
			if err != nil {
				continue // detached meanwhile
			}
			info, err := p.Info()
			if err != nil || (info.Name != progConnect && info.Name != progPeer) {
				p.Close()
				continue
			}
			progs = append(progs, p)
			if info.Name != progConnect || found != nil {
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

// attach loads the programs and their maps and attaches them to root.
func attach(rootFD int) (*ebpf.Map, error) {
	ports, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: mapPorts, Type: ebpf.Hash, KeySize: keySize, ValueSize: valueSize,
		MaxEntries: 65536, Flags: unix.BPF_F_NO_PREALLOC,
	})
	if err != nil {
		return nil, err
	}
	u32 := &btf.Int{Name: "u32", Size: 4}
	peers, err := ebpf.NewMap(&ebpf.MapSpec{
		Name: mapPeers, Type: ebpf.SkStorage, Flags: unix.BPF_F_NO_PREALLOC,
		Key: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
		Value: &btf.Struct{Name: "berth_peer", Size: peerSize, Members: []btf.Member{
			{Name: "asked_addr", Type: u32, Offset: 0},
			{Name: "asked_port", Type: u32, Offset: 32},
			{Name: "given_addr", Type: u32, Offset: 64},
			{Name: "given_port", Type: u32, Offset: 96},
		}},
		KeySize: 4, ValueSize: peerSize,
	})
	if err != nil {
		ports.Close()
		return nil, err
	}
	defer peers.Close()
	load := func(name string, at ebpf.AttachType, insts asm.Instructions) (*ebpf.Program, error) {
		return ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: name, Type: ebpf.CGroupSockAddr, AttachType: at,
			Instructions: insts, License: "Apache",
		})
	}
	peer, err := load(progPeer, ebpf.AttachCgroupInet4GetPeername, peerProgram(peers))
	if err != nil {
		ports.Close()
		return nil, err
	}
	defer peer.Close()
	conn, err := load(progConnect, ebpf.AttachCGroupInet4Connect, connectProgram(ports, peers))
	if err != nil {
		ports.Close()
		return nil, err
	}
	defer conn.Close()
	// getpeername's first: a connect it rewrote must find it there.
	for _, p := range []struct {
		prog *ebpf.Program
		at   ebpf.AttachType
	}{{peer, ebpf.AttachCgroupInet4GetPeername}, {conn, ebpf.AttachCGroupInet4Connect}} {
		err := link.RawAttachProgram(link.RawAttachProgramOptions{
			Target: rootFD, Program: p.prog, Attach: p.at, Flags: unix.BPF_F_ALLOW_MULTI,
		})
		if err != nil {
			detach(rootFD, []*ebpf.Program{peer})
			ports.Close()
			return nil, err
		}
	}
	return ports, nil
}

// detach takes progs off root, the connect one first.
func detach(rootFD int, progs []*ebpf.Program) error {
	var errs []error
	for _, name := range []string{progConnect, progPeer} {
		for _, p := range progs {
			info, err := p.Info()
			if err != nil || info.Name != name {
				continue
			}
			at := ebpf.AttachCGroupInet4Connect
			if name == progPeer {
				at = ebpf.AttachCgroupInet4GetPeername
			}
			err = link.RawDetachProgram(link.RawDetachProgramOptions{Target: rootFD, Program: p, Attach: at})
			if err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// shortcutEntry is one connection the shortcut takes: a TCP connect to
// Host:HostPort goes to Dst:Port instead.
type shortcutEntry struct {
	Host     netip.Addr
	HostPort uint16
	Dst      netip.Addr
	Port     uint16
}

// shortcutHost is the address whose connects the shortcut takes for a
// binding of host address hostIP: 127.0.0.1 for every address, the
// address itself for one IPv4 address, none for IPv6 or another
// protocol than TCP.
func shortcutHost(b Binding) (netip.Addr, bool) {
	a, err := netip.ParseAddr(b.HostIP)
	if b.HostIP == "" {
		a, err = netip.IPv4Unspecified(), nil
	}
	if err != nil || !a.Is4() || b.Proto != "tcp" {
		return netip.Addr{}, false
	}
	if a.IsUnspecified() {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
	}
	return a, true
}

// entries are the shortcut's entries for bindings published to t.
func shortcutEntries(t Target, bindings []Binding) []shortcutEntry {
	if !t.Addr4.IsValid() {
		return nil
	}
	var out []shortcutEntry
	for _, b := range bindings {
		if h, ok := shortcutHost(b); ok {
			out = append(out, shortcutEntry{Host: h, HostPort: b.HostPort, Dst: t.Addr4, Port: b.ContainerPort})
		}
	}
	return out
}

// owner is the tag of the publisher's entries.
func (p *Publisher) owner() uint32 {
	h := fnv.New32a()
	h.Write([]byte(p.Table))
	return h.Sum32()
}

// syncShortcut brings this namespace's entries of the publisher to the
// bindings held (all of them, after the change at hand) and adds add.
// Adding is skipped where the shortcut is off or cannot be had; the
// entries of bindings no longer held are removed in any case.
func (p *Publisher) syncShortcut(held []Held, add []shortcutEntry) error {
	if p.NoShortcut || os.Getenv(EnvShortcut) == "off" {
		add = nil
	}
	if err := os.MkdirAll(filepath.Dir(shortcutLock), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(shortcutLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", shortcutLock, err)
	}
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
		return detach(rootFD, progs)
	}
	cookie, err := netnsCookie()
	if err != nil {
		return nil
	}
	if ports == nil {
		if ports, err = attach(rootFD); err != nil {
			return nil // an older kernel: the rules carry the traffic
		}
	}
	defer ports.Close()
	keep := map[string]bool{}
	for _, h := range held {
		if a, ok := shortcutHost(h.Binding); ok {
			keep[string(portKey(cookie, a, h.HostPort))] = true
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
		mine := binary.NativeEndian.Uint64(k) == cookie && binary.NativeEndian.Uint32(v[8:]) == owner
		if mine && !keep[string(k)] {
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
		if err := ports.Put(portKey(cookie, e.Host, e.HostPort), portValue(e.Dst, e.Port, owner)); err != nil {
			return nil // full: the rules carry the rest
		}
		left++
	}
	if left > 0 {
		return nil
	}
	if len(progs) == 0 {
		progs, _ = attachedProgs(rootFD)
	}
	return detach(rootFD, progs)
}

// attachedProgs lists the shortcut's programs attached to root.
func attachedProgs(rootFD int) ([]*ebpf.Program, error) {
	m, progs, err := attachedPorts(rootFD)
	if m != nil {
		m.Close()
	}
	return progs, err
}
