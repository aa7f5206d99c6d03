package portmap

import (
	"fmt"
	"net"
	"testing"
)

// TestMove: a container's ports move from one network to another in one
// step, on the same host ports, and still reach it; a binding of a
// family the new network has no address of is dropped.
func TestMove(t *testing.T) {
	e := newNetEnv(t)
	port := testPort(7)
	bs, err := Parse(fmt.Sprintf("%d:80", port))
	if err != nil {
		t.Fatal(err)
	}
	id := "c1move0123456789"
	from := e.target(id)
	from.Network = "net-a"
	if _, err := e.pub.Publish(from, bs); err != nil {
		t.Fatal(err)
	}
	// The same container, as it is on another network: IPv4 only.
	to := Target{ID: id, Network: "net-b", Addr4: e.c1Addr, Iface: e.bridge}
	moved, err := e.pub.Move("net-a", to)
	want := []Binding{{HostIP: "0.0.0.0", HostPort: port, ContainerPort: 80, Proto: "tcp"}}
	if err != nil || fmt.Sprint(moved) != fmt.Sprint(want) {
		t.Fatalf("Move = %v, %v; want %v", moved, err, want)
	}
	held, err := e.pub.List()
	if err != nil || len(held) != 1 || held[0].Network != "net-b" || held[0].HostPort != port {
		t.Errorf("List() after Move = %v, %v; want one binding of port %d through net-b", held, err, port)
	}
	if e.rulesOf(" net-a ") {
		t.Errorf("rules through net-a left after Move")
	}
	p := fmt.Sprint(port)
	for _, c := range []struct{ ns, addr string }{{"", "127.0.0.1:" + p}, {e.out, net.JoinHostPort(e.hostOut.String(), p)}} {
		if err := e.get(c.ns, c.addr); err != nil {
			t.Errorf("after Move: %v", err)
		}
	}
	// The shortcut follows: [::1] goes to the container's IPv4 address
	// now, as the IPv6 binding was dropped.
	if withShortcut(t) {
		if _, remote := fetch(t, &net.Dialer{}, "[::1]:"+p); remote.String() != "[::1]:"+p {
			t.Errorf("[::1]:%s after Move: getpeername gave %v", p, remote)
		}
	}
	// Nothing through a network: nothing moves, nothing changes.
	if moved, err := e.pub.Move("net-a", to); err != nil || moved != nil {
		t.Errorf("Move from a network with no ports = %v, %v; want nothing", moved, err)
	}
	if err := e.pub.Unpublish(id, ""); err != nil {
		t.Fatal(err)
	}
	if e.rulesOf(id) {
		t.Errorf("rules of %s left after Unpublish", id)
	}

	// A move that keeps no binding leaves no entry behind either.
	port6 := testPort(8)
	bs6, _ := Parse(fmt.Sprintf("[::]:%d:80", port6))
	if _, err := e.pub.Publish(from, bs6); err != nil {
		t.Fatal(err)
	}
	if moved, err := e.pub.Move("net-a", to); err != nil || len(moved) != 0 {
		t.Fatalf("Move of an IPv6 binding to a network without IPv6 = %v, %v; want none moved", moved, err)
	}
	if withShortcut(t) {
		if mine, _ := e.pub.shortcutCount(t); mine != 0 {
			t.Errorf("%d shortcut entries left after a move that kept no binding", mine)
		}
	}
}
