// Package testfixture gives berth's tests what they would otherwise each
// build by hand: a root filesystem, an OCI bundle, a freshly built berth
// binary, and skips that say why a test did not run.
//
// The project has no internet and no image store to lean on in tests, so
// the root filesystem is made from Debian's busybox-static, one static
// binary that provides a shell and the usual tools. Tests that need root
// or a kernel feature skip with a reason instead of failing, so the unit
// tier runs anywhere, as any user, and the root tier says what it left out.
package testfixture

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/spec"
)

// BusyboxPath is where Debian's busybox-static package installs busybox.
const BusyboxPath = "/bin/busybox"

// HaveBusybox reports whether BusyboxPath is an executable file.
// It suits RequireFeature.
func HaveBusybox() error {
	fi, err := os.Stat(BusyboxPath)
	if err != nil {
		return fmt.Errorf("%s: %w: install it with 'apt-get install busybox-static'", BusyboxPath, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file: install it with 'apt-get install busybox-static'", BusyboxPath)
	}
	return nil
}

// Users and groups in the root filesystem that BusyboxRootfs makes.
const (
	AppUID    = 1000 // user and group "app"
	NobodyUID = 65534
)

const passwd = `root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const group = `root:x:0:
app:x:1000:
nogroup:x:65534:
`

// BusyboxRootfs makes a minimal root filesystem in dir, creating dir if
// needed: /bin/busybox copied from the host, a symlink in /bin for each
// applet that `busybox --list` names, the directories proc, sys, dev, tmp,
// etc, root and home/app, and /etc/passwd, /etc/group and /etc/hostname
// with the users root (0), app (1000) and nobody (65534).
//
// scripts/busybox-rootfs.sh makes the same tree from the shell.
func BusyboxRootfs(dir string) error {
	if err := HaveBusybox(); err != nil {
		return err
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return fmt.Errorf("listing busybox applets: %w", err)
	}
	applets := strings.Fields(string(out))
	if len(applets) == 0 {
		return fmt.Errorf("%s --list printed no applets", BusyboxPath)
	}

	for _, d := range []struct {
		name string
		mode os.FileMode
	}{
		{"bin", 0o755}, {"proc", 0o755}, {"sys", 0o755}, {"dev", 0o755},
		{"etc", 0o755}, {"home", 0o755}, {"home/app", 0o755},
		{"tmp", os.ModeSticky | 0o777}, {"root", 0o700},
	} {
		p := filepath.Join(dir, d.name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		// Chmod, since MkdirAll is subject to the umask and drops the
		// sticky bit.
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(dir, "home/app"), AppUID, AppUID); err != nil {
			return err
		}
	}

	if err := copyFile(BusyboxPath, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		link := filepath.Join(dir, "bin", a)
		if err := os.Symlink("busybox", link); err != nil {
			if !errors.Is(err, os.ErrExist) {
				return err
			}
			if target, rerr := os.Readlink(link); rerr != nil || target != "busybox" {
				return err
			}
		}
	}

	for name, content := range map[string]string{
		"etc/passwd":   passwd,
		"etc/group":    group,
		"etc/hostname": "berth\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// Bundle makes an OCI bundle in dir: a busybox root filesystem in
// dir/rootfs (see BusyboxRootfs) and dir/config.json. The config is
// spec.Default(false, 0, 0), the one `berth runtime spec` writes, with two
// changes that tests need:
//
//   - Process.Terminal is false, so the process uses the caller's stdio
//     and a test can read its output without a console socket;
//   - Root.Readonly is false, so a test can check what the container
//     wrote by reading dir/rootfs from the host. The root filesystem is
//     the test's own copy, so nothing outside the test can be harmed.
//     A test of the read-only root sets it back to true and calls
//     WriteSpec.
//
// Process.Args is args, or the default ("sh") when args is empty.
// Bundle returns the spec it wrote, for a test to change and write again.
func Bundle(dir string, args ...string) (*specs.Spec, error) {
	if err := BusyboxRootfs(filepath.Join(dir, "rootfs")); err != nil {
		return nil, err
	}
	s := spec.Default(false, 0, 0)
	s.Process.Terminal = false
	if len(args) > 0 {
		s.Process.Args = append([]string(nil), args...)
	}
	s.Root.Readonly = false
	if err := WriteSpec(dir, s); err != nil {
		return nil, err
	}
	return s, nil
}

// WriteSpec writes s to dir/config.json, replacing any config there.
func WriteSpec(dir string, s *specs.Spec) error {
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	tmp := filepath.Join(dir, ".config.json.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "config.json")); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
