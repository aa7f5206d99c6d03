package spec

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDefault(t *testing.T) {
	s := Default(false, 0, 0)
	if s.Root.Path != "rootfs" || !s.Process.NoNewPrivileges || s.Hostname == "" {
		t.Errorf("default spec: root %+v, nnp %v, hostname %q", s.Root, s.Process.NoNewPrivileges, s.Hostname)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			t.Error("the default spec has a user namespace")
		}
	}
	if d := s.Linux.Resources.Devices; len(d) != 1 || d[0].Allow {
		t.Errorf("default device rules %+v, want deny-all", d)
	}
	// The defaults are copies: changing one spec must not change another.
	c := s.Process.Capabilities
	c.Bounding[0] = "CAP_SYS_ADMIN"
	s.Linux.MaskedPaths[0] = "/x"
	if DefaultCapabilities[0] == "CAP_SYS_ADMIN" || MaskedPaths[0] == "/x" {
		t.Error("Default shares its slices with the package defaults")
	}
	if c.Effective[0] == "CAP_SYS_ADMIN" || c.Permitted[0] == "CAP_SYS_ADMIN" {
		t.Error("the capability sets share one slice")
	}
}

func TestDefaultRootless(t *testing.T) {
	s := Default(true, 1000, 1001)
	if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace }) {
		t.Error("rootless spec has no user namespace")
	}
	if m := s.Linux.UIDMappings; len(m) != 1 || m[0].HostID != 1000 || m[0].ContainerID != 0 {
		t.Errorf("uid mappings %+v", m)
	}
	if m := s.Linux.GIDMappings; len(m) != 1 || m[0].HostID != 1001 {
		t.Errorf("gid mappings %+v", m)
	}
	if s.Linux.Resources != nil {
		t.Error("rootless spec sets cgroup resources an unprivileged user cannot")
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && m.Type != "none" {
			t.Errorf("rootless /sys is %q, want a bind of the host's", m.Type)
		}
	}
}
