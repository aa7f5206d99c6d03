package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// initInContainer is where --init's binary appears in the container, as
// Docker's docker-init appears at /sbin/docker-init.
const initInContainer = "/sbin/berth-init"

// initName is the init's file name beside berth and in PATH.
const initName = "berth-init"

// initBinary finds the static init that --init runs as the container's
// PID 1 (cmd/berth-init): e.InitPath when set, else berth-init beside
// the running berth, else in PATH. berth's own binary cannot be that
// init: it is linked against the host's libc and libseccomp, which an
// image need not have.
func (e *Engine) initBinary() (string, error) {
	if e.InitPath != "" {
		if _, err := os.Stat(e.InitPath); err != nil {
			return "", err
		}
		return e.InitPath, nil
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			p := filepath.Join(filepath.Dir(exe), initName)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(initName); err == nil {
		return filepath.Abs(p)
	}
	return "", errors.New(initName + " is neither beside berth nor in PATH (make build puts it in bin/)")
}

// initMount copies the init into the container's directory and returns
// the read-only bind of the copy at initInContainer. The copy is the
// container's own: a container that could remount the bind writable
// (one with CAP_SYS_ADMIN) would change only its own init, never a
// binary of the host's or of another container (the CVE-2019-5736
// class). It is made afresh at each start, so that an upgraded berth's
// init is used and nothing a container did to its copy lasts.
func (e *Engine) initMount(dir string) (specs.Mount, error) {
	src, err := e.initBinary()
	if err != nil {
		return specs.Mount{}, fmt.Errorf("--init: %w", err)
	}
	dst := filepath.Join(dir, "init")
	if err := copyFile(src, dst, 0o555); err != nil {
		return specs.Mount{}, fmt.Errorf("--init: %w", err)
	}
	return specs.Mount{Destination: initInContainer, Type: "bind", Source: dst,
		Options: []string{"bind", "ro", "nosuid", "nodev"}}, nil
}

// copyFile copies the regular file src to dst through a temporary file
// renamed into place, so that dst is whole or absent.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	tmp := dst + ".tmp"
	os.Remove(tmp)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
