// Package archive turns image layer tarballs into directories that
// overlayfs can stack, and turns such directories back into layer
// tarballs.
//
// A layer is untrusted input: its entry names, symlinks and hardlinks may
// try to reach outside the directory it is unpacked into, and its size may
// be a decompression bomb. Apply therefore resolves every entry's parent
// inside the layer directory with openat2(2) and RESOLVE_IN_ROOT, never
// follows an entry's own name, and stops when the layer outgrows its
// Limits. It needs openat2(2) (Linux 5.6) and a mounted /proc: xattrs are
// set through /proc/self/fd, since lsetxattr(2) has no *at form.
//
// Layers speak OCI whiteouts (".wh.NAME" files, ".wh..wh..opq" markers);
// overlayfs speaks character devices 0/0 and the trusted.overlay.opaque
// xattr. Apply translates the first into the second, so that a directory
// it filled can be used as an overlay lower layer as it is, and Tar
// translates back, so that a container's upper directory can be committed
// as a new layer.
package archive
