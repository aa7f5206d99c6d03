package network

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NewNetNS makes a network namespace that outlives its processes: a
// bind mount of it at path, which containers join by that path. It
// returns a netlink handle whose sockets live in the new namespace, with
// loopback already up there; the caller closes it.
//
// The namespace is made on a thread of its own, locked and never
// unlocked, so that the Go runtime ends that thread instead of running
// other goroutines in the new namespace (see
// https://github.com/containernetworking/plugins/blob/main/pkg/ns/README.md).
func NewNetNS(path string) (*netlink.Handle, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return nil, fmt.Errorf("network namespace file: %w", err)
	}
	f.Close()
	type result struct {
		h   *netlink.Handle
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("unshare network namespace: %w", err)}
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			done <- result{err: fmt.Errorf("bind network namespace to %s: %w", path, err)}
			return
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err == nil {
			err = h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1}}) // lo is always 1
		}
		if err != nil {
			if h != nil {
				h.Close()
			}
			done <- result{err: fmt.Errorf("network namespace: loopback: %w", err)}
			return
		}
		done <- result{h: h}
	}()
	r := <-done
	if r.err != nil {
		RemoveNetNS(path)
		return nil, r.err
	}
	return r.h, nil
}

// RemoveNetNS unmounts and removes the namespace file at path; the
// namespace goes when nothing else holds it. A missing file is no error.
func RemoveNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// IsNetNS says whether path is a mounted network namespace.
func IsNetNS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

func nsHandle(f *os.File) netns.NsHandle { return netns.NsHandle(f.Fd()) }
