package portmap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fetch gets c1's page over a connection from the host to addr, made by
// d, and returns the connection's two ends as the host's socket has them.
func fetch(t *testing.T, d *net.Dialer, addr string) (local, remote netip.AddrPort) {
	t.Helper()
	if d.Timeout == 0 {
		d.Timeout = 5 * time.Second
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		page.WriteString(sc.Text() + "\n")
	}
	if !strings.HasSuffix(page.String(), "\nhello from c1\n") {
		t.Fatalf("%s answered %q, not c1's page", addr, page.String())
	}
	return c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
}

// needShortcut skips on kernels older than the hooks the shortcut needs
// (getpeername4 in 5.8, SO_NETNS_COOKIE in 5.14).
func needShortcut(t *testing.T) {
	if !withShortcut(t) {
		t.Skip("the kernel has no connect shortcut")
	}
}

// withShortcut says whether the kernel has what the shortcut needs.
func withShortcut(t *testing.T) bool {
	var u unix.Utsname
	unix.Uname(&u)
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	return major > 5 || major == 5 && minor >= 14
}

func TestShortcut(t *testing.T) {
	needShortcut(t)
	e := newNetEnv(t)
	port := testPort(5)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	bs, _ := Parse(fmt.Sprintf("%d:80", port))
	id := "c1shortcut0123456789"
	if _, err := e.pub.Publish(e.target(id), bs); err != nil {
		t.Fatal(err)
	}
	gateway := netip.MustParseAddr(strings.TrimSuffix(e.c1Addr.String(), ".2") + ".1")
	want := netip.MustParseAddrPort(addr)

	if mine, _ := e.pub.shortcutCount(t); mine != 2 {
		t.Errorf("the shortcut holds %d entries of the test's, want 2 (127.0.0.1:%d, [::1]:%[2]d)", mine, port)
	}

	// Straight to the container: the socket's own end is on the bridge,
	// while getpeername still gives the address that was dialled.
	local, remote := fetch(t, &net.Dialer{}, addr)
	if local.Addr() != gateway {
		t.Errorf("a connection to %s left from %v, want the bridge's %v: it did not take the shortcut", addr, local, gateway)
	}
	if remote != want {
		t.Errorf("getpeername gave %v after the shortcut, want %v", remote, want)
	}

	// A socket that connects again, straight to the container's address,
	// has that address as its peer.
	reconnected := func() (unix.Sockaddr, error) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(port), Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, err
		}
		// Disconnect: connect to an AF_UNSPEC address.
		var unspec [16]byte
		if _, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&unspec[0])), uintptr(len(unspec))); errno != 0 {
			return nil, fmt.Errorf("disconnect: %w", errno)
		}
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: 80, Addr: e.c1Addr.As4()}); err != nil {
			return nil, err
		}
		return unix.Getpeername(fd)
	}
	if sa, err := reconnected(); err != nil {
		t.Errorf("connect again: %v", err)
	} else if in4, ok := sa.(*unix.SockaddrInet4); !ok || in4.Addr != e.c1Addr.As4() || in4.Port != 80 {
		t.Errorf("a socket connected again to %v:80 has peer %+v", e.c1Addr, sa)
	}

	// ::1, which the rules cannot take, goes to the container's IPv6
	// address; and for a container without one, to its IPv4 address.
	addr6 := fmt.Sprintf("[::1]:%d", port)
	local, remote = fetch(t, &net.Dialer{}, addr6)
	if !local.Addr().Is6() || local.Addr().IsLoopback() || remote.String() != addr6 {
		t.Errorf("a connection to %s is from %v to %v, want from the bridge's IPv6 address to %[1]s", addr6, local, remote)
	}
	port4 := testPort(6)
	bs4, _ := Parse(fmt.Sprintf("%d:80", port4))
	if _, err := e.pub.Publish(Target{ID: id + "v4", Addr4: e.c1Addr, Iface: e.bridge}, bs4); err != nil {
		t.Fatal(err)
	}
	addr4on6 := fmt.Sprintf("[::1]:%d", port4)
	local, remote = fetch(t, &net.Dialer{}, addr4on6)
	if local.Addr().Unmap() != gateway || remote.String() != addr4on6 {
		t.Errorf("a connection to %s of a container without IPv6 is from %v to %v, want from %v to %[1]s", addr4on6, local, remote, gateway)
	}
	portLo := testPort(7)
	bsLo, _ := Parse(fmt.Sprintf("127.0.0.1:%d:80", portLo))
	if _, err := e.pub.Publish(Target{ID: id + "lo", Addr4: e.c1Addr, Iface: e.bridge}, bsLo); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("[::1]:%d", portLo), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("a port published on 127.0.0.1 answers at [::1]")
	}
	for _, x := range []string{id + "v4", id + "lo"} {
		if err := e.pub.Unpublish(x, ""); err != nil {
			t.Fatal(err)
		}
	}

	// One port, two containers, one per family: [::1] is the IPv6 one's
	// while it holds the port, and nobody's after.
	portShared := testPort(9)
	a, b := Target{ID: id + "a", Addr4: e.c1Addr, Iface: e.bridge}, Target{ID: id + "b", Addr6: e.c1Addr6, Iface: e.bridge}
	bsA, _ := Parse(fmt.Sprintf("0.0.0.0:%d:80", portShared))
	bsB, _ := Parse(fmt.Sprintf("[::]:%d:80", portShared))
	if _, err := e.pub.Publish(a, bsA); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pub.Publish(b, bsB); err != nil {
		t.Fatal(err)
	}
	shared6 := fmt.Sprintf("[::1]:%d", portShared)
	if local, _ := fetch(t, &net.Dialer{}, shared6); local.Addr().Is4In6() || local.Addr().Is4() {
		t.Errorf("%s went to the IPv4 container (from %v), want the IPv6 one's", shared6, local)
	}
	if err := e.pub.Unpublish(b.ID, ""); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", shared6, 2*time.Second); err == nil {
		c.Close()
		t.Errorf("%s still answers after its container unpublished", shared6)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("%s after its container unpublished: %v, want connection refused", shared6, err)
	}
	if err := e.pub.Unpublish(a.ID, ""); err != nil {
		t.Fatal(err)
	}

	// A socket bound to 127.0.0.1 goes through the rules, which NAT it.
	lo := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	if local, remote := fetch(t, lo, addr); local.Addr() != want.Addr() || remote != want {
		t.Errorf("a socket bound to 127.0.0.1 connected as %v to %v, want from 127.0.0.1 to %v", local, remote, want)
	}

	// Another namespace's 127.0.0.1 is its own.
	for _, ns := range []string{e.out, e.c2} {
		if err := e.get(ns, addr); err == nil {
			t.Errorf("%s in namespace %s reached the published port", addr, ns)
		}
	}

	// Without the shortcut, the rules take the host's connection too.
	if err := e.pub.Unpublish(id, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		t.Errorf("%s still answers after Unpublish", addr)
	}
	mine, all := e.pub.shortcutCount(t)
	if mine != 0 {
		t.Errorf("%d entries of the test's left in the shortcut after Unpublish", mine)
	}
	if all == 0 {
		t.Errorf("the shortcut's programs stay attached with no entries")
	}
	e.pub.NoShortcut = true
	if _, err := e.pub.Publish(e.target(id), bs); err != nil {
		t.Fatal(err)
	}
	if local, _ := fetch(t, &net.Dialer{}, addr); local.Addr() == gateway {
		t.Errorf("with NoShortcut, a connection to %s still left from the bridge (%v)", addr, local)
	}
}

// TestShortcutEntries checks which bindings the shortcut takes.
func TestShortcutEntries(t *testing.T) {
	dst, dst6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2")
	tgt := Target{Addr4: dst, Addr6: dst6}
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	for _, tc := range []struct {
		name     string
		t        Target
		bindings []Binding
		held     []Held
		want     []shortcutEntry
	}{
		{"every address, both families", tgt, []Binding{
			{HostIP: "0.0.0.0", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
			{HostIP: "::", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		}, nil, []shortcutEntry{
			{Host: lo4, HostPort: 8080, Dst: dst, Port: 80},
			{Host: lo6, HostPort: 8080, Dst: dst6, Port: 80},
		}},
		{"every IPv4 address: ::1 too, to the IPv4 address", Target{Addr4: dst}, []Binding{
			{HostIP: "0.0.0.0", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		}, nil, []shortcutEntry{
			{Host: lo4, HostPort: 8080, Dst: dst, Port: 80},
			{Host: lo6, HostPort: 8080, Dst: dst, Port: 80},
		}},
		{"::1 is another container's IPv6 binding's", Target{Addr4: dst}, []Binding{
			{HostIP: "0.0.0.0", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		}, []Held{{ID: "other", Binding: Binding{HostIP: "::", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}}, []shortcutEntry{
			{Host: lo4, HostPort: 8080, Dst: dst, Port: 80},
		}},
		{"one address each", tgt, []Binding{
			{HostIP: "127.0.0.2", HostPort: 8081, ContainerPort: 81, Proto: "tcp"},
			{HostIP: "::1", HostPort: 8082, ContainerPort: 82, Proto: "tcp"},
			{HostIP: "127.0.0.1", HostPort: 8083, ContainerPort: 83, Proto: "tcp"},
		}, nil, []shortcutEntry{
			{Host: netip.MustParseAddr("127.0.0.2"), HostPort: 8081, Dst: dst, Port: 81},
			{Host: lo6, HostPort: 8082, Dst: dst6, Port: 82},
			{Host: lo4, HostPort: 8083, Dst: dst, Port: 83},
		}},
		{"TCP only", tgt, []Binding{
			{HostIP: "0.0.0.0", HostPort: 53, ContainerPort: 53, Proto: "udp"},
			{HostIP: "0.0.0.0", HostPort: 9, ContainerPort: 9, Proto: "sctp"},
		}, nil, nil},
		{"no address of the family", Target{Addr6: dst6}, []Binding{
			{HostIP: "0.0.0.0", HostPort: 1, ContainerPort: 1, Proto: "tcp"},
		}, nil, nil},
	} {
		if got := shortcutEntries(tc.t, tc.bindings, tc.held); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: shortcutEntries = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// shortcutCount counts the entries of the shortcut's map: the
// publisher's in this namespace, and all of them; -1 for all when no
// programs are attached.
func (p *Publisher) shortcutCount(t *testing.T) (mine, all int) {
	t.Helper()
	root, err := cgroup2Root()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ports, progs, err := attachedPorts(fd)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range progs {
		p.Close()
	}
	if ports == nil {
		return 0, -1
	}
	defer ports.Close()
	cookie, err := netnsCookie()
	if err != nil {
		t.Fatal(err)
	}
	var k, v []byte
	it := ports.Iterate()
	for it.Next(&k, &v) {
		all++
		if binary.NativeEndian.Uint64(k) == cookie && binary.NativeEndian.Uint32(v[valOwner:]) == p.owner() {
			mine++
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return mine, all
}
