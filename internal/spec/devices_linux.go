// This file reads the host's device nodes into spec devices, for
// --device and --privileged.

package spec

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DevicesAt returns the device nodes at hostPath for --device: the node
// itself at dest, or every node under a directory at the same place under
// dest (--device /dev/snd). Symlinks are followed, as Docker does, so that
// /dev/disk/by-id/... names the disk it points at. It is an error when
// hostPath holds no device.
func DevicesAt(hostPath, dest string) ([]specs.LinuxDevice, error) {
	resolved, err := filepath.EvalSymlinks(hostPath)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return nil, err
	}
	if d, ok := deviceOf(dest, fi); ok {
		return []specs.LinuxDevice{d}, nil
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a device node", hostPath)
	}
	var out []specs.LinuxDevice
	err = filepath.WalkDir(resolved, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.Type()&fs.ModeDevice == 0 {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(resolved, p)
		if d, ok := deviceOf(path.Join(dest, rel), fi); ok {
			out = append(out, d)
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("%s holds no device nodes", hostPath)
	}
	return out, err
}

// HostDevices returns every device node under the host's /dev, for
// --privileged, as Docker gives them: the node at the same path, with
// its mode and owner. It leaves out the directories the runtime mounts
// itself (/dev/pts, /dev/shm, /dev/mqueue) and the nodes it makes its own
// (/dev/console for the terminal, /dev/ptmx, a link into the container's
// devpts); taking the host's would reach the host's terminals.
func HostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	filepath.WalkDir("/dev", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone meanwhile, or unreadable: not a device to give
		}
		if e.IsDir() {
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				return fs.SkipDir
			}
			return nil
		}
		if p == "/dev/console" || p == "/dev/ptmx" || e.Type()&fs.ModeDevice == 0 {
			return nil
		}
		if fi, err := e.Info(); err == nil {
			if d, ok := deviceOf(p, fi); ok {
				out = append(out, d)
			}
		}
		return nil
	})
	return out
}

// deviceOf describes the host node fi as a spec device at dest; ok is
// false when fi is no device.
func deviceOf(dest string, fi fs.FileInfo) (d specs.LinuxDevice, ok bool) {
	st, isStat := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&fs.ModeDevice == 0 || !isStat {
		return d, false
	}
	typ := "b"
	if fi.Mode()&fs.ModeCharDevice != 0 {
		typ = "c"
	}
	mode := fi.Mode().Perm()
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Path: dest, Type: typ,
		Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, true
}
