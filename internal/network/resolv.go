package network

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
)

// Resolv is what a resolv.conf says.
type Resolv struct {
	Servers []string
	Search  []string
	Options []string
}

// ParseResolv reads a resolv.conf's nameserver, search (or domain) and
// options lines.
func ParseResolv(b []byte) Resolv {
	var r Resolv
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			r.Servers = append(r.Servers, f[1])
		case "search", "domain":
			r.Search = f[1:]
		case "options":
			r.Options = append(r.Options, f[1:]...)
		}
	}
	return r
}

// Fallback servers for a container whose host has none it can reach,
// as Docker's.
var fallbackServers = []string{"8.8.8.8", "8.8.4.4"}

// Files where the host's resolver configuration is read: the usual one,
// and systemd-resolved's list of its upstream servers, for a host whose
// resolv.conf names only the local stub (127.0.0.53).
var (
	hostResolvConf = "/etc/resolv.conf"
	resolvedConf   = "/run/systemd/resolve/resolv.conf"
)

// HostResolv is the resolver configuration a container on a bridge gets
// from the host: the host's servers, with loopback ones (a local stub
// that the container cannot reach) replaced by the stub's upstream
// servers, or by public ones when there are none.
func HostResolv() Resolv {
	b, _ := os.ReadFile(hostResolvConf)
	r := ParseResolv(b)
	servers := reachable(r.Servers)
	if len(servers) < len(r.Servers) || len(r.Servers) == 0 {
		if b, err := os.ReadFile(resolvedConf); err == nil {
			servers = append(servers, reachable(ParseResolv(b).Servers)...)
		}
	}
	if len(servers) == 0 {
		servers = fallbackServers
	}
	r.Servers = servers
	return r
}

// reachable drops loopback servers, which inside a container's own
// network namespace would be the container itself.
func reachable(servers []string) []string {
	var out []string
	for _, s := range servers {
		a, err := netip.ParseAddr(s)
		if err != nil || a.IsLoopback() || containsStr(out, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Format writes r as a resolv.conf.
func (r Resolv) Format() string {
	var b strings.Builder
	for _, s := range r.Servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(r.Search) > 0 {
		b.WriteString("search " + strings.Join(r.Search, " ") + "\n")
	}
	if len(r.Options) > 0 {
		b.WriteString("options " + strings.Join(r.Options, " ") + "\n")
	}
	return b.String()
}
