package engine

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/errdefs"
)

// Bind is a host path mounted into a container (-v /src:/dst, --mount
// type=bind).
type Bind struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	// Propagation is rprivate unless asked otherwise.
	Propagation string `json:"propagation,omitempty"`
	// Create makes a missing source directory, as -v does and --mount
	// does not.
	Create bool `json:"create,omitempty"`
}

var propagations = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// ParseVolume reads -v SRC:DST[:OPTIONS]. A SRC that is not an absolute
// path names a volume, which berth does not have yet.
func ParseVolume(s string) (Bind, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Bind{}, errdefs.Invalidf("--volume %q: want SRC:DST[:OPTIONS]", s)
	}
	b := Bind{Source: parts[0], Destination: parts[1], Create: true}
	if !filepath.IsAbs(b.Source) {
		return Bind{}, errdefs.Unsupportedf("--volume %q: %q names a volume; named volumes are not in berth yet, give a host path", s, b.Source)
	}
	if !filepath.IsAbs(b.Destination) {
		return Bind{}, errdefs.Invalidf("--volume %q: the container path %q is not absolute", s, b.Destination)
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch {
			case o == "ro":
				b.ReadOnly = true
			case o == "rw":
			case o == "z" || o == "Z":
				// SELinux relabelling: nothing to do without SELinux.
			case propagations[o]:
				b.Propagation = o
			default:
				return Bind{}, errdefs.Invalidf("--volume %q: unknown option %q (ro, rw, z, Z, or a propagation)", s, o)
			}
		}
	}
	return b, nil
}

// ParseMount reads --mount type=bind|tmpfs,source=...,target=...; it
// returns a bind, or a tmpfs destination and its options.
func ParseMount(s string) (b *Bind, tmpfsDest, tmpfsOpts string, err error) {
	kv := map[string]string{}
	for _, f := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(f, "=")
		kv[strings.ToLower(strings.TrimSpace(k))] = v
	}
	target := firstOf(kv["target"], firstOf(kv["destination"], kv["dst"]))
	if target == "" || !filepath.IsAbs(target) {
		return nil, "", "", errdefs.Invalidf("--mount %q: target must be an absolute path", s)
	}
	switch kv["type"] {
	case "bind":
		src := firstOf(kv["source"], kv["src"])
		if !filepath.IsAbs(src) {
			return nil, "", "", errdefs.Invalidf("--mount %q: a bind's source must be an absolute host path", s)
		}
		if _, err := os.Stat(src); err != nil {
			return nil, "", "", errdefs.Invalidf("--mount %q: bind source path does not exist: %s", s, src)
		}
		b := &Bind{Source: src, Destination: target}
		_, ro := kv["readonly"]
		_, ro2 := kv["ro"]
		b.ReadOnly = ro || ro2
		if p := kv["bind-propagation"]; p != "" {
			if !propagations[p] {
				return nil, "", "", errdefs.Invalidf("--mount %q: unknown bind-propagation %q", s, p)
			}
			b.Propagation = p
		}
		return b, "", "", nil
	case "tmpfs":
		var opts []string
		if v := kv["tmpfs-size"]; v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return nil, "", "", errdefs.Invalidf("--mount %q: tmpfs-size must be a number of bytes", s)
			}
			opts = append(opts, "size="+v)
		}
		if v := kv["tmpfs-mode"]; v != "" {
			if _, err := strconv.ParseUint(v, 8, 32); err != nil {
				return nil, "", "", errdefs.Invalidf("--mount %q: tmpfs-mode must be octal", s)
			}
			opts = append(opts, "mode="+v)
		}
		return nil, target, strings.Join(opts, ","), nil
	case "volume":
		return nil, "", "", errdefs.Unsupportedf("--mount %q: named volumes are not in berth yet; use type=bind or type=tmpfs", s)
	case "":
		return nil, "", "", errdefs.Invalidf("--mount %q: type is missing (bind, tmpfs)", s)
	}
	return nil, "", "", errdefs.Invalidf("--mount %q: unknown type %q (bind, tmpfs)", s, kv["type"])
}

// bindMounts turns binds into the spec's mounts, making missing -v
// sources as Docker does.
func bindMounts(binds []Bind) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, b := range binds {
		if b.Create {
			if err := os.MkdirAll(b.Source, 0o755); err != nil {
				return nil, fmt.Errorf("--volume %s: %w", b.Source, err)
			}
		}
		opts := []string{"rbind", firstOf(b.Propagation, "rprivate")}
		if b.ReadOnly {
			opts = append(opts, "ro")
		}
		out = append(out, specs.Mount{Destination: b.Destination, Type: "bind", Source: b.Source, Options: opts})
	}
	return out, nil
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
