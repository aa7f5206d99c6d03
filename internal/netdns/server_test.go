package netdns

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func testRecords(up *upstream) Records {
	return Records{
		Network: "testnet",
		Records: []Record{
			{Name: "web", Aliases: []string{"db", "3f2a1b9c0d1e"}, IPv4: []string{"10.90.1.2"}, IPv6: []string{"fd00:90::2"}},
			{Name: "api", Aliases: []string{"DB"}, IPv4: []string{"10.90.1.3"}},
		},
		Upstream: []string{up.addr.String()},
	}
}

func TestAnswersNames(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	dir := t.TempDir()
	writeRecords(t, dir, testRecords(up))
	s := serve(t, dir)

	for _, tc := range []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"web.", dns.TypeA, []string{"10.90.1.2"}},
		{"WeB.", dns.TypeA, []string{"10.90.1.2"}},
		{"web.testnet.", dns.TypeA, []string{"10.90.1.2"}},
		{"web.TESTNET.", dns.TypeA, []string{"10.90.1.2"}},
		{"3f2a1b9c0d1e.", dns.TypeA, []string{"10.90.1.2"}},
		{"db.", dns.TypeA, []string{"10.90.1.2", "10.90.1.3"}},
		{"db.testnet.", dns.TypeA, []string{"10.90.1.2", "10.90.1.3"}},
		{"web.", dns.TypeAAAA, []string{"fd00:90::2"}},
		{"db.", dns.TypeAAAA, []string{"fd00:90::2"}},
		{"api.", dns.TypeAAAA, nil},
		{"web.", dns.TypeMX, nil},
		{"2.1.90.10.in-addr.arpa.", dns.TypePTR, []string{"web.testnet."}},
		{"3.1.90.10.IN-ADDR.ARPA.", dns.TypePTR, []string{"api.testnet."}},
		{mustReverse(t, "fd00:90::2"), dns.TypePTR, []string{"web.testnet."}},
	} {
		for _, proto := range []string{"udp", "tcp"} {
			r := query(t, s.Addr(), proto, tc.name, tc.qtype)
			got := addrs(r)
			slices.Sort(got)
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || !slices.Equal(got, tc.want) {
				t.Errorf("%s %s %s = %s aa=%v %v, want NOERROR aa=true %v", proto, tc.name, dns.TypeToString[tc.qtype],
					dns.RcodeToString[r.Rcode], r.Authoritative, got, tc.want)
			}
			for _, rr := range r.Answer {
				if rr.Header().Ttl != 0 || rr.Header().Name != tc.name {
					t.Errorf("%s %s: answer %v, want TTL 0 and the name as asked", proto, tc.name, rr)
				}
			}
		}
	}
	if asked := up.asked(); len(asked) != 0 {
		t.Errorf("upstream was asked %v, want nothing: all names are the network's", asked)
	}
}

func mustReverse(t *testing.T, ip string) string {
	t.Helper()
	n, err := dns.ReverseAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestForwardsOtherNames(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	dir := t.TempDir()
	writeRecords(t, dir, testRecords(up))
	s := serve(t, dir)

	r := query(t, s.Addr(), "udp", "example.com.", dns.TypeA)
	if got := addrs(r); r.Rcode != dns.RcodeSuccess || !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("example.com. = %s %v, want the upstream's 192.0.2.1", dns.RcodeToString[r.Rcode], got)
	}
	// Unknown single labels go upstream too, as Docker sends them; so do
	// addresses the network does not have and names of other networks.
	for _, name := range []string{"nosuch.", "9.1.90.10.in-addr.arpa.", "web.othernet."} {
		r := query(t, s.Addr(), "udp", name, dns.TypeA)
		if r.Rcode != dns.RcodeNameError {
			t.Errorf("%s = %s, want the upstream's NXDOMAIN", name, dns.RcodeToString[r.Rcode])
		}
	}
	want := []string{"udp example.com.", "udp nosuch.", "udp 9.1.90.10.in-addr.arpa.", "udp web.othernet."}
	if got := up.asked(); !slices.Equal(got, want) {
		t.Errorf("upstream was asked %v, want %v", got, want)
	}
}

func TestForwardTruncatedFallsBackToTCP(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	dir := t.TempDir()
	writeRecords(t, dir, testRecords(up))
	s := serve(t, dir)

	r := query(t, s.Addr(), "udp", "big.test.", dns.TypeA)
	r.Compress = true
	if !r.Truncated || len(r.Answer) == 0 || len(r.Answer) >= 100 || r.Len() > dns.MinMsgSize {
		t.Errorf("big.test. over UDP: truncated=%v, %d answers in %d bytes, want a truncated answer of at most %d bytes",
			r.Truncated, len(r.Answer), r.Len(), dns.MinMsgSize)
	}
	if got := up.asked(); !slices.Equal(got, []string{"udp big.test.", "tcp big.test."}) {
		t.Errorf("upstream was asked %v, want UDP then TCP", got)
	}
	r = query(t, s.Addr(), "tcp", "big.test.", dns.TypeA)
	if r.Truncated || len(r.Answer) != 100 {
		t.Errorf("big.test. over TCP: truncated=%v, %d answers, want all 100", r.Truncated, len(r.Answer))
	}
}

func TestUpstreamDown(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	dead := deadAddr(t)
	dir := t.TempDir()
	rec := testRecords(up)

	rec.Upstream = []string{dead.String()}
	writeRecords(t, dir, rec)
	s := serve(t, dir)
	for _, proto := range []string{"udp", "tcp"} {
		if r := query(t, s.Addr(), proto, "example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s example.com. with the upstream down = %s, want SERVFAIL", proto, dns.RcodeToString[r.Rcode])
		}
	}
	// Names of the network still resolve.
	if r := query(t, s.Addr(), "udp", "web.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.2"}) {
		t.Errorf("web. with the upstream down = %v", addrs(r))
	}

	rec.Upstream = nil
	writeRecords(t, dir, rec)
	if r := query(t, s.Addr(), "udp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("example.com. with no upstream = %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}

	rec.Upstream = []string{dead.String(), up.addr.String()}
	writeRecords(t, dir, rec)
	if r := query(t, s.Addr(), "udp", "example.com.", dns.TypeA); !slices.Equal(addrs(r), []string{"192.0.2.1"}) {
		t.Errorf("example.com. with the first upstream down = %s %v, want the second's answer", dns.RcodeToString[r.Rcode], addrs(r))
	}
}

// deadAddr is a loopback address and port where nothing listens.
func deadAddr(t *testing.T) netip.AddrPort {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestPicksUpChanges(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	dir := t.TempDir()
	rec := testRecords(up)
	writeRecords(t, dir, rec)
	s := serve(t, dir)

	if r := query(t, s.Addr(), "udp", "late.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("late. before it is recorded = %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	// A container started later, and web restarted with a new address.
	rec.Records = append(rec.Records, Record{Name: "late", IPv4: []string{"10.90.1.9"}})
	rec.Records[0].IPv4 = []string{"10.90.1.7"}
	writeRecords(t, dir, rec)
	if r := query(t, s.Addr(), "udp", "late.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.9"}) {
		t.Errorf("late. just after it is recorded = %s %v, want 10.90.1.9", dns.RcodeToString[r.Rcode], addrs(r))
	}
	if r := query(t, s.Addr(), "udp", "web.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.7"}) {
		t.Errorf("web. after its restart = %v, want 10.90.1.7", addrs(r))
	}

	// A file that does not parse leaves the records as they were.
	if err := os.WriteFile(filepath.Join(dir, RecordsFile), []byte("{bad"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := query(t, s.Addr(), "udp", "late.", dns.TypeA); !slices.Equal(addrs(r), []string{"10.90.1.9"}) {
		t.Errorf("late. after a bad write = %v, want the records before it", addrs(r))
	}
}

func TestServeEndsWhenRecordsRemoved(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	dir := t.TempDir()
	writeRecords(t, dir, testRecords(up))
	s, err := Listen(dir, netip.MustParseAddrPort("127.0.0.1:0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	query(t, s.Addr(), "udp", "web.", dns.TypeA)
	if err := os.Remove(filepath.Join(dir, RecordsFile)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil once records.json is gone", err)
		}
	case <-time.After(3 * watchInterval):
		s.Close()
		t.Fatalf("Serve still runs %v after records.json was removed", 3*watchInterval)
	}
}

func TestListenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Listen(dir, netip.MustParseAddrPort("127.0.0.1:0"), nil); err == nil {
		t.Error("Listen without records.json succeeded")
	}
	writeRecords(t, dir, Records{})
	s := serve(t, dir)
	_, err := Listen(dir, s.Addr(), nil)
	if err == nil || !containsAll(err.Error(), s.Addr().String(), "address already in use") {
		t.Errorf("Listen on a used address = %v, want an error naming %s", err, s.Addr())
	}
}

func TestOnlyQueries(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	dir := t.TempDir()
	writeRecords(t, dir, testRecords(up))
	s := serve(t, dir)
	m := new(dns.Msg).SetNotify("web.")
	r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, s.Addr().String())
	if err != nil || r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY = %v %v, want NOTIMP", r, err)
	}
	if got := up.asked(); len(got) != 0 {
		t.Errorf("upstream was asked %v", got)
	}
}

// TestPeerNetworks: a container on two networks asks the resolver of one
// and gets the names of both; the names of a network it is not on stay
// hidden.
func TestPeerNetworks(t *testing.T) {
	up := startUpstream(t, "127.0.0.1")
	parent := t.TempDir()
	dirs := map[string]Records{
		"a": {Network: "neta", Records: []Record{
			{Name: "app", IPv4: []string{"127.0.0.1"}},
			{Name: "web", IPv4: []string{"10.1.0.3"}},
		}},
		"b": {Network: "netb", Records: []Record{
			{Name: "APP", IPv4: []string{"10.2.0.2"}},
			{Name: "db", Aliases: []string{"store"}, IPv4: []string{"10.2.0.3"}},
		}},
		"c": {Network: "netc", Records: []Record{
			{Name: "secret", IPv4: []string{"10.3.0.3"}},
		}},
	}
	for name, r := range dirs {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		r.Upstream = []string{up.addr.String()}
		writeRecords(t, dir, r)
	}
	// The client, 127.0.0.1, is app: on a and b, not on c.
	s := serve(t, filepath.Join(parent, "a"))
	for _, tc := range []struct {
		name  string
		qtype uint16
		want  []string
	}{
		{"web.", dns.TypeA, []string{"10.1.0.3"}},
		{"db.", dns.TypeA, []string{"10.2.0.3"}},
		{"store.netb.", dns.TypeA, []string{"10.2.0.3"}},
		{"app.", dns.TypeA, []string{"127.0.0.1"}},
		{"3.0.2.10.in-addr.arpa.", dns.TypePTR, []string{"db.netb."}},
	} {
		r := query(t, s.Addr(), "udp", tc.name, tc.qtype)
		if got := addrs(r); r.Rcode != dns.RcodeSuccess || !slices.Equal(got, tc.want) {
			t.Errorf("%s %s = %s %v, want %v", tc.name, dns.TypeToString[tc.qtype], dns.RcodeToString[r.Rcode], got, tc.want)
		}
	}
	if r := query(t, s.Addr(), "udp", "secret.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("secret., of a network app is not on = %s %v, want the upstream's NXDOMAIN", dns.RcodeToString[r.Rcode], addrs(r))
	}

	// app leaves b: b's names go.
	r := dirs["b"]
	r.Records = r.Records[1:]
	r.Upstream = []string{up.addr.String()}
	writeRecords(t, filepath.Join(parent, "b"), r)
	if r := query(t, s.Addr(), "udp", "db.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("db. after app left b = %s %v, want NXDOMAIN", dns.RcodeToString[r.Rcode], addrs(r))
	}
}

// BenchmarkLocalName measures a query for a network's name over UDP on
// loopback, the stat of records.json included.
func BenchmarkLocalName(b *testing.B) {
	dir := b.TempDir()
	var recs []Record
	for i := range 1000 {
		recs = append(recs, Record{Name: fmt.Sprintf("c%d", i), IPv4: []string{fmt.Sprintf("10.90.%d.%d", i/250, i%250+2)}})
	}
	if err := WriteRecords(dir, Records{Network: "n", Records: recs}); err != nil {
		b.Fatal(err)
	}
	s, err := Listen(dir, netip.MustParseAddrPort("127.0.0.1:0"), nil)
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	conn, err := (&dns.Client{}).Dial(s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m := new(dns.Msg).SetQuestion("c500.", dns.TypeA)
	b.ResetTimer()
	for b.Loop() {
		if err := conn.WriteMsg(m); err != nil {
			b.Fatal(err)
		}
		r, err := conn.ReadMsg()
		if err != nil || len(r.Answer) != 1 {
			b.Fatalf("c500. = %v, %v", r, err)
		}
	}
}
