package netdns

import (
	"net/netip"
	"strings"
)

// table is Records made ready for lookups. A server builds a new one each
// time records.json changes and swaps it in whole.
type table struct {
	suffix   string            // "." + network name, lowercase; "" without one
	names    map[string]*entry // by lowercase name, without a trailing dot
	ptr      map[netip.Addr]string
	owners   map[netip.Addr]string // address -> lowercase record name
	members  map[string]bool       // lowercase record names
	subnets  []netip.Prefix
	upstream []netip.AddrPort
	// clients are the upstream servers of the containers that have
	// their own, by each of their addresses.
	clients map[netip.Addr][]netip.AddrPort
}

// entry is what one name resolves to: the addresses of every record that
// has it as its name or an alias, each once.
type entry struct {
	v4, v6 []netip.Addr
}

// newTable builds the lookup table of r, which has been validated.
func newTable(r Records) *table {
	t := &table{names: map[string]*entry{}, ptr: map[netip.Addr]string{},
		owners: map[netip.Addr]string{}, members: map[string]bool{}, clients: map[netip.Addr][]netip.AddrPort{}}
	if r.Network != "" {
		t.suffix = "." + strings.ToLower(r.Network)
	}
	for _, rec := range r.Records {
		v4, v6 := parseAddrs(rec.IPv4), parseAddrs(rec.IPv6)
		for _, n := range append([]string{rec.Name}, rec.Aliases...) {
			n = strings.ToLower(n)
			e := t.names[n]
			if e == nil {
				e = &entry{}
				t.names[n] = e
			}
			e.v4 = appendNew(e.v4, v4)
			e.v6 = appendNew(e.v6, v6)
		}
		// An address answers with the name of the first record that
		// has it, in the form Docker answers: NAME.NETWORK.
		for _, a := range append(v4, v6...) {
			if _, ok := t.ptr[a]; !ok {
				t.ptr[a] = rec.Name + t.suffix + "."
				t.owners[a] = strings.ToLower(rec.Name)
			}
		}
		t.members[strings.ToLower(rec.Name)] = true
		if ups := parseUpstreams(rec.Upstream); len(ups) > 0 {
			for _, a := range append(v4, v6...) {
				t.clients[a] = ups
			}
		}
	}
	for _, s := range r.Subnets {
		if p, err := netip.ParsePrefix(s); err == nil {
			t.subnets = append(t.subnets, p.Masked())
		}
	}
	t.upstream = parseUpstreams(r.Upstream)
	return t
}

func parseUpstreams(ss []string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, u := range ss {
		if ap, err := ParseUpstream(u); err == nil {
			out = append(out, ap)
		}
	}
	return out
}

func parseAddrs(ss []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func appendNew(dst, src []netip.Addr) []netip.Addr {
	for _, a := range src {
		found := false
		for _, b := range dst {
			found = found || a == b
		}
		if !found {
			dst = append(dst, a)
		}
	}
	return dst
}

// lookup finds a queried name: case does not matter, nor does a trailing
// dot, and NAME.NETWORK is NAME.
func (t *table) lookup(qname string) *entry {
	n := strings.ToLower(strings.TrimSuffix(qname, "."))
	if e := t.names[n]; e != nil {
		return e
	}
	if t.suffix != "" {
		if base, ok := strings.CutSuffix(n, t.suffix); ok {
			return t.names[base]
		}
	}
	return nil
}

// allowed says whether a query from src may be answered: with subnets
// set, only from inside them or from the host's loopback.
func (t *table) allowed(src netip.Addr) bool {
	if len(t.subnets) == 0 || src.IsLoopback() {
		return true
	}
	for _, p := range t.subnets {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// reverseAddr parses the name of a PTR query, in-addr.arpa or ip6.arpa,
// into the address it asks about.
func reverseAddr(qname string) (netip.Addr, bool) {
	n := strings.ToLower(strings.TrimSuffix(qname, "."))
	if rest, ok := strings.CutSuffix(n, ".in-addr.arpa"); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, p := range parts {
			v, ok := smallUint(p, 10, 255)
			if !ok {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(n, ".ip6.arpa"); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, p := range parts {
			v, ok := smallUint(p, 16, 15)
			if !ok || len(p) != 1 {
				return netip.Addr{}, false
			}
			j := 31 - i // nibble index from the most significant
			b[j/2] |= byte(v) << (4 * (1 - j%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// smallUint parses a label of at most three digits in base 10 or 16 with
// no sign and no leading zeros, and at most max.
func smallUint(s string, base, max int) (int, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for _, c := range s {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		default:
			return 0, false
		}
		v = v*base + d
	}
	return v, v <= max
}
