// Package cgroup creates, limits, freezes, measures and removes the control
// groups that hold a container's processes, on both cgroup v1 (including the
// "hybrid" layout) and cgroup v2.
//
// It exists so that the OCI runtime in internal/container can turn the
// linux.resources and linux.cgroupsPath of a runtime spec into kernel state
// without knowing which cgroup version the host runs: the runtime asks a
// Manager to Apply a pid, Set resources (also for live updates), Freeze and
// Thaw, read Stats and finally Destroy the cgroup. The rootfs code uses
// ParseProcCgroup to learn the per-controller paths of a process when it
// mounts cgroupfs inside a container.
//
// Only the cgroupfs driver is implemented. The systemd driver form of
// cgroupsPath ("slice:prefix:name") is rejected with ErrSystemdUnsupported.
package cgroup
