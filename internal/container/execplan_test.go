package container

import (
	"bytes"
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/seccomp"
)

func TestExecPlanFits(t *testing.T) {
	spec := func() *specs.Spec { return &specs.Spec{Linux: &specs.Linux{}} }
	proc := func() *specs.Process { return &specs.Process{Args: []string{"true"}, Cwd: "/"} }
	prog := &seccomp.Program{Code: make([]byte, 8)}
	cases := []struct {
		name string
		edit func(*specs.Spec, *specs.Process)
		prog *seccomp.Program
		want bool
	}{
		{"plain", func(*specs.Spec, *specs.Process) {}, nil, true},
		{"compiled seccomp", func(s *specs.Spec, _ *specs.Process) { s.Linux.Seccomp = &specs.LinuxSeccomp{} }, prog, true},
		{"seccomp left to the init", func(s *specs.Spec, _ *specs.Process) { s.Linux.Seccomp = &specs.LinuxSeccomp{} }, nil, false},
		{"terminal", func(_ *specs.Spec, p *specs.Process) { p.Terminal = true }, nil, false},
		{"apparmor", func(_ *specs.Spec, p *specs.Process) { p.ApparmorProfile = "x" }, nil, false},
		{"selinux", func(_ *specs.Spec, p *specs.Process) { p.SelinuxLabel = "x" }, nil, false},
		{"io priority", func(_ *specs.Spec, p *specs.Process) { p.IOPriority = &specs.LinuxIOPriority{} }, nil, false},
		{"personality", func(s *specs.Spec, _ *specs.Process) { s.Linux.Personality = &specs.LinuxPersonality{} }, nil, false},
		{"user namespace", func(s *specs.Spec, _ *specs.Process) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.UserNamespace}}
		}, nil, false},
		{"NUL in env", func(_ *specs.Spec, p *specs.Process) { p.Env = []string{"A=b\x00c"} }, nil, false},
	}
	for _, c := range cases {
		s, p := spec(), proc()
		c.edit(s, p)
		if got := execPlanFits(s, p, c.prog); got != c.want {
			t.Errorf("%s: execPlanFits = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestExecPlanLayout reads a plan back field by field, in the order that
// execplan.c reads it.
func TestExecPlanLayout(t *testing.T) {
	p := &specs.Process{
		Args: []string{"sh", "-c", "x"}, Env: []string{"A=1"}, Cwd: "/w", NoNewPrivileges: true,
		User:         specs.User{UID: 5, GID: 6, AdditionalGids: []uint32{7}},
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL", "CAP_BPF"}},
		Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}},
	}
	plan, err := execPlan(p, &seccomp.Program{Code: []byte("12345678"), Flags: 3})
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(plan)
	u32 := func() uint32 { var v uint32; binary.Read(r, binary.NativeEndian, &v); return v }
	u64 := func() uint64 { var v uint64; binary.Read(r, binary.NativeEndian, &v); return v }
	str := func() string { b := make([]byte, u32()); r.Read(b); return string(b) }
	if m, f, uid, gid, mask := u32(), u32(), u32(), u32(), u32(); m != planMagic || f != planNNP || uid != 5 || gid != 6 || mask != 0o022 {
		t.Fatalf("header: magic %x flags %d uid %d gid %d umask %o", m, f, uid, gid, mask)
	}
	u32() // last cap: the host's
	if bnd := u64(); bnd != 1<<5|1<<39 {
		t.Errorf("bounding set %x, want CAP_KILL and CAP_BPF", bnd)
	}
	for i := 0; i < 4; i++ {
		if v := u64(); v != 0 {
			t.Errorf("capability set %d: %x, want empty", i, v)
		}
	}
	if n, g := u32(), u32(); n != 1 || g != 7 {
		t.Errorf("groups: %d, %d", n, g)
	}
	if n, res, soft, hard, name := u32(), u32(), u64(), u64(), str(); n != 1 || res != 7 || soft != 1 || hard != 2 || name != "RLIMIT_NOFILE\x00" {
		t.Errorf("rlimits: %d %d %d %d %q", n, res, soft, hard, name)
	}
	if f, code := u32(), str(); f != 3 || code != "12345678" {
		t.Errorf("seccomp: flags %d code %q", f, code)
	}
	if cwd := str(); cwd != "/w\x00" {
		t.Errorf("cwd %q", cwd)
	}
	if n, a, b, c := u32(), str(), str(), str(); n != 3 || a != "sh\x00" || b != "-c\x00" || c != "x\x00" {
		t.Errorf("args: %d %q %q %q", n, a, b, c)
	}
	if n, e := u32(), str(); n != 1 || e != "A=1\x00" || r.Len() != 0 {
		t.Errorf("env: %d %q, %d bytes left", n, e, r.Len())
	}
}
