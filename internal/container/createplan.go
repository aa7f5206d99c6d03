package container

import (
	"errors"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/cgroup"
	"berth/internal/rootfs"
	"berth/internal/seccomp"
)

// envCreatePlan names the memfd that holds a create plan: the init
// prepares the container in C (createplan.c) and never starts Go.
const envCreatePlan = "_BERTH_CREATE_PLAN"

// createPlan returns the create plan of a new container whose init can do
// without Go, or nil when the spec needs the Go init: a user or time
// namespace, no mount namespace of its own, hooks that run in the
// container or while its init waits, a terminal, an LSM label, a
// personality, an I/O priority or a seccomp agent; or what rootfs.Plan
// leaves to Go. A Runtime with GoInit set always uses the Go init.
func (r *Runtime) createPlan(s *specs.Spec, root string, prog *seccomp.Program, cg *cgroup.Manager, opts CreateOptions) (*os.File, error) {
	if r.GoInit || !createPlanFits(s, prog, opts) {
		return nil, nil
	}
	newNS := newNamespaces(s)
	paths, err := cgroup.OwnCgroups()
	if err != nil {
		return nil, nil
	}
	for k, v := range cg.ProcPaths() {
		paths[k] = v
	}
	mounts, err := cgroup.Mounts()
	if err != nil {
		return nil, nil
	}
	planOpts := rootfs.PlanOptions{
		CgroupPaths:  paths,
		CgroupNS:     newNS[specs.CgroupNamespace],
		Unified:      cgroup.Detect() == cgroup.Unified,
		NewUTS:       newNS[specs.UTSNamespace],
		CgroupMounts: []rootfs.CgroupMount{},
	}
	for _, m := range mounts {
		planOpts.CgroupMounts = append(planOpts.CgroupMounts, rootfs.CgroupMount{MountPoint: m.MountPoint, Root: m.Root, Controllers: m.Controllers})
	}
	plan, err := rootfs.Plan(s, root, planOpts)
	if errors.Is(err, rootfs.ErrNoPlan) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	proc, err := execPlan(s.Process, prog)
	if err != nil {
		return nil, err
	}
	return execPlanFile(append(plan, proc...))
}

// createPlanFits reports whether what the init does for s, beyond its
// root filesystem (which rootfs.Plan judges), can be done without Go.
func createPlanFits(s *specs.Spec, prog *seccomp.Program, opts CreateOptions) bool {
	if opts.NoPivot || opts.terminal || s.Linux == nil || s.Process == nil {
		return false
	}
	newNS := newNamespaces(s)
	if !newNS[specs.MountNamespace] || newNS[specs.TimeNamespace] || hasNamespace(s, specs.UserNamespace) {
		return false
	}
	if h := s.Hooks; h != nil {
		//lint:ignore SA1019 prestart is deprecated, and configs still use it
		if len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer) > 0 {
			return false
		}
	}
	if s.Linux.MountLabel != "" || (s.Linux.Seccomp != nil && s.Linux.Seccomp.ListenerPath != "") {
		return false
	}
	return execPlanFits(s, s.Process, prog)
}

// newNamespaces are the namespaces s makes rather than joins.
func newNamespaces(s *specs.Spec) map[specs.LinuxNamespaceType]bool {
	out := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range s.Linux.Namespaces {
		if ns.Path == "" {
			out[ns.Type] = true
		}
	}
	return out
}
