// This file is berth's default seccomp profile, as data. It follows
// Docker's default profile (moby's profiles/seccomp) rule for rule, so
// that images behave as they do under Docker, and it is at least as
// strict: every syscall Docker denies is denied here too, and io_uring,
// which Docker also denies since 25.0, is not allowed. Syscalls outside
// the lists fail with EPERM. docs/SECURITY.md explains the choices.

package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Linux's numbers, written out so that the package builds anywhere.
const (
	errnoEPERM  = 1
	errnoENOSYS = 38
	// afVsock is AF_VSOCK: sockets to the hypervisor and other VMs,
	// which are not namespaced.
	afVsock = 40
	// nsCloneFlags are the clone flags that make namespaces:
	// CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID and NEWNET.
	nsCloneFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)

// Personalities a container may set: the plain Linux one, PER_LINUX32,
// UNAME26 (an old uname for old programs), both, and 0xffffffff, which
// only queries. The rest, such as ADDR_NO_RANDOMIZE, stay denied.
var allowedPersonalities = []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff}

// defaultProfile returns the default profile, unresolved.
func defaultProfile() profile {
	eperm, enosys := uint(errnoEPERM), uint(errnoENOSYS)
	rules := []profileRule{
		allow(fileSyscalls...),
		allow(ioSyscalls...),
		allow(memorySyscalls...),
		allow(processSyscalls...),
		allow(credentialSyscalls...),
		allow(schedulingSyscalls...),
		allow(signalSyscalls...),
		allow(timeSyscalls...),
		allow(networkSyscalls...),
		allow(ipcSyscalls...),
		// Since Linux 4.8 seccomp runs again after a tracer changes a
		// syscall, so ptrace cannot be used to get around the filter.
		{LinuxSyscall: specs.LinuxSyscall{Names: []string{"ptrace", "process_vm_readv", "process_vm_writev"}, Action: specs.ActAllow},
			Includes: &ruleFilter{MinKernel: "4.8"}},
		{LinuxSyscall: specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: afVsock, Op: specs.OpNotEqual}}}},
	}
	for _, p := range allowedPersonalities {
		rules = append(rules, profileRule{LinuxSyscall: specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: p, Op: specs.OpEqualTo}}}})
	}
	rules = append(rules,
		// Syscalls of one architecture each.
		allowOn([]string{"amd64", "x32"}, "arch_prctl"),
		allowOn([]string{"amd64", "x32", "x86"}, "modify_ldt"),
		allowOn([]string{"arm", "arm64"}, "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"),
		allowOn([]string{"ppc64le"}, "sync_file_range2", "swapcontext"),
		// send and recv exist on arm and powerpc only; elsewhere sendto
		// and recvfrom do their work.
		allowOn([]string{"arm", "arm64", "ppc64le"}, "send", "recv"),
		allowOn([]string{"s390", "s390x"}, "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
		allowOn([]string{"riscv64"}, "riscv_flush_icache", "riscv_hwprobe"),

		// Syscalls that only make sense with a capability, allowed only
		// to a container that has it.
		allowWith("CAP_SYS_ADMIN",
			"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
			"lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr",
			"mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
			"setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare"),
		allowWith("CAP_SYS_BOOT", "reboot"),
		allowWith("CAP_SYS_CHROOT", "chroot"),
		allowWith("CAP_SYS_MODULE", "init_module", "finit_module", "delete_module"),
		allowWith("CAP_SYS_PACCT", "acct"),
		allowWith("CAP_SYS_PTRACE", "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
		allowWith("CAP_SYS_RAWIO", "iopl", "ioperm"),
		allowWith("CAP_SYS_TIME", "settimeofday", "stime", "clock_settime", "clock_settime64"),
		allowWith("CAP_SYS_TTY_CONFIG", "vhangup"),
		allowWith("CAP_SYS_NICE", "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
		allowWith("CAP_SYSLOG", "syslog"),
		allowWith("CAP_BPF", "bpf"),
		allowWith("CAP_PERFMON", "perf_event_open"),
		allowWith("CAP_DAC_READ_SEARCH", "open_by_handle_at"),

		// Without CAP_SYS_ADMIN, clone may not make namespaces. s390
		// passes clone's flags second.
		profileRule{LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: nsCloneFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			Excludes: &ruleFilter{Caps: []string{"CAP_SYS_ADMIN"}, Arches: []string{"s390", "s390x"}}},
		profileRule{LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: nsCloneFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			Includes: &ruleFilter{Arches: []string{"s390", "s390x"}},
			Excludes: &ruleFilter{Caps: []string{"CAP_SYS_ADMIN"}}},
		// clone3 passes its flags in memory, where seccomp cannot look.
		// ENOSYS, not EPERM, makes libcs fall back to clone, whose flags
		// the rule above checks.
		profileRule{LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			Excludes: &ruleFilter{Caps: []string{"CAP_SYS_ADMIN"}}},
	)
	return profile{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
		ArchMap: []archMapping{
			{Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86, specs.ArchX32}},
			{Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}},
			{Arch: specs.ArchS390X, SubArches: []specs.Arch{specs.ArchS390}},
			{Arch: specs.ArchRISCV64},
			{Arch: specs.ArchPPC64LE},
		},
		Syscalls: rules,
	}
}

func allow(names ...string) profileRule {
	return profileRule{LinuxSyscall: specs.LinuxSyscall{Names: names, Action: specs.ActAllow}}
}

func allowWith(capability string, names ...string) profileRule {
	r := allow(names...)
	r.Includes = &ruleFilter{Caps: []string{capability}}
	return r
}

func allowOn(arches []string, names ...string) profileRule {
	r := allow(names...)
	r.Includes = &ruleFilter{Arches: arches}
	return r
}

// The syscalls every container may make, by topic. Names of 32-bit
// variants (chown32, fcntl64, *_time64...) are for the x86 and arm
// programs that a 64-bit filter also admits.
var (
	fileSyscalls = []string{
		"access", "faccessat", "faccessat2",
		"chdir", "fchdir", "getcwd",
		"chmod", "fchmod", "fchmodat", "fchmodat2",
		"chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
		"creat", "open", "openat", "openat2", "name_to_handle_at",
		"getdents", "getdents64",
		"link", "linkat", "symlink", "symlinkat", "readlink", "readlinkat",
		"mkdir", "mkdirat", "mknod", "mknodat",
		"rename", "renameat", "renameat2", "rmdir", "unlink", "unlinkat",
		"stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat", "statx",
		"statfs", "statfs64", "fstatfs", "fstatfs64",
		"truncate", "truncate64", "ftruncate", "ftruncate64",
		"umask",
		"utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
		"getxattr", "lgetxattr", "fgetxattr", "getxattrat",
		"setxattr", "lsetxattr", "fsetxattr", "setxattrat",
		"listxattr", "llistxattr", "flistxattr", "listxattrat",
		"removexattr", "lremovexattr", "fremovexattr", "removexattrat",
		"listmount", "statmount",
	}
	ioSyscalls = []string{
		"read", "readv", "pread64", "preadv", "preadv2",
		"write", "writev", "pwrite64", "pwritev", "pwritev2",
		"lseek", "_llseek",
		"close", "close_range", "dup", "dup2", "dup3",
		"fcntl", "fcntl64", "flock", "ioctl",
		"pipe", "pipe2", "splice", "tee", "vmsplice",
		"sendfile", "sendfile64", "copy_file_range",
		"fallocate", "fadvise64", "fadvise64_64", "readahead", "cachestat",
		"fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
		"poll", "ppoll", "ppoll_time64",
		"select", "_newselect", "pselect6", "pselect6_time64",
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
		"epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2",
		"eventfd", "eventfd2", "signalfd", "signalfd4",
		"timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime", "timerfd_gettime64",
		"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
		"io_setup", "io_destroy", "io_submit", "io_cancel",
		"io_getevents", "io_pgetevents", "io_pgetevents_time64",
	}
	memorySyscalls = []string{
		"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
		"mlock", "mlock2", "mlockall", "munlock", "munlockall",
		"membarrier", "memfd_create", "memfd_secret", "remap_file_pages",
		"pkey_alloc", "pkey_free", "pkey_mprotect",
		"map_shadow_stack", "mseal", "process_mrelease",
	}
	processSyscalls = []string{
		"execve", "execveat", "exit", "exit_group",
		"fork", "vfork", "wait4", "waitid", "waitpid",
		"kill", "tkill", "tgkill", "pidfd_open", "pidfd_send_signal",
		"getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
		"set_tid_address", "set_robust_list", "get_robust_list",
		"set_thread_area", "get_thread_area", "rseq", "restart_syscall",
		"futex", "futex_time64", "futex_waitv", "futex_wait", "futex_wake", "futex_requeue",
		"prctl", "capget", "capset", "seccomp",
		"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
		"getrandom", "uretprobe",
	}
	credentialSyscalls = []string{
		"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
		"getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
		"setuid", "setuid32", "setgid", "setgid32",
		"setreuid", "setreuid32", "setregid", "setregid32",
		"setresuid", "setresuid32", "setresgid", "setresgid32",
		"setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
		"setgroups", "setgroups32",
	}
	schedulingSyscalls = []string{
		"sched_yield", "sched_getaffinity", "sched_setaffinity",
		"sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam",
		"sched_getscheduler", "sched_setscheduler",
		"sched_get_priority_max", "sched_get_priority_min",
		"sched_rr_get_interval", "sched_rr_get_interval_time64",
		"getpriority", "setpriority", "ioprio_get", "ioprio_set",
		"getrlimit", "setrlimit", "ugetrlimit", "prlimit64", "getrusage",
		"getcpu", "times", "sysinfo", "uname",
	}
	signalSyscalls = []string{
		"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
		"rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
		"sigaltstack", "sigprocmask", "sigreturn", "pause", "alarm",
	}
	timeSyscalls = []string{
		"time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
		"clock_nanosleep", "clock_nanosleep_time64", "nanosleep",
		"adjtimex", "clock_adjtime", "clock_adjtime64",
		"getitimer", "setitimer",
		"timer_create", "timer_delete", "timer_getoverrun",
		"timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
	}
	networkSyscalls = []string{
		"socketpair", "socketcall", "bind", "connect", "listen", "accept", "accept4",
		"getsockname", "getpeername", "getsockopt", "setsockopt", "shutdown",
		"recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",
		"sendto", "sendmsg", "sendmmsg",
	}
	ipcSyscalls = []string{
		"ipc",
		"msgget", "msgctl", "msgrcv", "msgsnd",
		"semget", "semctl", "semop", "semtimedop", "semtimedop_time64",
		"shmget", "shmat", "shmctl", "shmdt",
		"mq_open", "mq_unlink", "mq_getsetattr", "mq_notify",
		"mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
	}
)
