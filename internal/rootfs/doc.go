// Package rootfs builds a container's view of the filesystem from an OCI
// runtime spec. It runs inside the container's init process, in the new
// mount namespace, and does the work that must happen there: mounting
// every spec mount, creating device nodes and the usual /dev symlinks,
// pivoting into the root filesystem, and then hiding and write-protecting
// the paths the spec names.
//
// The root filesystem comes from an image and is untrusted, so every mount
// target is resolved inside it with openat2(2) and RESOLVE_IN_ROOT and the
// mount is made on the resulting file descriptor (through /proc/self/fd).
// A symlink planted in an image can therefore never point a mount at the
// host.
//
// The package keeps runc's order of operations so that configs written for
// runc behave the same here: Prepare before pivot_root, Pivot, then
// Finalize.
package rootfs
