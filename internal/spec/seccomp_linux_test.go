//go:build cgo

package spec

import (
	"fmt"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"berth/internal/seccomp"
)

// newerSyscalls are in the default profile but only in libseccomp's
// tables from the version given; an older libseccomp cannot name them,
// and the container gets EPERM for them.
var newerSyscalls = map[string][3]uint{
	"getxattrat": {2, 6, 0}, "setxattrat": {2, 6, 0}, "listxattrat": {2, 6, 0}, "removexattrat": {2, 6, 0},
	"listmount": {2, 6, 0}, "statmount": {2, 6, 0}, "mseal": {2, 6, 0}, "uretprobe": {2, 6, 0},
	"lsm_get_self_attr": {2, 6, 0}, "lsm_list_modules": {2, 6, 0}, "lsm_set_self_attr": {2, 6, 0},
	"riscv_hwprobe": {2, 6, 0},
	"cachestat":     {2, 5, 5}, "fchmodat2": {2, 5, 5}, "map_shadow_stack": {2, 5, 5},
	"futex_wait": {2, 5, 5}, "futex_wake": {2, 5, 5}, "futex_requeue": {2, 5, 5},
}

func libseccompOlder(v [3]uint) bool {
	major, minor, micro := libseccomp.GetLibraryVersion()
	have := [3]uint{major, minor, micro}
	for i := range have {
		if have[i] != v[i] {
			return have[i] < v[i]
		}
	}
	return false
}

// Every name the profile has, with every capability, is a syscall of
// one of the filter's architectures on this host, as libseccomp knows
// them: a misspelt name would be skipped without a word, and the
// syscall it meant denied.
func TestSeccompNamesAreSyscalls(t *testing.T) {
	s := SeccompFor(AllCapabilities())
	var arches []libseccomp.ScmpArch
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(archString(a))
		if err != nil {
			t.Fatalf("architecture %s: %v", a, err)
		}
		arches = append(arches, arch)
	}
	if len(arches) == 0 {
		native, err := libseccomp.GetNativeArch()
		if err != nil {
			t.Fatal(err)
		}
		arches = append(arches, native)
	}
	var unknown []string
	for _, r := range s.Syscalls {
		for _, name := range r.Names {
			known := false
			for _, arch := range arches {
				if nr, err := libseccomp.GetSyscallFromNameByArch(name, arch); err == nil && nr >= 0 {
					known = true
				}
			}
			if known {
				continue
			}
			if v, ok := newerSyscalls[name]; ok && libseccompOlder(v) {
				unknown = append(unknown, name)
				continue
			}
			t.Errorf("%s is not a syscall of %v", name, s.Architectures)
		}
	}
	if len(unknown) > 0 {
		major, minor, micro := libseccomp.GetLibraryVersion()
		t.Logf("libseccomp %d.%d.%d is too old to name %v", major, minor, micro, unknown)
	}
}

// archString turns a spec architecture into libseccomp's name for it.
func archString(a specs.Arch) string {
	switch a {
	case specs.ArchX86_64:
		return "amd64"
	case specs.ArchX86:
		return "x86"
	case specs.ArchX32:
		return "x32"
	case specs.ArchAARCH64:
		return "arm64"
	case specs.ArchARM:
		return "arm"
	case specs.ArchS390X:
		return "s390x"
	case specs.ArchS390:
		return "s390"
	case specs.ArchRISCV64:
		return "riscv64"
	case specs.ArchPPC64LE:
		return "ppc64le"
	}
	return fmt.Sprint(a)
}

// libseccomp accepts the profile for every capability set: the runtime
// checks a spec the same way at create.
func TestSeccompValidates(t *testing.T) {
	for name, caps := range map[string][]string{"none": nil, "default": DefaultCapabilities, "all": AllCapabilities()} {
		if err := seccomp.Validate(SeccompFor(caps)); err != nil {
			t.Errorf("%s capabilities: %v", name, err)
		}
	}
}
