package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// Mode says which cgroup layout a host uses.
type Mode int

const (
	// Legacy is cgroup v1: one hierarchy per controller (or group of
	// controllers), possibly beside a controller-less cgroup2 hierarchy at
	// <root>/unified (the "hybrid" layout).
	Legacy Mode = iota + 1
	// Unified is cgroup v2: a single hierarchy mounted at the cgroup root.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "v1"
	case Unified:
		return "v2"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// DefaultRoot is where the cgroup hierarchies are mounted on mainstream
// distributions.
const DefaultRoot = "/sys/fs/cgroup"

// ErrSystemdUnsupported is returned for a cgroupsPath in the systemd
// driver's "slice:prefix:name" form: berth only drives cgroupfs directly.
var ErrSystemdUnsupported = errors.New("the systemd cgroup driver is not supported")

// Detect reports the cgroup layout of this host: Unified when DefaultRoot is
// a cgroup2 mount, Legacy otherwise.
func Detect() Mode {
	return detectAt(DefaultRoot)
}

func detectAt(root string) Mode {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Unified
	}
	return Legacy
}

// hierarchy is one mounted cgroup hierarchy.
type hierarchy struct {
	// controllers are the v1 controllers bound to the hierarchy, as
	// /proc/<pid>/cgroup names them ("cpu", "cpuacct", "name=systemd").
	// It is empty for a cgroup2 hierarchy.
	controllers []string
	// mount is the directory the hierarchy is mounted at.
	mount string
	// root is the cgroup that is mounted at mount, "/" unless only a
	// subtree is visible (for example inside another container).
	root string
}

func (h hierarchy) unified() bool { return len(h.controllers) == 0 }

// has reports whether ctrl is bound to the hierarchy.
func (h hierarchy) has(ctrl string) bool {
	for _, c := range h.controllers {
		if c == ctrl {
			return true
		}
	}
	return false
}

// cgroupDir is a hierarchy together with the container's directory in it.
type cgroupDir struct {
	hierarchy
	dir string
}

// Manager creates and controls the cgroup of one container in every
// mounted hierarchy. Its methods are not safe for concurrent use.
type Manager struct {
	mode Mode
	dirs []cgroupDir
	// attachDevices installs a compiled cgroup v2 device filter; tests
	// replace it to inspect the program without loading it.
	attachDevices func(dir string, insts asm.Instructions) error
	// write writes one value to a control file; tests replace it to
	// record the order of writes.
	write func(dir, name, value string) error
}

// New returns a manager for the OCI linux.cgroupsPath of container id on
// this host. An absolute cgroupsPath ("/docker/abc") is taken relative to
// the root of each hierarchy, a relative one ("foo/bar") relative to the
// cgroup of the calling process, and an empty one means "/berth/<id>". The
// systemd form "slice:prefix:name" fails with ErrSystemdUnsupported.
func New(cgroupsPath, id string) (*Manager, error) {
	return NewRelativeTo(cgroupsPath, id, nil)
}

// OwnCgroups returns the cgroups of the calling process, hierarchy by
// hierarchy, as /proc/self/cgroup names them.
func OwnCgroups() (map[string]string, error) { return ownCgroups() }

// NewRelativeTo is New with a relative cgroupsPath taken relative to the
// cgroups own (from OwnCgroups, perhaps of another process and time)
// rather than those of the calling process. A nil own means the caller's.
func NewRelativeTo(cgroupsPath, id string, own map[string]string) (*Manager, error) {
	mode, hs, err := hostHierarchies()
	if err != nil {
		return nil, err
	}
	if own == nil && cgroupsPath != "" && !strings.HasPrefix(cgroupsPath, "/") {
		if own, err = ownCgroups(); err != nil {
			return nil, err
		}
	}
	return newManager(mode, hs, cgroupsPath, id, own)
}

// NewAt is New with an explicit mount root (like DefaultRoot) and mode. In
// Legacy mode every directory under root is taken as a v1 hierarchy named
// after its controllers ("cpu,cpuacct", "systemd" for name=systemd), and
// "unified" as the hybrid cgroup2 hierarchy. It lets tests run against fake
// trees of plain directories.
func NewAt(root string, mode Mode, cgroupsPath, id string) (*Manager, error) {
	var hs []hierarchy
	switch mode {
	case Unified:
		hs = []hierarchy{{mount: root, root: "/"}}
	case Legacy:
		var err error
		if hs, err = scanLegacy(root); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("new cgroup manager: unknown mode %d", int(mode))
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	return newManager(mode, hs, cgroupsPath, id, own)
}

// hostCache holds the host's cgroup mode and hierarchies, read once per
// process: with many containers mountinfo grows long, and a command
// that looks at every container would otherwise read it once for each.
var hostCache struct {
	sync.Mutex
	mode Mode
	hs   []hierarchy
}

func hostHierarchies() (Mode, []hierarchy, error) {
	hostCache.Lock()
	defer hostCache.Unlock()
	if hostCache.hs != nil {
		return hostCache.mode, append([]hierarchy(nil), hostCache.hs...), nil
	}
	mode := Detect()
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mode, nil, fmt.Errorf("find cgroup mounts: %w", err)
	}
	mounts, err := parseMountInfo(mi)
	mi.Close()
	if err != nil {
		return mode, nil, fmt.Errorf("find cgroup mounts: %w", err)
	}
	hs := hierarchiesFromMounts(mounts, mode, DefaultRoot)
	if len(hs) == 0 {
		return mode, nil, fmt.Errorf("find cgroup mounts: no cgroup %s hierarchy is mounted", mode)
	}
	hostCache.mode, hostCache.hs = mode, hs
	return mode, append([]hierarchy(nil), hs...), nil
}

func ownCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	defer f.Close()
	own, err := ParseProcCgroup(f)
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	return own, nil
}

// scanLegacy lists the hierarchies of a v1 (or hybrid) tree by directory
// name, folding symlinks such as cpu -> cpu,cpuacct into one hierarchy.
func scanLegacy(root string) ([]hierarchy, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("list cgroup hierarchies: %w", err)
	}
	seen := map[string]bool{}
	var hs []hierarchy
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() || seen[real] {
			continue
		}
		seen[real] = true
		h := hierarchy{mount: p, root: "/"}
		switch name := filepath.Base(real); name {
		case "unified":
		case "systemd":
			h.controllers = []string{"name=systemd"}
		default:
			h.controllers = strings.Split(name, ",")
		}
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("list cgroup hierarchies: none under %s", root)
	}
	return hs, nil
}

// cleanCgroupsPath validates an OCI cgroupsPath and reports whether it is
// relative to the caller's own cgroup.
func cleanCgroupsPath(p, id string) (clean string, relative bool, err error) {
	if p == "" {
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
			return "", false, fmt.Errorf("default cgroups path: invalid container id %q", id)
		}
		return "/berth/" + id, false, nil
	}
	if strings.ContainsRune(p, 0) {
		return "", false, fmt.Errorf("cgroups path %q: contains a NUL byte", p)
	}
	if !strings.HasPrefix(p, "/") && strings.Count(p, ":") == 2 {
		return "", false, fmt.Errorf("cgroups path %q: %w", p, ErrSystemdUnsupported)
	}
	if strings.HasPrefix(p, "/") {
		return path.Clean(p), false, nil
	}
	return path.Clean(p), true, nil
}

// resolveDir returns the directory of cgroup p in hierarchy h. own is the
// caller's cgroup in h, used when p is relative. The result never leaves
// the hierarchy's mount point.
func resolveDir(h hierarchy, p string, relative bool, own string) string {
	inner := p
	if relative {
		base := own
		if h.root != "/" {
			if rest, ok := strings.CutPrefix(own, h.root); ok && (rest == "" || rest[0] == '/') {
				base = rest
			}
		}
		inner = base + "/" + p
	}
	return filepath.Join(h.mount, path.Clean("/"+inner))
}

func newManager(mode Mode, hs []hierarchy, cgroupsPath, id string, own map[string]string) (*Manager, error) {
	p, relative, err := cleanCgroupsPath(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	m := &Manager{mode: mode, attachDevices: attachDeviceFilter, write: writeFile}
	for _, h := range hs {
		var ownPath string
		if relative {
			key := ""
			if !h.unified() {
				key = h.controllers[0]
			}
			var ok bool
			if ownPath, ok = own[key]; !ok {
				if h.unified() && mode == Legacy {
					continue // hybrid cgroup2 not in use by this process
				}
				return nil, fmt.Errorf("cgroups path %q: own cgroup for %q is unknown", cgroupsPath, key)
			}
		}
		m.dirs = append(m.dirs, cgroupDir{hierarchy: h, dir: resolveDir(h, p, relative, ownPath)})
	}
	return m, nil
}

// Mode returns the cgroup layout the manager drives.
func (m *Manager) Mode() Mode { return m.mode }

// Paths maps each controller to the container's cgroup directory in its
// hierarchy. The key "" names the cgroup2 directory (the only one in
// Unified mode; the hybrid one in Legacy mode).
func (m *Manager) Paths() map[string]string {
	out := map[string]string{}
	for _, d := range m.dirs {
		if d.unified() {
			out[""] = d.dir
			continue
		}
		for _, c := range d.controllers {
			out[c] = d.dir
		}
	}
	return out
}

// Exists reports whether the container's cgroup directory exists in any
// hierarchy.
func (m *Manager) Exists() bool {
	for _, d := range m.dirs {
		if fi, err := os.Stat(d.dir); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// controllerDir returns the container's directory for a v1 controller.
func (m *Manager) controllerDir(ctrl string) (string, bool) {
	for _, d := range m.dirs {
		if d.has(ctrl) {
			return d.dir, true
		}
	}
	return "", false
}

// needDir is controllerDir with an error naming the missing controller.
func (m *Manager) needDir(ctrl string) (string, error) {
	if dir, ok := m.controllerDir(ctrl); ok {
		return dir, nil
	}
	return "", fmt.Errorf("cgroup v1 controller %q is not mounted", ctrl)
}

// unifiedDir returns the container's cgroup2 directory, if any.
func (m *Manager) unifiedDir() (string, bool) {
	for _, d := range m.dirs {
		if d.unified() {
			return d.dir, true
		}
	}
	return "", false
}

// ProcPaths is what /proc/self/cgroup shows, parsed as ParseProcCgroup
// does, for a process in the container's cgroup in every hierarchy the
// manager drives.
func (m *Manager) ProcPaths() map[string]string {
	out := map[string]string{}
	for _, d := range m.dirs {
		rel, err := filepath.Rel(d.mount, d.dir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		p := path.Join(d.root, rel)
		if d.unified() {
			out[""] = p
			continue
		}
		for _, c := range d.controllers {
			out[c] = p
		}
	}
	return out
}

// Mount is one mounted cgroup hierarchy of the host.
type Mount struct {
	MountPoint string
	// Root is the cgroup mounted there, "/" unless only a subtree is
	// visible.
	Root string
	// Controllers are a v1 hierarchy's, as /proc/self/cgroup names them;
	// none for cgroup2.
	Controllers []string
}

// Mounts lists the host's cgroup hierarchies, as this process found them
// (once) in its mount table.
func Mounts() ([]Mount, error) {
	_, hs, err := hostHierarchies()
	if err != nil {
		return nil, err
	}
	out := make([]Mount, len(hs))
	for i, h := range hs {
		out[i] = Mount{MountPoint: h.mount, Root: h.root, Controllers: h.controllers}
	}
	return out, nil
}
