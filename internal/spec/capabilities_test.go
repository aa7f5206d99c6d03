package spec

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNormalizeCapability(t *testing.T) {
	for in, want := range map[string]string{
		"chown": "CAP_CHOWN", "CAP_NET_ADMIN": "CAP_NET_ADMIN", "cap_sys_admin": "CAP_SYS_ADMIN",
		"Net_Raw": "CAP_NET_RAW", "all": "ALL", "ALL": "ALL", "checkpoint_restore": "CAP_CHECKPOINT_RESTORE",
	} {
		if got, err := NormalizeCapability(in); err != nil || got != want {
			t.Errorf("NormalizeCapability(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "CAP_", "FLY", "CAP_ALL", "net admin"} {
		if got, err := NormalizeCapability(in); err == nil {
			t.Errorf("NormalizeCapability(%q) = %q, no error", in, got)
		}
	}
}

// Docker's rules for adds and drops (moby's oci.TweakCapabilities).
func TestCapabilities(t *testing.T) {
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(DefaultCapabilities), func(c string) bool { return slices.Contains(drop, c) })
	}
	for _, c := range []struct {
		add, drop, want []string
	}{
		{nil, []string{"CAP_CHOWN"}, without("CAP_CHOWN")},
		{[]string{"CAP_NET_ADMIN", "CAP_CHOWN"}, []string{"CAP_KILL"}, append(without("CAP_KILL"), "CAP_NET_ADMIN")},
		{[]string{"CAP_CHOWN"}, []string{"ALL"}, []string{"CAP_CHOWN"}},
		{nil, []string{"ALL"}, []string{}},
		{[]string{"ALL"}, []string{"CAP_SYS_ADMIN"}, slices.DeleteFunc(AllCapabilities(), func(c string) bool { return c == "CAP_SYS_ADMIN" })},
		{[]string{"ALL"}, []string{"ALL"}, AllCapabilities()},
	} {
		if got := Capabilities(c.add, c.drop); !slices.Equal(got, c.want) || got == nil {
			t.Errorf("add %q, drop %q: %q, want %q", c.add, c.drop, got, c.want)
		}
	}
}

func TestForContainerHostOptions(t *testing.T) {
	s := ForContainer(Options{
		Args: []string{"sh"}, Capabilities: []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}, NewPrivileges: true,
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}, {Type: "RLIMIT_CORE"}},
		Devices: []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}},
	})
	c := s.Process.Capabilities
	for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted} {
		if !slices.Equal(set, []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}) {
			t.Errorf("capabilities %+v", c)
		}
	}
	if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("inheritable or ambient capabilities: %+v", c)
	}
	if always, _ := allowed(s.Linux.Seccomp); !always["mount"] || always["chroot"] {
		t.Error("the seccomp profile does not follow the capabilities given")
	}
	if s.Process.NoNewPrivileges {
		t.Error("no_new_privs is on with NewPrivileges")
	}
	if want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}, {Type: "RLIMIT_CORE"}}; !slices.Equal(s.Process.Rlimits, want) {
		t.Errorf("rlimits %+v, want %+v", s.Process.Rlimits, want)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/fuse" {
		t.Errorf("devices %+v", s.Linux.Devices)
	}
	// No capabilities at all is a set too, not the defaults.
	if s := ForContainer(Options{Capabilities: []string{}}); len(s.Process.Capabilities.Bounding) != 0 {
		t.Errorf("an empty set gave %q", s.Process.Capabilities.Bounding)
	}
}

func TestForContainerPrivileged(t *testing.T) {
	s := ForContainer(Options{Args: []string{"sh"}, Privileged: true, Seccomp: DefaultSeccomp(), Capabilities: []string{"CAP_CHOWN"}})
	all := AllCapabilities()
	if c := s.Process.Capabilities; !slices.Equal(c.Bounding, all) || !slices.Equal(c.Effective, all) || !slices.Equal(c.Permitted, all) {
		t.Errorf("capabilities %+v, want all of %q", c, all)
	}
	if s.Linux.Seccomp != nil {
		t.Error("a privileged container has a seccomp filter")
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("masked %q, read-only %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, m := range s.Mounts {
		if (m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup") && slices.Contains(m.Options, "ro") {
			t.Errorf("%s is read-only: %q", m.Destination, m.Options)
		}
	}
	if d := s.Linux.Resources.Devices; len(d) != 1 || !d[0].Allow || d[0].Access != "rwm" || d[0].Type != "" {
		t.Errorf("device rules %+v, want one allowing all", d)
	}
	// The next container gets the defaults again.
	s = ForContainer(Options{Args: []string{"sh"}})
	for _, m := range s.Mounts {
		if m.Destination == "/sys" && !slices.Contains(m.Options, "ro") {
			t.Errorf("/sys after a privileged container: %q", m.Options)
		}
	}
	if len(s.Linux.MaskedPaths) == 0 || s.Linux.Seccomp == nil {
		t.Error("the defaults changed after a privileged container")
	}
}
