package engine

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/errdefs"
)

// CheckSysctl accepts only the kernel parameters that a container's own
// namespaces hold, as Docker does: the ipc namespace's kernel.msg*,
// kernel.sem, kernel.shm* and fs.mqueue.*, and the network namespace's
// net.*. Any other one would change the host.
func CheckSysctl(name string) error {
	switch {
	case name == "kernel.sem", strings.HasPrefix(name, "kernel.msg"), strings.HasPrefix(name, "kernel.shm"),
		strings.HasPrefix(name, "fs.mqueue."), strings.HasPrefix(name, "net."):
		return nil
	}
	return errdefs.Invalidf("sysctl %q is not allowed: it is not namespaced (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)", name)
}

// applySpec sets what h asks for that spec.Options does not carry.
func (h *HostOptions) applySpec(s *specs.Spec) {
	if len(h.Sysctls) > 0 && s.Linux != nil {
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		for k, v := range h.Sysctls {
			s.Linux.Sysctl[k] = v
		}
	}
	if h.Domainname != "" {
		s.Domainname = h.Domainname
	}
}
