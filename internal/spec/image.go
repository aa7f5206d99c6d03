package spec

import (
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPath is the PATH a container gets when its image sets none.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Options shape a container's spec beyond the defaults: what the image
// config and the run flags ask for, already resolved by the engine.
type Options struct {
	Args     []string
	Env      []string
	Cwd      string
	User     specs.User
	Hostname string
	Tty      bool
	// ReadOnly makes the root filesystem read-only.
	ReadOnly bool
	// ShmSize is /dev/shm's size in bytes; 0 keeps the default 64 MiB.
	ShmSize int64
	// Mounts are added after the defaults (the engine's /etc/hosts,
	// /etc/hostname, /etc/resolv.conf, tmpfs and volumes).
	Mounts []specs.Mount
	// Resources are the cgroup limits. Without a pids limit the
	// container gets DefaultPidsLimit; a limit of -1 means none.
	Resources *specs.LinuxResources
	// NetNS, when set, is the network namespace to join; otherwise the
	// container gets a new one with only loopback.
	NetNS string
	// Seccomp is the container's seccomp profile, from a profile file
	// (--security-opt seccomp=FILE) read by ParseSeccomp. Nil gives the
	// default profile for the container's capabilities (SeccompFor).
	Seccomp *specs.LinuxSeccomp
	// SeccompUnconfined runs the container without a seccomp filter
	// (--security-opt seccomp=unconfined). It overrides Seccomp.
	SeccompUnconfined bool
	// Capabilities, when not nil, replace DefaultCapabilities in the
	// bounding, effective and permitted sets (see Capabilities).
	Capabilities []string
	// Privileged gives the container what Docker's --privileged does
	// (see privileged), and no seccomp filter. The host's devices are
	// the caller's to add to Devices (HostDevices).
	Privileged bool
	// NewPrivileges leaves no_new_privs off
	// (--security-opt no-new-privileges=false).
	NewPrivileges bool
	// Devices are device nodes to make in the container, on top of the
	// defaults. Their device cgroup rules are the caller's to add to
	// Resources, with the access it allows.
	Devices []specs.LinuxDevice
	// Rlimits replace the default limits of the same type.
	Rlimits []specs.POSIXRlimit
}

// ForContainer returns the spec of a container whose root filesystem is
// the directory "rootfs" beside config.json: Default with opts applied,
// a pids limit, more masked paths, and a seccomp profile (see
// docs/SECURITY.md). The profile follows the capabilities in the spec it
// returns; a caller that changes them afterwards sets
// Linux.Seccomp = SeccompFor(the new bounding set) as well.
func ForContainer(opts Options) *specs.Spec {
	s := Default(false, 0, 0)
	s.Root.Readonly = opts.ReadOnly
	p := s.Process
	p.Terminal = opts.Tty
	p.Args = opts.Args
	p.Env = opts.Env
	p.Cwd = opts.Cwd
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	p.User = opts.User
	s.Hostname = opts.Hostname
	if opts.ShmSize > 0 {
		for i, m := range s.Mounts {
			if m.Destination == "/dev/shm" {
				s.Mounts[i].Options = replaceOption(m.Options, "size=", "size="+strconv.FormatInt(opts.ShmSize, 10))
			}
		}
	}
	s.Mounts = append(s.Mounts, opts.Mounts...)
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, thermalMaskedPaths()...)
	if opts.Resources != nil {
		r := *opts.Resources
		r.Devices = append(s.Linux.Resources.Devices, opts.Resources.Devices...)
		s.Linux.Resources = &r
	}
	if s.Linux.Resources.Pids == nil {
		limit := int64(DefaultPidsLimit)
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	}
	applyHostOptions(s, opts)
	if !opts.SeccompUnconfined && !opts.Privileged {
		s.Linux.Seccomp = opts.Seccomp
		if s.Linux.Seccomp == nil {
			s.Linux.Seccomp = SeccompFor(p.Capabilities.Bounding)
		}
	}
	if opts.NetNS != "" {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = opts.NetNS
			}
		}
	}
	return s
}

// MergeEnv returns base with every VAR=value of over replacing base's
// VAR, in order, and PATH set when neither has it.
func MergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	for _, e := range out {
		if strings.HasPrefix(e, "PATH=") {
			return out
		}
	}
	return append([]string{DefaultPath}, out...)
}

func replaceOption(opts []string, prefix, with string) []string {
	out := make([]string, 0, len(opts))
	for _, o := range opts {
		if !strings.HasPrefix(o, prefix) {
			out = append(out, o)
		}
	}
	return append(out, with)
}

// AllCapabilities is every capability this host's kernel knows, for
// --privileged, less those outside berth's own bounding set: no process
// can give what it cannot hold, and a host that runs berth with fewer
// capabilities (a trimmed root session, a container) would otherwise
// fail every privileged start.
func AllCapabilities() []string {
	last := 40
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	bounding := ^uint64(0)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil {
					bounding = n
				}
			}
		}
	}
	var out []string
	for i := 0; i <= last; i++ {
		if name := capNames[i]; name != "" && bounding&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// capNames are the capabilities by number (linux/capability.h).
var capNames = map[int]string{
	0: "CAP_CHOWN", 1: "CAP_DAC_OVERRIDE", 2: "CAP_DAC_READ_SEARCH", 3: "CAP_FOWNER", 4: "CAP_FSETID",
	5: "CAP_KILL", 6: "CAP_SETGID", 7: "CAP_SETUID", 8: "CAP_SETPCAP", 9: "CAP_LINUX_IMMUTABLE",
	10: "CAP_NET_BIND_SERVICE", 11: "CAP_NET_BROADCAST", 12: "CAP_NET_ADMIN", 13: "CAP_NET_RAW",
	14: "CAP_IPC_LOCK", 15: "CAP_IPC_OWNER", 16: "CAP_SYS_MODULE", 17: "CAP_SYS_RAWIO", 18: "CAP_SYS_CHROOT",
	19: "CAP_SYS_PTRACE", 20: "CAP_SYS_PACCT", 21: "CAP_SYS_ADMIN", 22: "CAP_SYS_BOOT", 23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE", 25: "CAP_SYS_TIME", 26: "CAP_SYS_TTY_CONFIG", 27: "CAP_MKNOD", 28: "CAP_LEASE",
	29: "CAP_AUDIT_WRITE", 30: "CAP_AUDIT_CONTROL", 31: "CAP_SETFCAP", 32: "CAP_MAC_OVERRIDE",
	33: "CAP_MAC_ADMIN", 34: "CAP_SYSLOG", 35: "CAP_WAKE_ALARM", 36: "CAP_BLOCK_SUSPEND", 37: "CAP_AUDIT_READ",
	38: "CAP_PERFMON", 39: "CAP_BPF", 40: "CAP_CHECKPOINT_RESTORE",
}
