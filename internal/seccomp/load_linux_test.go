//go:build cgo

package seccomp

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	enosys = errnoStr(syscall.ENOSYS)
	eperm  = errnoStr(syscall.EPERM)
	eacces = errnoStr(syscall.EACCES)
	ebadf  = errnoStr(syscall.EBADF)
	enomsg = errnoStr(syscall.ENOMSG) // what the argument tests' rules return
)

// goRuntimeSyscalls is what a Go program needs to keep running, print and
// exit; the default-deny tests allow these and little else.
var goRuntimeSyscalls = []string{
	"read", "write", "writev", "openat", "close", "fstat", "newfstatat", "lseek",
	"mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "mincore",
	"futex", "clone", "clone3", "exit", "exit_group", "getpid", "gettid", "tgkill", "tkill",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"nanosleep", "clock_nanosleep", "clock_gettime", "gettimeofday", "sched_yield",
	"sched_getaffinity", "set_robust_list", "rseq", "prctl", "arch_prctl", "getrandom",
	"fcntl", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_wait", "pipe2", "eventfd2",
	"getrlimit", "prlimit64", "setrlimit", "restart_syscall", "getcwd",
}

func TestLoadErrnoRule(t *testing.T) {
	mkdirRule := specs.LinuxSyscall{Names: []string{"no_such_syscall", "mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(38)}
	tests := []struct {
		name string
		s    specs.LinuxSeccomp
	}{
		{"native only", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			mkdirRule,
			{Names: []string{"getcwd"}, Action: specs.ActAllow}, // same as the default: skipped
		}}},
		{"with architectures and flags", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Architectures: littleEndianArchs(),
			Flags:         []specs.LinuxSeccompFlag{flagTsync, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
			Syscalls:      []specs.LinuxSyscall{mkdirRule}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, flag := range tt.s.Flags {
				if !flagSupported(flag) {
					t.Skipf("flag %s not supported on this host", flag)
				}
			}
			c := runChild(t, tt.s, nil, "mkdir", "other:mkdir", "getcwd", "uname")
			// other:mkdir ran on a thread that existed before Load: TSYNC.
			c.expect(t, "load=-1", "nnp=1", "mkdir="+enosys, "other:mkdir="+enosys, "getcwd=0", "uname=0")
		})
	}
}

// littleEndianArchs lists the native architecture and its companions.
func littleEndianArchs() []specs.Arch {
	switch native := nativeArch(); native {
	case specs.ArchX86_64:
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case specs.ArchAARCH64:
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	case "":
		return nil
	default:
		return []specs.Arch{native}
	}
}

func TestLoadDefaultErrno(t *testing.T) {
	allowList := func() []specs.LinuxSyscall {
		return []specs.LinuxSyscall{
			{Names: goRuntimeSyscalls, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 0xffffffff}}},
		}
	}
	probes := []string{"getcwd", "uname", "mkdir", "other:uname", "personality:0xffffffff", "personality:0"}
	t.Run("defaultErrnoRet", func(t *testing.T) {
		s := specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(uint(syscall.EACCES)), Syscalls: allowList()}
		runChild(t, s, nil, probes...).expect(t, "getcwd=0", "uname="+eacces, "mkdir="+eacces,
			"other:uname="+eacces, "personality:0xffffffff=0", "personality:0="+eacces)
	})
	t.Run("EPERM without defaultErrnoRet", func(t *testing.T) {
		s := specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: allowList()}
		runChild(t, s, nil, probes...).expect(t, "getcwd=0", "uname="+eperm, "mkdir="+eperm,
			"other:uname="+eperm, "personality:0xffffffff=0", "personality:0="+eperm)
	})
}

func TestLoadArgs(t *testing.T) {
	rule := func(name string, args ...specs.LinuxSeccompArg) specs.LinuxSeccomp {
		return specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: uintp(uint(syscall.ENOMSG)), Args: args}}}
	}
	arg0 := func(op specs.LinuxSeccompOperator, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: 0, Op: op, Value: v}
	}
	tests := []struct {
		name string
		s    specs.LinuxSeccomp
		want map[string]string // probe -> errno; nothing here may be open in the child
	}{
		{"NE", rule("close", arg0(specs.OpNotEqual, 1000)), map[string]string{"close:1000": ebadf, "close:1001": enomsg}},
		{"LT", rule("close", arg0(specs.OpLessThan, 1000)), map[string]string{"close:999": enomsg, "close:1000": ebadf}},
		{"LE", rule("close", arg0(specs.OpLessEqual, 1000)), map[string]string{"close:1000": enomsg, "close:1001": ebadf}},
		{"EQ", rule("close", arg0(specs.OpEqualTo, 1000)), map[string]string{"close:1000": enomsg, "close:1001": ebadf}},
		{"GE", rule("close", arg0(specs.OpGreaterEqual, 1000)), map[string]string{"close:999": ebadf, "close:1000": enomsg}},
		{"GT", rule("close", arg0(specs.OpGreaterThan, 1000)), map[string]string{"close:1000": ebadf, "close:1001": enomsg}},
		{"MASKED_EQ", rule("close", specs.LinuxSeccompArg{Index: 0, Op: specs.OpMaskedEqual, Value: 0xff00, ValueTwo: 0x0300}),
			map[string]string{"close:0x3ff": enomsg, "close:0x300": enomsg, "close:0x4ff": ebadf}},
		// Two conditions on one index are ORed, as in runc.
		{"same index is OR", rule("close", arg0(specs.OpEqualTo, 1001), arg0(specs.OpEqualTo, 1002)),
			map[string]string{"close:1000": ebadf, "close:1001": enomsg, "close:1002": enomsg}},
		// Conditions on different indexes are ANDed.
		{"different indexes are AND", rule("dup3", arg0(specs.OpEqualTo, 1000), specs.LinuxSeccompArg{Index: 1, Op: specs.OpEqualTo, Value: 1001}),
			map[string]string{"dup3:1000:1001": enomsg, "dup3:1000:1002": ebadf, "dup3:1003:1001": ebadf}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probes, want []string
			for p, errno := range tt.want {
				probes = append(probes, p)
				want = append(want, p+"="+errno)
			}
			runChild(t, tt.s, nil, probes...).expect(t, want...)
		})
	}
}

func TestLoadActions(t *testing.T) {
	on := func(action specs.LinuxSeccompAction, errnoRet *uint) specs.LinuxSeccomp {
		return specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"uname"}, Action: action, ErrnoRet: errnoRet}}}
	}
	t.Run("LOG allows", func(t *testing.T) {
		runChild(t, on(specs.ActLog, nil), nil, "uname").expect(t, "uname=0")
	})
	t.Run("TRACE without a tracer fails with ENOSYS", func(t *testing.T) {
		runChild(t, on(specs.ActTrace, uintp(5)), nil, "uname", "getcwd").expect(t, "uname="+enosys, "getcwd=0")
	})
	t.Run("KILL_PROCESS", func(t *testing.T) {
		c := runChild(t, on(specs.ActKillProcess, nil), nil, "getcwd", "uname")
		if !c.status.Signaled() || c.status.Signal() != syscall.SIGSYS {
			t.Fatalf("child status %v, want killed by SIGSYS; stdout:\n%s", c.status, c.stdout)
		}
		if c.out["getcwd"] != "0" || c.out["uname"] != "" {
			t.Errorf("child ran getcwd=%q uname=%q, want getcwd to work and uname to kill it", c.out["getcwd"], c.out["uname"])
		}
	})
	t.Run("TRAP", func(t *testing.T) {
		// The Go runtime treats a SIGSYS it did not ask for as fatal.
		c := runChild(t, on(specs.ActTrap, nil), nil, "uname")
		if c.status.Exited() && c.status.ExitStatus() == 0 || !strings.Contains(c.stderr, "SIGSYS") {
			t.Fatalf("child status %v, want a SIGSYS crash; stderr:\n%s", c.status, c.stderr)
		}
	})
}

func TestLoadNotify(t *testing.T) {
	if !notifySupported() {
		t.Skip("SCMP_ACT_NOTIFY needs libseccomp API level 6")
	}
	s := specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/berth-test-agent.sock",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActNotify}}}
	c := runChild(t, s, nil, "notify-getppid")
	c.expect(t, "fdlink=anon_inode:seccomp notify", "fdcloexec=1", "notify-getppid=4242")
	if fd, err := strconv.Atoi(c.out["load"]); err != nil || fd < 0 {
		t.Errorf("Load returned listener fd %q, want >= 0", c.out["load"])
	}
}

// TestLoadLeavesNoNewPrivs loads without no_new_privs: Load must not set
// it, so the kernel accepts the filter only with CAP_SYS_ADMIN.
func TestLoadLeavesNoNewPrivs(t *testing.T) {
	s := specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"uname"}, Action: specs.ActErrno}}}
	c := runChild(t, s, []string{noNNPEnv + "=1"}, "uname")
	if hasSysAdmin(t) {
		c.expect(t, "load=-1", "nnp=0", "uname="+eperm)
		return
	}
	if want := "set no_new_privs first or hold CAP_SYS_ADMIN"; !strings.Contains(c.out["loaderr"], want) {
		t.Fatalf("loaderr = %q, want it to contain %q; stderr:\n%s", c.out["loaderr"], want, c.stderr)
	}
}

func hasSysAdmin(t *testing.T) bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			const capSysAdmin = 21
			return caps&(1<<capSysAdmin) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}
