package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountInfo is one line of /proc/thread-self/mountinfo.
type mountInfo struct {
	root       string   // path of the mount's root within its filesystem
	mountPoint string   // where it is mounted, in this process's view
	opts       []string // per-mount options: ro, nosuid...
	optional   []string // propagation tags: shared:N, master:N...
	fstype     string
	source     string
	superOpts  []string
}

func (mi mountInfo) shared() bool {
	for _, o := range mi.optional {
		if strings.HasPrefix(o, "shared:") {
			return true
		}
	}
	return false
}

// readMountInfo reads the mount table of this thread's mount namespace
// (which, for a thread that unshared its own, is not the process's).
func readMountInfo() ([]mountInfo, error) {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return parseMountInfo(string(data))
}

// parseMountInfo parses the format described in proc(5).
func parseMountInfo(data string) ([]mountInfo, error) {
	var infos []mountInfo
	for line := range strings.SplitSeq(data, "\n") {
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 {
			return nil, fmt.Errorf("parse mount table: malformed line %q", line)
		}
		infos = append(infos, mountInfo{
			root:       unescapeOctal(fields[3]),
			mountPoint: unescapeOctal(fields[4]),
			opts:       strings.Split(fields[5], ","),
			optional:   fields[6:sep],
			fstype:     fields[sep+1],
			source:     unescapeOctal(fields[sep+2]),
			superOpts:  strings.Split(fields[sep+3], ","),
		})
	}
	return infos, nil
}

// unescapeOctal undoes the \NNN escapes mountinfo uses for spaces and the
// like.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupHierarchy is a cgroup v1 hierarchy to show the container.
type cgroupHierarchy struct {
	key   string    // as in /proc/self/cgroup: "cpu,cpuacct", "name=systemd"
	mount mountInfo // where the host mounts it
}

// notControllers are cgroup v1 superblock options that are not
// controllers.
var notControllers = map[string]bool{
	"rw": true, "ro": true, "xattr": true, "clone_children": true, "noprefix": true,
	"cpuset_v2_mode": true, "favordynmods": true, "nofavordynmods": true, "none": true,
}

// controllersOf returns the controllers (and name=) of a v1 mount.
func controllersOf(mi mountInfo) []string {
	var out []string
	for _, o := range mi.superOpts {
		if notControllers[o] || (strings.Contains(o, "=") && !strings.HasPrefix(o, "name=")) {
			continue
		}
		out = append(out, o)
	}
	return out
}

// v1Hierarchies pairs the hierarchies the container should see with the
// host mounts that show them. With cgroup paths, those name the
// hierarchies; without, every v1 hierarchy the host mounts is used. In a
// cgroup namespace, mountinfo shows host mount roots relative to the
// namespace ("/../.."), so inNS skips matching paths against them: the
// hierarchy is mounted fresh, not bound from a host directory.
func v1Hierarchies(infos []mountInfo, paths map[string]string, inNS bool) []cgroupHierarchy {
	var keys []string
	for k := range paths {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		for _, mi := range infos {
			if mi.fstype == "cgroup" {
				if k := strings.Join(controllersOf(mi), ","); k != "" && !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	}
	sort.Strings(keys)
	var out []cgroupHierarchy
	for _, k := range keys {
		want := strings.Split(k, ",")
		var best *mountInfo
		for i, mi := range infos {
			if mi.fstype != "cgroup" || !containsAll(controllersOf(mi), want) {
				continue
			}
			if p, ok := paths[k]; ok && !inNS && !underRoot(p, mi.root) {
				continue
			}
			if best == nil || (!strings.HasPrefix(best.mountPoint, "/sys/fs/cgroup/") && strings.HasPrefix(mi.mountPoint, "/sys/fs/cgroup/")) {
				best = &infos[i]
			}
		}
		if best != nil {
			out = append(out, cgroupHierarchy{key: k, mount: *best})
		}
	}
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func underRoot(p, root string) bool {
	return root == "/" || p == root || strings.HasPrefix(p, root+"/")
}

// hostCgroupDir is the host directory of cgroup path p in the hierarchy
// mounted by mi.
func hostCgroupDir(mi mountInfo, p string) (string, error) {
	p = cleanPath(p)
	if !underRoot(p, mi.root) {
		return "", fmt.Errorf("cgroup %s is not under %s, the root of the host mount %s", p, mi.root, mi.mountPoint)
	}
	rel := strings.TrimPrefix(p, mi.root)
	if mi.root == "/" {
		rel = p
	}
	return path.Join(mi.mountPoint, rel), nil
}

// mountCgroup shows the container its cgroups at dest.
func (p *preparer) mountCgroup(m specs.Mount, c mountConfig, dest string) error {
	infos, err := readMountInfo()
	if err != nil {
		return err
	}
	if p.opts.Unified {
		return p.mountCgroup2(m, c, dest, infos)
	}
	return p.mountCgroup1(m, c, dest, infos)
}

// mountCgroup2 mounts cgroup2 in a cgroup namespace, and otherwise binds
// the container's own cgroup directory, as runc does.
func (p *preparer) mountCgroup2(m specs.Mount, c mountConfig, dest string, infos []mountInfo) error {
	fd, err := p.target(m, dest, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if p.opts.CgroupNS {
		err := unix.Mount("cgroup2", fdPath(fd), "cgroup2", c.flags, c.data)
		// EPERM or EBUSY: a user namespace that may not mount it; bind
		// the container's directory instead.
		if err == nil || (!errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EBUSY)) {
			return err
		}
	}
	src, err := cgroup2Dir(infos, p.opts.CgroupPaths)
	if err != nil {
		return err
	}
	return p.bindAt(src, fd, dest, c.flags|unix.MS_BIND|unix.MS_REC, c.cleared)
}

// cgroup2Dir is the host directory of the container's cgroup2 cgroup,
// the one paths names, in the host's cgroup2 mount that shows it.
func cgroup2Dir(infos []mountInfo, paths map[string]string) (string, error) {
	cg, ok := paths[""]
	if !ok {
		return "", errors.New("cgroup v2 path of the container is not known")
	}
	var host *mountInfo
	for i, mi := range infos {
		if mi.fstype == "cgroup2" && underRoot(cleanPath(cg), mi.root) {
			if host == nil || mi.mountPoint == "/sys/fs/cgroup" {
				host = &infos[i]
			}
		}
	}
	if host == nil {
		return "", errors.New("no cgroup2 mount on the host")
	}
	return hostCgroupDir(*host, cg)
}

// cgroupTmpfsFlags are the flags of the tmpfs that holds the v1
// hierarchies: the cgroup mount's own, but for "ro", which comes last.
func cgroupTmpfsFlags(c mountConfig) uintptr {
	return c.flags & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | atimeFlags)
}

// controllerLinks names the symlinks that point at a hierarchy of
// several controllers, mounted as name: one per controller, as cpu ->
// cpu,cpuacct.
func controllerLinks(key, name string) []string {
	ctrls := strings.Split(key, ",")
	if len(ctrls) < 2 {
		return nil
	}
	var links []string
	for _, ctl := range ctrls {
		if ctl != name && !strings.Contains(ctl, "=") {
			links = append(links, ctl)
		}
	}
	return links
}

// mountCgroup1 makes the usual cgroup v1 layout: a tmpfs at dest with one
// directory per hierarchy, named as on the host, holding the hierarchy
// (in a cgroup namespace) or the container's cgroup in it (without one).
// Hierarchies with several controllers get a symlink per controller, as
// cpu -> cpu,cpuacct.
func (p *preparer) mountCgroup1(m specs.Mount, c mountConfig, dest string, infos []mountInfo) error {
	fd, err := p.target(m, dest, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	tmpfsFlags := cgroupTmpfsFlags(c)
	if err := unix.Mount("tmpfs", fdPath(fd), "tmpfs", tmpfsFlags, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	top, err := p.root.openPath(dest)
	if err != nil {
		return fmt.Errorf("reopen after mount: %w", err)
	}
	defer unix.Close(top)
	for _, h := range v1Hierarchies(infos, p.opts.CgroupPaths, p.opts.CgroupNS) {
		if err := p.mountHierarchy(h, c, dest, top); err != nil {
			return fmt.Errorf("cgroup %s: %w", h.key, err)
		}
	}
	if c.flags&unix.MS_RDONLY == 0 {
		return nil
	}
	if err := remountBind(fdPath(top), tmpfsFlags|unix.MS_RDONLY, 0); err != nil {
		return fmt.Errorf("remount read-only: %w", err)
	}
	return nil
}

func (p *preparer) mountHierarchy(h cgroupHierarchy, c mountConfig, dest string, top int) error {
	name := path.Base(h.mount.mountPoint)
	sub := path.Join(dest, name)
	fd, err := p.root.mkdirAll(sub, 0o755)
	if err != nil {
		return fmt.Errorf("create %s: %w", sub, err)
	}
	defer unix.Close(fd)
	if p.opts.CgroupNS {
		err = unix.Mount("cgroup", fdPath(fd), "cgroup", c.flags&^unix.MS_BIND, h.key)
	} else {
		cg, ok := p.opts.CgroupPaths[h.key]
		if !ok {
			return errors.New("cgroup path of the container is not known")
		}
		var src string
		if src, err = hostCgroupDir(h.mount, cg); err == nil {
			err = p.bindAt(src, fd, sub, c.flags|unix.MS_BIND|unix.MS_REC, c.cleared)
		}
	}
	if err != nil {
		return err
	}
	for _, ctl := range controllerLinks(h.key, name) {
		if err := unix.Symlinkat(name, top, ctl); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink %s to %s: %w", path.Join(dest, ctl), name, err)
		}
	}
	return nil
}
