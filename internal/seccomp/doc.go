// Package seccomp turns the seccomp section of an OCI runtime spec into a
// kernel seccomp filter, using libseccomp.
//
// A container's seccomp filter is one of the privilege limits that stand
// between root in the container and the shared host kernel, so berth checks
// the section early and installs it exactly as written. The work is split in
// two so that mistakes surface before any container process exists:
//
//   - Validate runs at `create` time. It checks every name in the section
//     (actions, operators, architectures, flags), the errno values, and the
//     listenerPath rules for SCMP_ACT_NOTIFY, checks that this host's
//     libseccomp and kernel support what is asked for, and builds the
//     filter in memory without loading it.
//   - Load runs in the container's init, just before execve. It builds the
//     filter again and installs it on every thread of the calling process.
//
// Features describes what this build supports, for the runtime's features
// document.
//
// Semantics follow runc, so that profiles written for Docker, containerd or
// Kubernetes behave the same under berth:
//
//   - The native architecture is always in the filter; the spec's
//     architectures are added to it.
//   - A syscall name libseccomp does not know is skipped silently: profiles
//     list syscalls of newer kernels and of other architectures.
//   - A rule whose action equals the default action is skipped, since it
//     changes nothing and libseccomp refuses it.
//   - The conditions of one rule are ANDed, except that when two conditions
//     name the same argument index every condition becomes a rule of its
//     own, so that they are ORed.
//   - SCMP_ACT_ERRNO and SCMP_ACT_TRACE without errnoRet return EPERM.
//
// It is stricter than runc in a few places, where a spec is surely wrong:
// errnoRet on an action that takes no return value, an errno of 4095 or more,
// and a rule with no syscall names are errors. It does not turn on
// SECCOMP_FILTER_FLAG_SPEC_ALLOW unless asked to.
//
// The package needs cgo and libseccomp. Without them it still builds, but
// Validate and Load refuse any seccomp section rather than run a container
// without the filter it asked for.
package seccomp
