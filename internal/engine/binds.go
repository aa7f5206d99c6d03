package engine

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"berth/internal/errdefs"
	"berth/internal/volume"
)

// Bind is one mount a container asks for: a host path, a volume or a
// tmpfs (volume.Mount).
type Bind = volume.Mount

// ParseVolume reads -v [SRC:]DST[:MODE] (volume.ParseVolume).
func ParseVolume(s string) (Bind, error) { return volume.ParseVolume(s) }

// ParseMount reads --mount type=volume|bind|tmpfs,... (volume.ParseMount).
func ParseMount(s string) (Bind, error) { return volume.ParseMount(s) }

// ParsePublish checks -p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO], port
// ranges included. Publishing needs networking, which berth does not
// have yet, so a valid value is refused as unsupported.
func ParsePublish(s string) error {
	spec, proto, _ := strings.Cut(s, "/")
	switch proto {
	case "", "tcp", "udp", "sctp":
	default:
		return errdefs.Invalidf("--publish %q: unknown protocol %q (tcp, udp, sctp)", s, proto)
	}
	parts := strings.Split(spec, ":")
	if strings.HasPrefix(spec, "[") { // [IPv6]:host:container
		end := strings.Index(spec, "]")
		if end < 0 || net.ParseIP(spec[1:end]) == nil {
			return errdefs.Invalidf("--publish %q: bad IPv6 address", s)
		}
		parts = append([]string{spec[1:end]}, strings.Split(strings.TrimPrefix(spec[end+1:], ":"), ":")...)
	}
	if len(parts) > 3 {
		return errdefs.Invalidf("--publish %q: want [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]", s)
	}
	if len(parts) == 3 && parts[0] != "" && net.ParseIP(parts[0]) == nil {
		return errdefs.Invalidf("--publish %q: %q is not an IP address", s, parts[0])
	}
	for i, p := range parts {
		if len(parts) == 3 && i == 0 {
			continue
		}
		if p == "" && i < len(parts)-1 {
			continue // a host port left for berth to choose
		}
		if err := checkPortRange(p); err != nil {
			return errdefs.Invalidf("--publish %q: %v", s, err)
		}
	}
	return errdefs.Unsupportedf("--publish %q: publishing ports needs networking, which berth does not have yet", s)
}

func checkPortRange(p string) error {
	lo, hi, isRange := strings.Cut(p, "-")
	for _, x := range []string{lo, hi} {
		if !isRange && x == hi {
			continue
		}
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port %q", x)
		}
	}
	return nil
}

// resolvConf is the /etc/resolv.conf of a container given --dns,
// --dns-search and --dns-option.
func resolvConf(servers, search, options []string) (string, error) {
	var b strings.Builder
	for _, s := range servers {
		if net.ParseIP(s) == nil {
			return "", errdefs.Invalidf("--dns %q: not an IP address", s)
		}
		b.WriteString("nameserver " + s + "\n")
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.String(), nil
}
