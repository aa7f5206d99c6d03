package rootfs

import (
	"encoding/binary"
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func planSpec() *specs.Spec {
	return &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
		},
		Linux: &specs.Linux{MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys"}},
	}
}

// The plan leaves to the Go init what it does not express, so that the
// Go init, not the plan, handles (or refuses) it.
func TestPlanLeavesToGo(t *testing.T) {
	dir := t.TempDir()
	if _, err := Plan(planSpec(), dir, PlanOptions{}); err != nil {
		t.Fatalf("a plain spec: %v", err)
	}
	for name, edit := range map[string]func(*specs.Spec){
		"shared root":     func(s *specs.Spec) { s.Linux.RootfsPropagation = "rshared" },
		"remount":         func(s *specs.Spec) { s.Mounts[1].Options = append(s.Mounts[1].Options, "remount") },
		"bad option":      func(s *specs.Spec) { s.Mounts[1].Options = append(s.Mounts[1].Options, "idmap") },
		"mount over root": func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/", Type: "tmpfs"}) },
		"id mappings": func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		},
		"bad device": func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/etc/x", Type: "c", Major: 1, Minor: 3}}
		},
		"two cgroup mounts": func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/a", Type: "cgroup"}, specs.Mount{Destination: "/b", Type: "cgroup"})
		},
		"many propagations": func(s *specs.Spec) {
			for range maxPropagations + 1 {
				s.Mounts[1].Options = append(s.Mounts[1].Options, "rslave")
			}
		},
	} {
		s := planSpec()
		edit(s)
		if _, err := Plan(s, dir, PlanOptions{}); !errors.Is(err, ErrNoPlan) {
			t.Errorf("%s: Plan = %v, want ErrNoPlan", name, err)
		}
	}
}

// A plan starts with its magic and the files lxcfs may cover, and ends
// with opEnd.
func TestPlanLayout(t *testing.T) {
	b, err := Plan(planSpec(), t.TempDir(), PlanOptions{NewUTS: true})
	if err != nil {
		t.Fatal(err)
	}
	if binary.NativeEndian.Uint32(b) != planMagic {
		t.Errorf("magic %#x", binary.NativeEndian.Uint32(b))
	}
	if n := binary.NativeEndian.Uint32(b[4:]); int(n) != len(validProcMounts) {
		t.Errorf("%d files lxcfs may cover, want %d", n, len(validProcMounts))
	}
	if end := binary.NativeEndian.Uint32(b[len(b)-4:]); end != opEnd {
		t.Errorf("the plan ends with op %d", end)
	}
}
