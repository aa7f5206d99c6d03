package netdns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

const (
	// upstreamTimeout bounds one exchange with one upstream server;
	// forwardTimeout bounds a whole forwarded query, within the five
	// seconds a stub resolver waits by default.
	upstreamTimeout = 2 * time.Second
	forwardTimeout  = 4 * time.Second
	// maxForwards bounds the queries being forwarded at once, and so the
	// goroutines and sockets a flood of queries can make the server hold.
	maxForwards = 64
	// watchInterval is how often an idle server checks that records.json
	// is still there.
	watchInterval = time.Second
)

// Server is one network's resolver, listening on UDP and TCP at one
// address. See the package comment for what it answers.
type Server struct {
	path     string // records.json
	addr     netip.AddrPort
	log      *log.Logger
	udp, tcp *dns.Server
	peers    *peers
	forwards chan struct{} // one token per query being forwarded
	closed   chan struct{}
	close    sync.Once

	mu  sync.Mutex
	key fileKey // of the records.json that tbl was read from
	tbl atomic.Pointer[table]
}

// fileKey identifies one version of records.json. The engine replaces the
// file by renaming a new one over it, which changes the inode; size and
// times catch an editor writing in place.
type fileKey struct {
	dev, ino   uint64
	size       int64
	mtim, ctim unix.Timespec
}

// Listen reads dir/records.json and binds UDP and TCP sockets at addr
// (port 0 picks one port free for both), ready for Serve. logger, if
// not nil, gets the few events worth keeping: records that cannot be read.
func Listen(dir string, addr netip.AddrPort, logger *log.Logger) (*Server, error) {
	pc, l, err := listenUDPTCP(addr)
	if err != nil {
		return nil, fmt.Errorf("dns server: %w", err)
	}
	s, err := newServer(dir, pc, l, logger)
	if err != nil {
		pc.Close()
		l.Close()
	}
	return s, err
}

// newServer reads dir/records.json and makes a server of sockets bound
// already, at one address and port.
func newServer(dir string, pc net.PacketConn, l net.Listener, logger *log.Logger) (*Server, error) {
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	s := &Server{
		path:     filepath.Join(dir, RecordsFile),
		log:      logger,
		peers:    newPeers(dir),
		forwards: make(chan struct{}, maxForwards),
		closed:   make(chan struct{}),
	}
	key, err := statKey(s.path)
	if err != nil {
		return nil, fmt.Errorf("dns server: %w", err)
	}
	r, err := ReadRecords(dir)
	if err != nil {
		return nil, fmt.Errorf("dns server: %s: %w", dir, err)
	}
	s.key = key
	s.tbl.Store(newTable(r))
	s.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	s.addr = netip.AddrPortFrom(s.addr.Addr().Unmap(), s.addr.Port())
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: l, Handler: s}
	return s, nil
}

// listenUDPTCP binds UDP and TCP sockets at addr. With port 0 the kernel
// picks the UDP port and TCP takes the same one, which a TCP socket may
// already hold; then it tries another.
func listenUDPTCP(addr netip.AddrPort) (net.PacketConn, net.Listener, error) {
	for tries := 0; ; tries++ {
		pc, err := net.ListenPacket("udp", addr.String())
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		l, err := net.Listen("tcp", netip.AddrPortFrom(addr.Addr(), port).String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if addr.Port() != 0 || !errors.Is(err, unix.EADDRINUSE) || tries == 10 {
			return nil, nil, err
		}
	}
}

// Addr is the address the server listens at.
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Serve answers queries until Close is called or records.json is removed,
// and then returns nil; or returns the error that stopped a listener.
func (s *Server) Serve() error {
	errs := make(chan error, 2)
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		go func() { errs <- srv.ActivateAndServe() }()
	}
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case <-s.closed:
			break loop
		case err = <-errs:
			break loop
		case <-tick.C:
			if _, serr := statKey(s.path); errors.Is(serr, unix.ENOENT) {
				break loop
			}
		}
	}
	s.Close()
	return err
}

// Close stops the listeners; Serve returns.
func (s *Server) Close() {
	s.close.Do(func() {
		close(s.closed)
		// Shutdown fails only for a server that never started, whose
		// sockets are then closed here instead.
		if s.udp.Shutdown() != nil {
			s.udp.PacketConn.Close()
		}
		if s.tcp.Shutdown() != nil {
			s.tcp.Listener.Close()
		}
	})
}

func statKey(path string) (fileKey, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileKey{}, &fileError{path, err}
	}
	return fileKey{st.Dev, st.Ino, st.Size, st.Mtim, st.Ctim}, nil
}

type fileError struct {
	path string
	err  error
}

func (e *fileError) Error() string { return e.path + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// records returns the current table, reading records.json again first if
// it changed since it was last read: one stat(2) per query, so that a
// container that just started resolves at once. A file that does not
// parse leaves the table as it was.
func (s *Server) records() *table {
	key, err := statKey(s.path)
	if err != nil {
		return s.tbl.Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key != s.key {
		s.key = key
		r, err := ReadRecords(filepath.Dir(s.path))
		if err != nil {
			s.log.Printf("keeping the records read before: %v", err)
		} else {
			s.tbl.Store(newTable(r))
		}
	}
	return s.tbl.Load()
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	t := s.records()
	src := remoteAddr(w)
	if !t.allowed(src) {
		w.WriteMsg(new(dns.Msg).SetRcode(req, dns.RcodeRefused))
		return
	}
	if req.Opcode != dns.OpcodeQuery {
		w.WriteMsg(new(dns.Msg).SetRcode(req, dns.RcodeNotImplemented))
		return
	}
	if req.Question[0].Qclass == dns.ClassINET {
		if m := localAnswer(req, t); m != nil {
			reply(w, req, m)
			return
		}
		if owner, ok := t.owners[src]; ok {
			for _, pt := range s.peers.of(owner) {
				if m := localAnswer(req, pt); m != nil {
					reply(w, req, m)
					return
				}
			}
		}
	}
	s.forward(w, req, s.upstreamFor(t, src))
}

// upstreamFor is where the queries of the client at src go that no
// network answers: its own servers (its --dns), or the network's. Of its
// own, those inside another network that it is not on are left out: the
// server forwards from the host, where a container's own queries could
// not reach them, and the networks stay isolated, as under Docker, whose
// resolver forwards from the container's namespace.
func (s *Server) upstreamFor(t *table, src netip.Addr) []netip.AddrPort {
	ups, ok := t.clients[src]
	if !ok {
		return t.upstream
	}
	foreign := s.peers.foreign(t.owners[src])
	var out []netip.AddrPort
	for _, up := range ups {
		inside := false
		for _, p := range foreign {
			inside = inside || p.Contains(up.Addr())
		}
		if !inside {
			out = append(out, up)
		}
	}
	return out
}

// localAnswer is t's answer to req, or nil when t does not know the name
// or the address asked about.
func localAnswer(req *dns.Msg, t *table) *dns.Msg {
	q := req.Question[0]
	if e := t.lookup(q.Name); e != nil {
		return answer(req, e)
	}
	if q.Qtype == dns.TypePTR {
		if a, ok := reverseAddr(q.Name); ok {
			if name, ok := t.ptr[a.Unmap()]; ok {
				m := localReply(req)
				m.Answer = []dns.RR{&dns.PTR{Hdr: header(q, dns.TypePTR), Ptr: name}}
				return m
			}
		}
	}
	return nil
}

// answer is the reply for a name the network knows: its addresses of the
// type asked for, in random order as Docker gives them, and for any other
// type an empty answer, so that the client does not try the name
// elsewhere.
func answer(req *dns.Msg, e *entry) *dns.Msg {
	q := req.Question[0]
	m := localReply(req)
	var addrs []netip.Addr
	switch q.Qtype {
	case dns.TypeA:
		addrs = e.v4
	case dns.TypeAAAA:
		addrs = e.v6
	}
	for _, i := range rand.Perm(len(addrs)) {
		a := addrs[i]
		if a.Is4() {
			m.Answer = append(m.Answer, &dns.A{Hdr: header(q, dns.TypeA), A: a.AsSlice()})
		} else {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: header(q, dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return m
}

// header has TTL 0: containers come and go, and their addresses change
// when they restart, so no client should keep an answer.
func header(q dns.Question, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: 0}
}

func localReply(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg).SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(dns.DefaultMsgSize, false)
	}
	return m
}

// forward sends the query to the upstream servers in turn, until one
// answers with anything but SERVFAIL or REFUSED, and relays that answer;
// SERVFAIL when none answers.
func (s *Server) forward(w dns.ResponseWriter, req *dns.Msg, upstream []netip.AddrPort) {
	select {
	case s.forwards <- struct{}{}:
		defer func() { <-s.forwards }()
	default:
		w.WriteMsg(new(dns.Msg).SetRcode(req, dns.RcodeServerFailure))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	defer cancel()
	tcp := isTCP(w)
	var last *dns.Msg
	for _, up := range upstream {
		if up == s.addr || ctx.Err() != nil {
			continue
		}
		r, err := exchange(ctx, req, up, tcp)
		if err != nil {
			continue
		}
		if r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused {
			last = r
			continue
		}
		reply(w, req, r)
		return
	}
	if last == nil {
		last = new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		last.RecursionAvailable = true
	}
	reply(w, req, last)
}

// exchange asks one upstream server: over UDP, then over TCP when the
// answer was truncated, or over TCP only for a client that asked over TCP.
func exchange(ctx context.Context, req *dns.Msg, up netip.AddrPort, tcp bool) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: upstreamTimeout}
	if !tcp {
		r, _, err := c.ExchangeContext(ctx, req, up.String())
		if err != nil || !r.Truncated {
			return r, err
		}
	}
	c.Net = "tcp"
	r, _, err := c.ExchangeContext(ctx, req, up.String())
	return r, err
}

// reply writes m, cut to what the client can take over UDP: 512 bytes,
// or the size its EDNS0 record gives.
func reply(w dns.ResponseWriter, req *dns.Msg, m *dns.Msg) {
	m.Id = req.Id
	size := dns.MaxMsgSize
	if !isTCP(w) {
		size = dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
	}
	m.Truncate(size)
	w.WriteMsg(m)
}

func isTCP(w dns.ResponseWriter) bool {
	_, ok := w.LocalAddr().(*net.TCPAddr)
	return ok
}

func remoteAddr(w dns.ResponseWriter) netip.Addr {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
