package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"berth/internal/metadata"
)

// mounted reports whether dir is a mount point: it is on another device
// than its parent.
func mounted(dir string) bool {
	var a, b unix.Stat_t
	if unix.Stat(dir, &a) != nil || unix.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// mountRootfs stacks the image's layers under the container's writable
// layer at dir/rootfs.
func (e *Engine) mountRootfs(c *metadata.Container) (string, error) {
	dir := e.dir(c.ID)
	rootfs := filepath.Join(dir, "rootfs")
	if mounted(rootfs) {
		return rootfs, nil
	}
	lower, err := e.Images.Snaps.LowerDirs(c.Chain)
	if err != nil {
		return "", fmt.Errorf("container %s: its image's layers: %w", shortID(c.ID), err)
	}
	if len(lower) == 0 {
		// overlayfs needs a lower layer; an image with none gets an
		// empty one.
		empty := filepath.Join(dir, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return "", err
		}
		lower = []string{empty}
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + filepath.Join(dir, "upper") +
		",workdir=" + filepath.Join(dir, "work") + ",index=off"
	if len(opts) >= unix.Getpagesize() {
		return "", fmt.Errorf("container %s: %d layers are more than one overlay mount takes", shortID(c.ID), len(lower))
	}
	if cfg, err := configOf(c); err == nil && cfg.AutoRemove {
		// A --rm container's writes die with it: "volatile" spares them
		// the sync to disk that unmounting an overlay otherwise forces,
		// tens to hundreds of milliseconds on a busy disk.
		if unix.Mount("overlay", rootfs, "overlay", 0, opts+",volatile") == nil {
			return rootfs, nil
		}
	}
	if err := unix.Mount("overlay", rootfs, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount the container's root filesystem: %w", err)
	}
	return rootfs, nil
}

// unmountRootfs undoes mountRootfs; a rootfs that is not mounted is fine.
func (e *Engine) unmountRootfs(id string) error {
	rootfs := filepath.Join(e.dir(id), "rootfs")
	if !mounted(rootfs) {
		return nil
	}
	if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount the container's root filesystem: %w", err)
	}
	return nil
}
