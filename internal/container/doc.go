// Package container is berth's OCI runtime: it turns a bundle (config.json
// and a root filesystem) into an isolated running process, and manages it
// through the lifecycle the runtime spec defines: create, start, state,
// kill, delete, plus exec, pause, resume and update.
//
// It knows nothing about images, names or networks, so that Docker,
// containerd and berth's own engine can all drive it, as they drive runc.
//
// berth's init is berth itself, executed from a read-only copy
// (selfexe.go) in the container's new namespaces. The parent and the init
// follow the protocol drawn in sync.go. Joining existing namespaces needs a
// single-threaded process, which is what the C constructor in nsenter.c
// provides before the Go runtime starts.
package container
