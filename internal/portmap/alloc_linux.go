package portmap

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
)

// InUseError says that a host port is taken, and by whom where that can
// be found.
type InUseError struct {
	Addr  string // 0.0.0.0:8080
	Proto string
	// ContainerID is set when a berth container holds the port;
	// Container, when the caller knows its name.
	ContainerID, Container string
	// Process and Pid are set when another program holds it.
	Process string
	Pid     int
}

func (e *InUseError) Error() string {
	msg := fmt.Sprintf("bind for %s/%s failed: port is already allocated", e.Addr, e.Proto)
	switch {
	case e.Container != "":
		return msg + " to container " + e.Container
	case e.ContainerID != "":
		return msg + " to container " + e.ContainerID[:min(12, len(e.ContainerID))]
	case e.Pid > 0:
		return fmt.Sprintf("%s: in use by %s (pid %d)", msg, e.Process, e.Pid)
	}
	return msg + ": in use by another program"
}

// Unwrap makes the error a conflict for errdefs.
func (e *InUseError) Unwrap() error { return errdefs.ErrConflict }

// allocate picks b's host port, free on every address it is published
// on, and returns one binding per address.
func allocate(b Binding, t Target, held []Held) ([]Binding, error) {
	var hosts []netip.Addr
	if b.HostIP == "" {
		if t.Addr4.IsValid() {
			hosts = append(hosts, netip.IPv4Unspecified())
		}
		if t.Addr6.IsValid() {
			hosts = append(hosts, netip.IPv6Unspecified())
		}
		if len(hosts) == 0 {
			return nil, errdefs.Invalidf("cannot publish %s: the container has no IP address", b.Port())
		}
	} else {
		h := netip.MustParseAddr(b.HostIP)
		if h.Is4() && !t.Addr4.IsValid() || h.Is6() && !t.Addr6.IsValid() {
			return nil, errdefs.Invalidf("cannot publish %s on %s: the container has no IPv%d address on this network", b.Port(), bracket(h), map[bool]int{true: 4, false: 6}[h.Is4()])
		}
		hosts = []netip.Addr{h}
	}
	var candidates []uint16
	switch {
	case b.HostPort == 0:
		lo, hi := ephemeralRange()
		for range 64 {
			candidates = append(candidates, uint16(lo+rand.IntN(hi-lo+1)))
		}
	case b.HostPortEnd > b.HostPort:
		for p := int(b.HostPort); p <= int(b.HostPortEnd); p++ {
			candidates = append(candidates, uint16(p))
		}
	default:
		candidates = []uint16{b.HostPort}
	}
	for _, port := range candidates {
		err := free(hosts, port, b.Proto, held)
		if err == nil {
			var out []Binding
			for _, h := range hosts {
				out = append(out, Binding{HostIP: h.String(), HostPort: port, ContainerPort: b.ContainerPort, Proto: b.Proto})
			}
			return out, nil
		}
		if len(candidates) == 1 {
			return nil, err
		}
		var inUse *InUseError
		if !errors.As(err, &inUse) {
			return nil, err
		}
	}
	if b.HostPort == 0 {
		return nil, errdefs.Conflictf("cannot publish %s: found no free host port", b.Port())
	}
	return nil, errdefs.Conflictf("cannot publish %s: every host port in %s is already allocated", b.Port(), b.HostPortSpec())
}

// free checks port on each host address: against what berth holds, then
// by binding it, which finds every other program's socket.
func free(hosts []netip.Addr, port uint16, proto string, held []Held) error {
	for _, h := range hosts {
		addr := netip.AddrPortFrom(h, port).String()
		for _, x := range held {
			if x.Proto == proto && x.HostPort == port && overlap(h, netip.MustParseAddr(x.HostIP)) {
				return &InUseError{Addr: addr, Proto: proto, ContainerID: x.ID}
			}
		}
		switch err := probe(h, port, proto); {
		case errors.Is(err, unix.EADDRINUSE):
			e := &InUseError{Addr: addr, Proto: proto}
			e.Pid, e.Process = owner(proto, port)
			return e
		case errors.Is(err, unix.EADDRNOTAVAIL):
			return errdefs.Invalidf("cannot publish on %s: it is not an address of this host", bracket(h))
		case err != nil:
			return fmt.Errorf("check host port %s/%s: %w", addr, proto, err)
		}
	}
	return nil
}

// bracket writes an IPv6 address in brackets, as in a host:port.
func bracket(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

func overlap(a, b netip.Addr) bool {
	return a.Is4() == b.Is4() && (a == b || a.IsUnspecified() || b.IsUnspecified())
}

// probe binds a socket to host:port and closes it. DNAT rules do not
// hold ports, so this is how a port taken by another program is found.
func probe(host netip.Addr, port uint16, proto string) error {
	var sa unix.Sockaddr
	family := unix.AF_INET
	if host.Is6() {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: int(port), Addr: host.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: int(port), Addr: host.As4()}
	}
	typ, p := unix.SOCK_STREAM, unix.IPPROTO_TCP
	switch proto {
	case "udp":
		typ, p = unix.SOCK_DGRAM, unix.IPPROTO_UDP
	case "sctp":
		p = unix.IPPROTO_SCTP
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, p)
	if errors.Is(err, unix.EPROTONOSUPPORT) {
		return nil // no SCTP in this kernel: nothing can hold the port
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if host.Is6() {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if typ == unix.SOCK_STREAM {
		// Connections in TIME_WAIT do not hold a port; listeners still do.
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	return unix.Bind(fd, sa)
}

// ephemeralRange is where the kernel picks local ports, and berth too.
func ephemeralRange() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 {
		lo, err1 := strconv.Atoi(f[0])
		hi, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && 0 < lo && lo <= hi && hi < 65536 {
			return lo, hi
		}
	}
	return 32768, 60999
}

// owner finds the process that holds a socket on port: its inode, from
// the kernel's socket diagnostics (what ss reads) and /proc/net, then
// the descriptor that points at it in /proc/*/fd. Both are asked, as
// some kernels leave listening sockets out of /proc/net/tcp.
func owner(proto string, port uint16) (pid int, name string) {
	inodes := map[string]bool{}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		var socks []*netlink.Socket
		switch proto {
		case "tcp":
			socks, _ = netlink.SocketDiagTCP(family)
		case "udp":
			socks, _ = netlink.SocketDiagUDP(family)
		}
		for _, s := range socks {
			if s.ID.SourcePort == port && s.INode != 0 && (proto != "tcp" || s.State == tcpListen || s.State == tcpClose) {
				inodes[fmt.Sprintf("socket:[%d]", s.INode)] = true
			}
		}
	}
	want := fmt.Sprintf(":%04X", port)
	for _, f := range []string{proto, proto + "6"} {
		file, err := os.Open(filepath.Join("/proc/net", f))
		if err != nil {
			continue
		}
		s := bufio.NewScanner(file)
		for s.Scan() {
			fl := strings.Fields(s.Text())
			// sl local_address rem_address st ... uid timeout inode
			if len(fl) < 10 || !strings.HasSuffix(fl[1], want) || fl[9] == "0" {
				continue
			}
			if proto == "tcp" && fl[3] != "0A" && fl[3] != "07" { // LISTEN, or bound and closed
				continue
			}
			inodes["socket:["+fl[9]+"]"] = true
		}
		file.Close()
	}
	if len(inodes) == 0 {
		return 0, ""
	}
	return holder(inodes)
}

// TCP states (include/net/tcp_states.h).
const (
	tcpClose  = 7
	tcpListen = 10
)

// holder is the first process with a descriptor of one of inodes.
func holder(inodes map[string]bool) (pid int, name string) {
	procs, _ := os.ReadDir("/proc")
	for _, d := range procs {
		n, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", d.Name(), "fd"))
		for _, fd := range fds {
			link, _ := os.Readlink(filepath.Join("/proc", d.Name(), "fd", fd.Name()))
			if inodes[link] {
				comm, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
				return n, strings.TrimSpace(string(comm))
			}
		}
	}
	return 0, ""
}
