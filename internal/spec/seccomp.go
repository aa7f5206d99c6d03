// This file turns seccomp profiles into the seccomp section of a
// container's spec. A profile, like Docker's, is written once for every
// architecture and capability set: each rule may say which capabilities,
// architectures or kernel versions it is for. A container's section is
// the profile resolved for its own capabilities, this machine's
// architecture and the running kernel, so that a container given
// CAP_SYS_ADMIN may also make the syscalls that capability is about, and
// one without it may not. The default profile lives in
// seccomp_profile.go; profile files in Docker's format (plain OCI seccomp
// sections among them) are read by ParseSeccomp.

package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// profile is a seccomp profile in Docker's format: an OCI seccomp section
// whose rules may carry conditions, plus archMap, which names the
// architectures to add for each native one.
type profile struct {
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet  *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []archMapping            `json:"archMap,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Syscalls         []profileRule            `json:"syscalls,omitempty"`
}

// archMapping says which architectures a filter holds on a native one.
type archMapping struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

// profileRule is an OCI syscall rule with the conditions under which a
// container gets it.
type profileRule struct {
	specs.LinuxSyscall
	// Name is the single-name form of Names in older Docker profiles.
	Name     string      `json:"name,omitempty"`
	Comment  string      `json:"comment,omitempty"`
	Includes *ruleFilter `json:"includes,omitempty"`
	Excludes *ruleFilter `json:"excludes,omitempty"`
}

// ruleFilter is a rule's condition. In Includes, every capability listed
// must be held, the native architecture must be one of Arches, and the
// kernel must be MinKernel ("major.minor") or newer. In Excludes, any
// capability or architecture listed drops the rule.
type ruleFilter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// host is what a profile is resolved against.
type host struct {
	caps   []string
	goarch string // runtime.GOARCH; rules name architectures the same way
	kernel [2]int // major, minor; zero when unknown
}

func thisHost(caps []string) host {
	return host{caps: caps, goarch: runtime.GOARCH, kernel: hostKernel()}
}

// DefaultSeccomp returns the default seccomp profile for a container with
// DefaultCapabilities.
func DefaultSeccomp() *specs.LinuxSeccomp {
	return SeccompFor(DefaultCapabilities)
}

// SeccompFor returns the default seccomp profile for a container whose
// bounding capability set is caps, on this machine's architecture and
// kernel. It allows what Docker's default profile allows, io_uring not
// among it, and denies the rest with EPERM; see docs/SECURITY.md.
//
// Each syscall name is in at most one rule without arguments, and a name
// allowed outright is in no other rule.
func SeccompFor(caps []string) *specs.LinuxSeccomp {
	return compact(resolve(defaultProfile(), thisHost(caps)))
}

// ParseSeccomp reads a seccomp profile file (--security-opt seccomp=FILE)
// and resolves it for a container whose bounding capability set is caps.
// It takes Docker's format, of which a plain OCI seccomp section is a
// part, and follows Docker in resolving it: archMap adds the
// architectures listed for the native one, and a rule is kept only where
// its includes and excludes conditions hold. What the rules ask for is
// checked when the container is created (internal/seccomp.Validate).
func ParseSeccomp(data []byte, caps []string) (*specs.LinuxSeccomp, error) {
	var p profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	if p.DefaultAction == "" {
		return nil, errors.New("seccomp profile: no defaultAction")
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return nil, errors.New("seccomp profile: both architectures and archMap are given; use one")
	}
	for i, r := range p.Syscalls {
		if r.Name != "" && len(r.Names) > 0 {
			return nil, fmt.Errorf("seccomp profile: syscalls[%d]: both name and names are given; use one", i)
		}
		if r.Name != "" {
			p.Syscalls[i].Names = []string{r.Name}
		}
		for _, f := range []*ruleFilter{r.Includes, r.Excludes} {
			if f == nil || f.MinKernel == "" {
				continue
			}
			if _, err := parseKernel(f.MinKernel); err != nil {
				return nil, fmt.Errorf("seccomp profile: syscalls[%d]: minKernel: %w", i, err)
			}
		}
	}
	return resolve(p, thisHost(caps)), nil
}

// resolve returns the seccomp section of profile p for h.
func resolve(p profile, h host) *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  p.DefaultErrnoRet,
		Architectures:    p.Architectures,
		Flags:            p.Flags,
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	native := nativeArch(h.goarch)
	for _, m := range p.ArchMap {
		if m.Arch == native {
			s.Architectures = append([]specs.Arch{m.Arch}, m.SubArches...)
		}
	}
	for _, r := range p.Syscalls {
		if r.appliesTo(h) {
			s.Syscalls = append(s.Syscalls, r.LinuxSyscall)
		}
	}
	return s
}

func (r profileRule) appliesTo(h host) bool {
	if in := r.Includes; in != nil {
		for _, c := range in.Caps {
			if !slices.Contains(h.caps, c) {
				return false
			}
		}
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, h.goarch) {
			return false
		}
		if in.MinKernel != "" && !kernelAtLeast(h.kernel, in.MinKernel) {
			return false
		}
	}
	if ex := r.Excludes; ex != nil {
		for _, c := range ex.Caps {
			if slices.Contains(h.caps, c) {
				return false
			}
		}
		if slices.Contains(ex.Arches, h.goarch) {
			return false
		}
		if ex.MinKernel != "" && kernelAtLeast(h.kernel, ex.MinKernel) {
			return false
		}
	}
	return true
}

// compact merges the unconditional allow rules of s into one, sorted,
// and drops other rules' names that it allows anyway. The filter is the
// same; the section is shorter and easier to read and check.
func compact(s *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	allowed := map[string]bool{}
	for _, r := range s.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			for _, n := range r.Names {
				allowed[n] = true
			}
		}
	}
	names := make([]string, 0, len(allowed))
	for n := range allowed {
		names = append(names, n)
	}
	slices.Sort(names)
	rules := []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}}
	for _, r := range s.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			continue
		}
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return allowed[n] })
		if len(r.Names) > 0 {
			rules = append(rules, r)
		}
	}
	s.Syscalls = rules
	return s
}

// nativeArch is the seccomp architecture of a Go architecture.
func nativeArch(goarch string) specs.Arch {
	switch goarch {
	case "amd64":
		return specs.ArchX86_64
	case "386":
		return specs.ArchX86
	case "arm64":
		return specs.ArchAARCH64
	case "arm":
		return specs.ArchARM
	case "s390x":
		return specs.ArchS390X
	case "ppc64le":
		return specs.ArchPPC64LE
	case "ppc64":
		return specs.ArchPPC64
	case "riscv64":
		return specs.ArchRISCV64
	case "mips64":
		return specs.ArchMIPS64
	case "mips64le":
		return specs.ArchMIPSEL64
	case "loong64":
		return specs.ArchLOONGARCH64
	}
	return ""
}

// hostKernel returns the running kernel's major and minor version, or
// zeros when it cannot be read.
func hostKernel() [2]int {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return [2]int{}
	}
	v, err := parseKernel(strings.TrimSpace(string(b)))
	if err != nil {
		return [2]int{}
	}
	return v
}

// parseKernel reads "major.minor" from the start of a kernel release
// such as "6.1" or "6.1.0-18-amd64".
func parseKernel(s string) ([2]int, error) {
	majorStr, minorStr, ok := strings.Cut(s, ".")
	if end := strings.IndexFunc(minorStr, func(r rune) bool { return r < '0' || r > '9' }); end >= 0 {
		minorStr = minorStr[:end]
	}
	major, err1 := strconv.Atoi(majorStr)
	minor, err2 := strconv.Atoi(minorStr)
	if !ok || err1 != nil || err2 != nil {
		return [2]int{}, fmt.Errorf("kernel version %q: want major.minor", s)
	}
	return [2]int{major, minor}, nil
}

// kernelAtLeast reports whether kernel is want or newer; an unknown
// kernel is older than any version.
func kernelAtLeast(kernel [2]int, want string) bool {
	w, err := parseKernel(want)
	if err != nil || kernel == [2]int{} {
		return false
	}
	return kernel[0] > w[0] || kernel[0] == w[0] && kernel[1] >= w[1]
}
