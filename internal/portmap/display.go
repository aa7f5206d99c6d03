package portmap

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Display is ps's PORTS column, as Docker writes it: published ports as
// 0.0.0.0:8080->80/tcp, ports published to the same number and exposed
// ports that are not published grouped into ranges (0.0.0.0:80-81->80-81/tcp,
// 443/tcp).
func Display(published []Binding, exposed []string) string {
	type port struct {
		ip         string
		public     uint16
		private    uint16
		proto      string
		isExposure bool
	}
	var ports []port
	have := map[string]bool{}
	for _, b := range published {
		ports = append(ports, port{ip: b.HostIP, public: b.HostPort, private: b.ContainerPort, proto: b.Proto})
		have[b.Port()] = true
	}
	for _, e := range exposed {
		if have[e] {
			continue
		}
		n, proto, _ := strings.Cut(e, "/")
		p, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			continue
		}
		ports = append(ports, port{private: uint16(p), proto: proto, isExposure: true})
	}
	sort.SliceStable(ports, func(i, j int) bool {
		a, b := ports[i], ports[j]
		if a.private != b.private {
			return a.private < b.private
		}
		if a.proto != b.proto {
			return a.proto < b.proto
		}
		return a.ip < b.ip
	})
	type group struct{ first, last uint16 }
	groups := map[string]*group{}
	var keys, result, mappings []string
	form := func(key string, g *group) string {
		ip, proto, hasIP := strings.Cut(key, "/")
		if !hasIP {
			ip, proto = "", key
		}
		r := strconv.Itoa(int(g.first))
		if g.last != g.first {
			r += "-" + strconv.Itoa(int(g.last))
		}
		if hasIP {
			r = fmt.Sprintf("%s->%s", net.JoinHostPort(ip, r), r)
		}
		return r + "/" + proto
	}
	for _, p := range ports {
		key := p.proto
		if !p.isExposure {
			if p.public != p.private {
				mappings = append(mappings, fmt.Sprintf("%s->%d/%s", net.JoinHostPort(p.ip, strconv.Itoa(int(p.public))), p.private, p.proto))
				continue
			}
			key = p.ip + "/" + p.proto
		}
		g := groups[key]
		switch {
		case g == nil:
			groups[key] = &group{p.private, p.private}
			keys = append(keys, key)
		case p.private == g.last+1:
			g.last = p.private
		default:
			result = append(result, form(key, g))
			groups[key] = &group{p.private, p.private}
		}
	}
	for _, k := range keys {
		result = append(result, form(k, groups[k]))
	}
	return strings.Join(append(result, mappings...), ", ")
}
