package rootfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A plan is what Prepare, Pivot and Finalize would do for one spec,
// worked out beforehand as a list of steps that a process without Go can
// carry out: the container's init, in C (internal/container/createplan.c),
// which then has no Go runtime to start. Every decision is made here: which
// options mean which flags, which devices to make, which cgroup
// directories to show. What can only be known inside the new mount
// namespace stays in the steps: each destination is still resolved inside
// the root, with openat2(RESOLVE_IN_ROOT), when the step runs, and checked
// where it led.
//
// The encoding: a u32 magic; the files under /proc that mounts may cover
// (validProcMounts: a u32 count and the strings); then steps, each a u32
// op and its fields, up to opEnd. u32 and u64 are in host byte order,
// strings a u32 length and that many bytes, the last of them a NUL that
// the length counts.

// ErrNoPlan means the spec asks for something only the Go init does:
// a user namespace, hooks that run in the container, a remount, a
// propagation of the root other than the default, or options the Go
// path rejects (so that it is the Go path that explains why).
var ErrNoPlan = errors.New("spec needs the Go init")

const planMagic = 0x31504342 // "BCP1"

// The steps. Their numbers are shared with createplan.c.
const (
	opEnd        = 0
	opMount      = 1  // flags, src, target, fstype, data, at, what
	opRoot       = 2  // host dir: open it as the root to resolve in
	opTarget     = 3  // kind, dest, src, proc, what: make and open a mount point
	opFinish     = 4  // dest, check root, propagations, attr set, attr clear, what
	opMknod      = 5  // dir, name, mode, dev, uid, gid, what
	opSymlink    = 6  // dir, target, name, replace, what
	opJoinCgroup = 7  // new cgroup namespace
	opWaitCgroup = 8  // wait for the parent's "cgroup" message
	opPivot      = 9  // host dir of the new root
	opHostname   = 10 // which (0 host, 1 domain), name
	opWrite      = 11 // path, data, what
	opReadonly   = 12 // path, what
	opMask       = 13 // path, what
	opProcfs     = 14 // required: check that /proc is a procfs
)

// maxPropagations is how many propagation options one mount may carry in
// a plan (createplan.c reads at most that many).
const maxPropagations = 8

// Where an opMount's target is.
const (
	atHost   = 0 // the target string, as the init sees it
	atTarget = 1 // the last opTarget's mount point
	atRoot   = 2 // the target string, resolved inside the root
)

// Kinds of opTarget mount points.
const (
	targetDir        = 0
	targetFile       = 1
	targetLikeSource = 2 // a directory if the source is one, else a file
)

// PlanOptions describe the init's situation, as Options do for Prepare.
type PlanOptions struct {
	// CgroupPaths are the init's cgroups once it has joined the
	// container's, keyed as ParseProcCgroup keys them.
	CgroupPaths map[string]string
	CgroupNS    bool
	Unified     bool
	// NewUTS is set when the container has its own UTS namespace, where
	// the hostname and domain name are set.
	NewUTS bool
	// CgroupMounts are the host's cgroup hierarchies, when the caller has
	// them already; nil reads them from the mount table, which on a host
	// with thousands of containers is long.
	CgroupMounts []CgroupMount
}

// CgroupMount is a mounted cgroup hierarchy: its controllers, none for
// cgroup2.
type CgroupMount struct {
	MountPoint, Root string
	Controllers      []string
}

// cgroupInfos returns the cgroup mounts of the mount table.
func (o PlanOptions) cgroupInfos() ([]mountInfo, error) {
	if o.CgroupMounts == nil {
		return readMountInfo()
	}
	var infos []mountInfo
	for _, m := range o.CgroupMounts {
		mi := mountInfo{fstype: "cgroup", mountPoint: m.MountPoint, root: m.Root, superOpts: m.Controllers}
		if len(m.Controllers) == 0 {
			mi.fstype = "cgroup2"
		}
		infos = append(infos, mi)
	}
	return infos, nil
}

type planWriter struct {
	bytes.Buffer
}

func (w *planWriter) u32(v uint32) { binary.Write(&w.Buffer, binary.NativeEndian, v) }
func (w *planWriter) u64(v uint64) { binary.Write(&w.Buffer, binary.NativeEndian, v) }
func (w *planWriter) str(s string) {
	w.u32(uint32(len(s) + 1))
	w.WriteString(s)
	w.WriteByte(0)
}

func (w *planWriter) mount(flags uintptr, src, target, fstype, data string, at uint32, what string) {
	w.u32(opMount)
	w.u32(uint32(flags))
	w.str(src)
	w.str(target)
	w.str(fstype)
	w.str(data)
	w.u32(at)
	w.str(what)
}

func (w *planWriter) target(kind uint32, dest, src string, proc bool, what string) {
	w.u32(opTarget)
	w.u32(kind)
	w.str(dest)
	w.str(src)
	w.u32(b2u(proc))
	w.str(what)
}

func (w *planWriter) symlink(dir, target, name string, replace bool, what string) {
	w.u32(opSymlink)
	w.str(dir)
	w.str(target)
	w.str(name)
	w.u32(b2u(replace))
	w.str(what)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Plan compiles what Prepare, the cgroup wait, Pivot, the hostname, the
// sysctls and Finalize do for s into a plan, or returns ErrNoPlan.
// rootfs is the host path of the root filesystem.
func Plan(s *specs.Spec, rootfs string, opts PlanOptions) ([]byte, error) {
	if err := planFits(s); err != nil {
		return nil, err
	}
	dir, err := filepath.EvalSymlinks(rootfs)
	if err != nil || !filepath.IsAbs(dir) {
		return nil, ErrNoPlan
	}
	w := &planWriter{}
	w.u32(planMagic)
	w.u32(uint32(len(validProcMounts)))
	for _, p := range validProcMounts {
		w.str(p)
	}
	w.u32(opProcfs)
	w.u32(1)
	prop, _ := parsePropagation(rootfsPropagation(s), unix.MS_SLAVE|unix.MS_REC)
	w.mount(prop, "", "/", "", "", atHost, "set propagation of /")
	w.mount(unix.MS_BIND|unix.MS_REC, dir, dir, "", "", atHost, "bind mount rootfs "+dir+" onto itself")
	w.u32(opRoot)
	w.str(dir)
	joined := false
	for _, m := range s.Mounts {
		if m.Type == "cgroup" && !joined {
			w.u32(opJoinCgroup)
			w.u32(b2u(opts.CgroupNS))
			joined = true
		}
		if err := planMount(w, m, opts); err != nil {
			return nil, err
		}
	}
	if needsDevSetup(s) {
		planDevices(w, s)
	}
	if !joined {
		w.u32(opJoinCgroup)
		w.u32(b2u(opts.CgroupNS))
	}
	w.u32(opWaitCgroup)
	w.u32(opPivot)
	w.str(dir)
	if opts.NewUTS {
		for i, name := range []string{s.Hostname, s.Domainname} {
			if name != "" {
				w.u32(opHostname)
				w.u32(uint32(i))
				w.str(name)
			}
		}
	}
	if s.Linux != nil {
		for k, v := range s.Linux.Sysctl {
			w.u32(opWrite)
			w.str("/proc/sys/" + strings.ReplaceAll(k, ".", "/"))
			w.str(v)
			w.str(fmt.Sprintf("set sysctl %s=%s", k, v))
		}
	}
	planFinalize(w, s)
	w.u32(opEnd)
	return w.Bytes(), nil
}

// planFits returns ErrNoPlan for what only the Go path does.
func planFits(s *specs.Spec) error {
	if s == nil || s.Root == nil {
		return ErrNoPlan
	}
	if s.Linux != nil && (len(s.Linux.UIDMappings) > 0 || len(s.Linux.GIDMappings) > 0) {
		return ErrNoPlan // device owners would need mapping
	}
	switch rootfsPropagation(s) {
	case "", "rslave", "rprivate":
		// Nothing stays shared, so the rootfs's parent mount needs no
		// change before pivot_root.
	default:
		return ErrNoPlan
	}
	cgroups := 0
	for _, m := range s.Mounts {
		c, err := parseMountOptions(m.Type, m.Options)
		if err != nil || c.flags&unix.MS_REMOUNT != 0 || cleanPath(m.Destination) == "/" || len(c.propagation) > maxPropagations {
			return ErrNoPlan
		}
		if m.Type == "cgroup" {
			if cgroups++; cgroups > 1 {
				return ErrNoPlan
			}
		}
	}
	if s.Linux != nil {
		for _, d := range s.Linux.Devices {
			if validateDevice(d) != nil {
				return ErrNoPlan
			}
		}
	}
	return nil
}

func planMount(w *planWriter, m specs.Mount, opts PlanOptions) error {
	dest := cleanPath(m.Destination)
	c, _ := parseMountOptions(m.Type, m.Options)
	what := fmt.Sprintf("mount %s on %s", describe(m), m.Destination)
	switch {
	case c.bind:
		w.target(targetLikeSource, dest, m.Source, false, what)
		planBind(w, m.Source, atTarget, dest, c.flags, what)
	case m.Type == "cgroup":
		if err := planCgroup(w, m, c, dest, opts, what); err != nil {
			return err
		}
	default:
		w.target(targetDir, dest, m.Source, m.Type == "proc", what)
		w.mount(mountFlags(m, c, dest), m.Source, "", m.Type, c.data, atTarget, what)
	}
	w.u32(opFinish)
	w.str(dest)
	w.u32(1)
	w.u32(uint32(len(c.propagation)))
	for _, p := range c.propagation {
		w.u32(uint32(p))
	}
	w.u64(c.attrSet)
	w.u64(c.attrClr)
	w.str(what)
	return nil
}

// planBind binds src onto the mount point, then applies the per-mount
// flags, which the kernel ignores on a new bind, with a remount.
func planBind(w *planWriter, src string, at uint32, dest string, flags uintptr, what string) {
	w.mount(unix.MS_BIND|flags&unix.MS_REC, src, "", "", "", at, what)
	if flags&bindRemountFlags != 0 {
		w.mount(unix.MS_BIND|unix.MS_REMOUNT|flags&bindRemountFlags, "", dest, "", "", atRoot, what+": remount with flags")
	}
}

// planCgroup is mountCgroup's plan: the host's hierarchies and the init's
// cgroup directories in them are known to the parent too.
func planCgroup(w *planWriter, m specs.Mount, c mountConfig, dest string, opts PlanOptions, what string) error {
	infos, err := opts.cgroupInfos()
	if err != nil {
		return err
	}
	w.target(targetDir, dest, m.Source, false, what)
	if opts.Unified {
		if opts.CgroupNS {
			w.mount(c.flags, "cgroup2", "", "cgroup2", c.data, atTarget, what)
			return nil
		}
		src, err := cgroup2Dir(infos, opts.CgroupPaths)
		if err != nil {
			return ErrNoPlan
		}
		planBind(w, src, atTarget, dest, c.flags|unix.MS_BIND|unix.MS_REC, what)
		return nil
	}
	tmpfsFlags := cgroupTmpfsFlags(c)
	w.mount(tmpfsFlags, "tmpfs", "", "tmpfs", "mode=755", atTarget, what+": mount tmpfs")
	for _, h := range v1Hierarchies(infos, opts.CgroupPaths, opts.CgroupNS) {
		name := path.Base(h.mount.mountPoint)
		sub := path.Join(dest, name)
		hwhat := fmt.Sprintf("%s: cgroup %s", what, h.key)
		w.target(targetDir, sub, "", false, hwhat)
		if opts.CgroupNS {
			w.mount(c.flags&^unix.MS_BIND, "cgroup", "", "cgroup", h.key, atTarget, hwhat)
		} else {
			cg, ok := opts.CgroupPaths[h.key]
			if !ok {
				return ErrNoPlan
			}
			src, err := hostCgroupDir(h.mount, cg)
			if err != nil {
				return ErrNoPlan
			}
			planBind(w, src, atTarget, sub, c.flags|unix.MS_BIND|unix.MS_REC, hwhat)
		}
		for _, ctl := range controllerLinks(h.key, name) {
			w.symlink(dest, name, ctl, false, fmt.Sprintf("%s: symlink %s to %s", what, path.Join(dest, ctl), name))
		}
	}
	if c.flags&unix.MS_RDONLY != 0 {
		w.mount(unix.MS_BIND|unix.MS_REMOUNT|tmpfsFlags|unix.MS_RDONLY, "", dest, "", "", atRoot, what+": remount read-only")
	}
	return nil
}

// planDevices is createDevices and createDevSymlinks. Without a user
// namespace, devices are made with mknod; where that is refused, the
// host's node is bound instead.
func planDevices(w *planWriter, s *specs.Spec) {
	for _, d := range specDevices(s) {
		dir, name := path.Split(d.Path)
		typ := deviceType(d.Type)
		var dev uint64
		if typ != unix.S_IFIFO {
			dev = unix.Mkdev(uint32(d.Major), uint32(d.Minor))
		}
		w.u32(opMknod)
		w.str(dir)
		w.str(name)
		w.u32(typ | devicePerm(d))
		w.u64(dev)
		w.u32(derefID(d.UID))
		w.u32(derefID(d.GID))
		w.str("create device " + d.Path)
	}
	for _, l := range devSymlinks(s) {
		w.symlink("/dev", l[0], l[1], false, fmt.Sprintf("symlink /dev/%s to %s", l[1], l[0]))
	}
	w.symlink("/dev", "pts/ptmx", "ptmx", true, "symlink /dev/ptmx to pts/ptmx")
}

// planFinalize is Finalize.
func planFinalize(w *planWriter, s *specs.Spec) {
	if prop := rootfsPropagation(s); prop != "" {
		flag, _ := parsePropagation(prop, 0)
		w.mount(flag, "", "/", "", "", atHost, "set rootfs propagation "+prop+" on /")
	}
	w.u32(opRoot)
	w.str("/")
	w.u32(opProcfs)
	w.u32(0)
	if s.Linux != nil {
		for _, p := range s.Linux.ReadonlyPaths {
			w.u32(opReadonly)
			w.str(cleanPath(p))
			w.str("make " + p + " read-only")
		}
		for _, p := range s.Linux.MaskedPaths {
			w.u32(opMask)
			w.str(cleanPath(p))
			w.str("mask " + p)
		}
	}
	for _, m := range s.Mounts {
		if c, ok := lateReadonly(m); ok {
			w.mount(unix.MS_BIND|unix.MS_REMOUNT|c.flags&bindRemountFlags, "", cleanPath(m.Destination), "", "", atRoot,
				fmt.Sprintf("remount %s on %s read-only", describe(m), m.Destination))
		}
	}
	if s.Root.Readonly {
		w.mount(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "", "/", "", "", atHost, "remount / read-only")
	}
}
