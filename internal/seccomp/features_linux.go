//go:build cgo

package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Features lists what this build supports, in the shape of runtime-spec's
// features document: every action and operator Validate accepts, the
// architectures the linked libseccomp can add to a filter, the flags Validate
// recognizes, and the subset of them that this host's libseccomp and kernel
// can apply.
func Features() *features.Seccomp {
	enabled := true
	archs := []string{}
	for _, arch := range archNames() {
		if archSupported(arch) {
			archs = append(archs, string(arch))
		}
	}
	supported := []string{}
	for _, flag := range flagNames() {
		if flagSupported(specs.LinuxSeccompFlag(flag)) {
			supported = append(supported, flag)
		}
	}
	return &features.Seccomp{
		Enabled:        &enabled,
		Actions:        actionNames(),
		Operators:      operatorNames(),
		Archs:          archs,
		KnownFlags:     flagNames(),
		SupportedFlags: supported,
	}
}

// archSupported reports whether libseccomp can add arch to a filter.
func archSupported(arch specs.Arch) bool {
	a, err := toArch(arch)
	if err != nil {
		return false
	}
	return probe(func(f *libseccomp.ScmpFilter) error { return f.AddArch(a) })
}

// flagSupported reports whether libseccomp and the kernel can apply flag.
func flagSupported(flag specs.LinuxSeccompFlag) bool {
	return probe(func(f *libseccomp.ScmpFilter) error { return setFlag(f, flag) })
}

// probe runs try on a scratch filter that is never loaded.
func probe(try func(*libseccomp.ScmpFilter) error) bool {
	f, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return false
	}
	defer f.Release()
	return try(f) == nil
}
