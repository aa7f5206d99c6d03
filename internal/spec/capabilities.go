// This file holds what the run flags --cap-add, --cap-drop and
// --privileged mean for a container's spec, with Docker's rules.

package spec

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NormalizeCapability returns the kernel's name of a capability given as
// Docker takes it: any case, with or without "CAP_" ("net_admin",
// "CAP_NET_ADMIN"). "ALL" stands for every capability and stays "ALL".
func NormalizeCapability(name string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "ALL" {
		return n, nil
	}
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for _, known := range capNames {
		if n == known {
			return n, nil
		}
	}
	return "", fmt.Errorf("unknown capability %q", name)
}

// Capabilities returns the capability set of a container started with
// --cap-add add and --cap-drop drop, both normalized, with Docker's rules:
// adding ALL gives every capability of this kernel but those dropped;
// dropping ALL keeps only those added; otherwise the drops are taken from
// DefaultCapabilities and the adds put on top.
func Capabilities(add, drop []string) []string {
	var caps []string
	switch {
	case slices.Contains(add, "ALL"):
		for _, c := range AllCapabilities() {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		return caps
	case slices.Contains(drop, "ALL"):
	default:
		for _, c := range DefaultCapabilities {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	}
	for _, c := range add {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	if caps == nil {
		caps = []string{} // none at all, which nil would not say
	}
	return caps
}

// privileged turns s into a privileged container's spec, as Docker's
// --privileged does: every capability, no masked or read-only paths,
// /sys and the cgroup filesystem writable, and every device allowed in
// the device cgroup. Seccomp is left off by ForContainer; the host's
// device nodes are for the caller to add (HostDevices), since reading
// them is Linux's business.
func privileged(s *specs.Spec) {
	all := AllCapabilities()
	c := s.Process.Capabilities
	c.Bounding, c.Effective, c.Permitted = all, slices.Clone(all), slices.Clone(all)
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	for i, m := range s.Mounts {
		if m.Destination == "/sys" || m.Type == "cgroup" {
			s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
	}
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
}

// applyHostOptions applies what opts ask beyond the defaults to the
// process's privileges, rlimits and devices; ForContainer then picks the
// seccomp profile for the capabilities it leaves.
func applyHostOptions(s *specs.Spec, opts Options) {
	p := s.Process
	if opts.Capabilities != nil {
		c := p.Capabilities
		c.Bounding = slices.Clone(opts.Capabilities)
		c.Effective = slices.Clone(opts.Capabilities)
		c.Permitted = slices.Clone(opts.Capabilities)
	}
	p.NoNewPrivileges = !opts.NewPrivileges
	for _, r := range opts.Rlimits {
		p.Rlimits = slices.DeleteFunc(p.Rlimits, func(d specs.POSIXRlimit) bool { return d.Type == r.Type })
		p.Rlimits = append(p.Rlimits, r)
	}
	s.Linux.Devices = append(s.Linux.Devices, opts.Devices...)
	if opts.Privileged {
		privileged(s)
	}
}
