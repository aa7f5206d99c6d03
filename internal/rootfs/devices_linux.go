package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func fileMode(m os.FileMode) *os.FileMode { return &m }

// defaultDevices are the device nodes every container gets, as with runc
// and Docker. Entries of spec.Linux.Devices with the same path replace
// them.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: fileMode(0o666)},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: fileMode(0o666)},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: fileMode(0o666)},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: fileMode(0o666)},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: fileMode(0o666)},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: fileMode(0o666)},
}

// validateDevice checks a spec device: an absolute, clean path under /dev,
// a known type, and numbers only where they mean something.
func validateDevice(d specs.LinuxDevice) error {
	if !path.IsAbs(d.Path) || path.Clean(d.Path) != d.Path {
		return fmt.Errorf("device %q: path must be absolute and clean", d.Path)
	}
	if !strings.HasPrefix(d.Path, "/dev/") {
		return fmt.Errorf("device %s: path must be under /dev", d.Path)
	}
	switch d.Type {
	case "c", "u", "b":
		if d.Major < 0 || d.Minor < 0 || d.Major > 0xfff || d.Minor > 0xfffff {
			return fmt.Errorf("device %s: number %d:%d out of range", d.Path, d.Major, d.Minor)
		}
	case "p":
		// A fifo has no device number; the spec lets configs give one,
		// and it is ignored.
	default:
		return fmt.Errorf("device %s: unknown type %q (want c, b, u or p)", d.Path, d.Type)
	}
	if d.FileMode != nil && *d.FileMode&^os.ModePerm != 0 {
		return fmt.Errorf("device %s: file mode %v has more than permission bits", d.Path, *d.FileMode)
	}
	return nil
}

// deviceType is the S_IF* file type for a spec device type.
func deviceType(t string) uint32 {
	switch t {
	case "b":
		return unix.S_IFBLK
	case "p":
		return unix.S_IFIFO
	default:
		return unix.S_IFCHR
	}
}

// devicePerm is a device's permission bits: its fileMode, or 0666.
func devicePerm(d specs.LinuxDevice) uint32 {
	if d.FileMode == nil {
		return 0o666
	}
	return uint32(*d.FileMode & os.ModePerm)
}

// specDevices is the default devices followed by the spec's, a spec entry
// replacing a default one with the same path.
func specDevices(s *specs.Spec) []specs.LinuxDevice {
	var own []specs.LinuxDevice
	if s.Linux != nil {
		own = s.Linux.Devices
	}
	var out []specs.LinuxDevice
	for _, d := range defaultDevices {
		replaced := false
		for _, o := range own {
			if path.Clean(o.Path) == d.Path {
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, d)
		}
	}
	return append(out, own...)
}

// hostID maps a container uid or gid to the id the kernel needs to see
// from this process: unchanged inside the user namespace, through the
// spec's mappings outside it.
func hostID(id uint32, maps []specs.LinuxIDMapping, inUserNS bool) (int, error) {
	if inUserNS || len(maps) == 0 {
		return int(id), nil
	}
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return int(m.HostID + id - m.ContainerID), nil
		}
	}
	return -1, fmt.Errorf("id %d is not mapped", id)
}

// createDevices makes the default and spec devices in the root.
func (p *preparer) createDevices() error {
	for _, d := range specDevices(p.spec) {
		if err := validateDevice(d); err != nil {
			return err
		}
		if err := p.createDevice(d); err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	return nil
}

func (p *preparer) createDevice(d specs.LinuxDevice) error {
	typ := deviceType(d.Type)
	if p.opts.InUserNS && typ != unix.S_IFIFO {
		return p.bindDevice(d)
	}
	var uidMaps, gidMaps []specs.LinuxIDMapping
	if p.spec.Linux != nil {
		uidMaps, gidMaps = p.spec.Linux.UIDMappings, p.spec.Linux.GIDMappings
	}
	uid, err := hostID(derefID(d.UID), uidMaps, p.opts.InUserNS)
	if err != nil {
		return fmt.Errorf("owner: %w", err)
	}
	gid, err := hostID(derefID(d.GID), gidMaps, p.opts.InUserNS)
	if err != nil {
		return fmt.Errorf("group: %w", err)
	}
	dir, name := path.Split(d.Path)
	parent, err := p.root.mkdirAll(dir, 0o755)
	if err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	defer unix.Close(parent)
	perm := devicePerm(d)
	dev := 0
	if typ != unix.S_IFIFO {
		dev = int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	}
	err = unix.Mknodat(parent, name, typ|perm, dev)
	switch {
	case errors.Is(err, unix.EEXIST):
		// Already there, as in an image without a tmpfs on /dev; keep
		// it, as runc does.
		return nil
	case errors.Is(err, unix.EPERM) && typ != unix.S_IFIFO:
		return p.bindDevice(d)
	case err != nil:
		return fmt.Errorf("mknod: %w", err)
	}
	fd, err := unix.Openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	// mknod(2) is subject to the umask; set the mode the spec asked for.
	if err := unix.Chmod(fdPath(fd), perm); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

func derefID(id *uint32) uint32 {
	if id == nil {
		return 0
	}
	return *id
}

// bindDevice bind-mounts the host's node at the device's path, for when
// mknod(2) is not allowed.
func (p *preparer) bindDevice(d specs.LinuxDevice) error {
	fd, err := p.root.createFile(d.Path, 0)
	if err != nil {
		return fmt.Errorf("create mount point: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Mount(d.Path, fdPath(fd), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount host node: %w", err)
	}
	return nil
}

// devSymlinks are the links in /dev that programs expect, each a target
// and a name: fd, stdin, stdout, stderr, and core when /proc is mounted.
func devSymlinks(s *specs.Spec) [][2]string {
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	if hasProc(s) {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	return links
}

// createDevSymlinks makes the /dev symlinks programs expect, and
// /dev/ptmx pointing at the container's own devpts.
func (p *preparer) createDevSymlinks() error {
	links := devSymlinks(p.spec)
	dev, err := p.root.mkdirAll("/dev", 0o755)
	if err != nil {
		return fmt.Errorf("create /dev: %w", err)
	}
	defer unix.Close(dev)
	for _, l := range links {
		if err := unix.Symlinkat(l[0], dev, l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s to %s: %w", l[1], l[0], err)
		}
	}
	if err := unix.Unlinkat(dev, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove /dev/ptmx: %w", err)
	}
	if err := unix.Symlinkat("pts/ptmx", dev, "ptmx"); err != nil {
		return fmt.Errorf("symlink /dev/ptmx to pts/ptmx: %w", err)
	}
	return nil
}
