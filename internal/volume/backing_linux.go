package volume

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"berth/internal/metadata"
)

// checkBacking checks the local driver's options: type and device (a
// tmpfs needs no device), and for a bind (o=bind) a host directory.
func checkBacking(opts map[string]string) error {
	if len(opts) == 0 {
		return nil
	}
	typ, dev := opts["type"], opts["device"]
	if typ == "" {
		return invalidf("missing required option: \"type\"")
	}
	if dev == "" && typ != "tmpfs" {
		return invalidf("missing required option: \"device\"")
	}
	if isBind(opts) {
		if !filepath.IsAbs(dev) {
			return invalidf("invalid device %q: a bind needs an absolute host path", dev)
		}
		if fi, err := os.Stat(dev); err != nil || !fi.IsDir() {
			return invalidf("invalid device %q: no such directory", dev)
		}
	}
	return nil
}

func isBind(opts map[string]string) bool {
	for _, o := range strings.Split(opts["o"], ",") {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// Prepare makes volume v ready to be mounted into a container: a volume
// created with -o type= gets its filesystem mounted on its data
// directory the first time a container needs it, as Docker's local
// driver does; it stays mounted until the volume is removed or the host
// restarts. The caller holds the volume's lock.
func (s *Store) Prepare(v *metadata.Volume) error {
	if len(v.Options) == 0 {
		return os.MkdirAll(s.Path(v.Name), 0o755)
	}
	dir := s.Path(v.Name)
	if isMountPoint(dir) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	typ, dev, data := v.Options["type"], v.Options["device"], v.Options["o"]
	var err error
	if isBind(v.Options) {
		err = unix.Mount(dev, dir, "", unix.MS_BIND|unix.MS_REC, "")
	} else {
		err = unix.Mount(firstOf(dev, typ), dir, typ, 0, data)
	}
	if err != nil {
		return fmt.Errorf("volume %s: mount %s (type %s, o=%s): %w", v.Name, firstOf(dev, typ), typ, data, err)
	}
	return nil
}

// unmountBacking undoes Prepare's mount, if there is one.
func unmountBacking(dir string) {
	for isMountPoint(dir) {
		if unix.Unmount(dir, unix.MNT_DETACH) != nil {
			return
		}
	}
}

// isMountPoint says whether dir is a mount point in this mount
// namespace. A bind of a directory on the same filesystem has the same
// device as its parent, so mountinfo is read rather than stat.
func isMountPoint(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescape(fields[4]) == dir {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Lock holds volume name's lock, which orders the starts that fill,
// mount or chown it; the returned function releases it.
func (s *Store) Lock(name string) (func(), error) {
	fd, err := unix.Open(filepath.Join(s.Dir, name), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock volume %s: %w", name, err)
	}
	return func() { unix.Close(fd) }, nil
}
