package netdns

import (
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"berth/internal/testfixture"
)

// TestMain also plays the server that EnsureRunning starts, which
// executes this test binary as /proc/self/exe.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == Command {
		if err := ServerMain(os.Args[2], os.Args[3]); err != nil {
			log.Print(err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	testfixture.RemoveBerth()
	os.Exit(code)
}

// upstream is a fake upstream server on loopback. It answers
// example.com. with 192.0.2.1, big.test. with 100 addresses (truncated
// over UDP), and NXDOMAIN for anything else, and records what it was
// asked.
type upstream struct {
	addr netip.AddrPort
	mu   sync.Mutex
	seen []string // "udp NAME" or "tcp NAME"
}

func startUpstream(t *testing.T, ip string) *upstream {
	t.Helper()
	return startUpstreamAt(t, netip.AddrPortFrom(netip.MustParseAddr(ip), 0))
}

// startUpstreamAt is startUpstream at addr (port 0: one free for UDP
// and TCP).
func startUpstreamAt(t *testing.T, addr netip.AddrPort) *upstream {
	t.Helper()
	u := &upstream{}
	pc, l, err := listenUDPTCP(addr)
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: u}, {Listener: l, Handler: u}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return u
}

func (u *upstream) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	proto := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		proto = "tcp"
	}
	u.mu.Lock()
	u.seen = append(u.seen, proto+" "+q.Name)
	u.mu.Unlock()
	m := new(dns.Msg).SetReply(req)
	switch strings.ToLower(q.Name) {
	case "example.com.":
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
	case "big.test.":
		for i := range 100 {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(198, 51, 100, byte(i))})
		}
		if proto == "udp" {
			m.Truncate(dns.MinMsgSize)
		}
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func (u *upstream) asked() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// serve runs a Server for dir on 127.0.0.1, on a port the kernel picks.
func serve(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Listen(dir, netip.MustParseAddrPort("127.0.0.1:0"), log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// query asks addr for name over proto ("udp" or "tcp").
func query(t *testing.T, addr netip.AddrPort, proto, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr.String())
	if err != nil {
		t.Fatalf("query %s %s %s: %v", proto, name, dns.TypeToString[qtype], err)
	}
	return r
}

// addrs lists the A, AAAA and PTR data of an answer.
func addrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.PTR:
			out = append(out, rr.Ptr)
		}
	}
	return out
}

func writeRecords(t *testing.T, dir string, r Records) {
	t.Helper()
	if err := WriteRecords(dir, r); err != nil {
		t.Fatal(err)
	}
}
