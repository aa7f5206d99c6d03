package engine

import (
	"net"
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
