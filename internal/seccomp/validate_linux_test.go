//go:build cgo

package seccomp

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

func uintp(v uint) *uint { return &v }

func littleEndian() bool {
	return runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"
}

func notifySupported() bool {
	level, _ := libseccomp.GetAPI()
	return level >= notifyAPILevel
}

func TestValidate(t *testing.T) {
	allow := specs.ActAllow
	rule := func(action specs.LinuxSeccompAction, names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: action}
	}
	tests := []struct {
		name    string
		in      specs.LinuxSeccomp
		wantErr string // empty: valid
		needs   func() bool
	}{
		{name: "allow default", in: specs.LinuxSeccomp{DefaultAction: allow}},
		{name: "errno default with ret", in: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(1)}},
		{name: "errno ret zero", in: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(0)}},
		{name: "errno ret max", in: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(4094)}},
		{name: "trace ret max", in: specs.LinuxSeccomp{DefaultAction: specs.ActTrace, DefaultErrnoRet: uintp(65535)}},
		{name: "every action in rules", in: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			rule(specs.ActKill, "uname"), rule(specs.ActKillProcess, "getpid"), rule(specs.ActKillThread, "gettid"),
			rule(specs.ActTrap, "getuid"), rule(specs.ActTrace, "getgid"), rule(specs.ActAllow, "read"),
			rule(specs.ActLog, "write"), {Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
		}}},
		{name: "every operator", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{
			Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpNotEqual, Value: 1}, {Index: 1, Op: specs.OpLessThan, Value: 2},
				{Index: 2, Op: specs.OpLessEqual, Value: 3}, {Index: 3, Op: specs.OpEqualTo, Value: 4},
				{Index: 4, Op: specs.OpGreaterEqual, Value: 5}, {Index: 5, Op: specs.OpMaskedEqual, Value: 0xff, ValueTwo: 6},
			}}, {Names: []string{"close"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpGreaterThan, Value: 7}}},
		}}},
		{name: "same index twice", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{
			Names: []string{"close"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 1}, {Index: 0, Op: specs.OpEqualTo, Value: 2}},
		}}}},
		{name: "other byte order", needs: littleEndian, in: specs.LinuxSeccomp{DefaultAction: allow, Architectures: []specs.Arch{specs.ArchS390X}},
			wantErr: `seccomp: architecture "SCMP_ARCH_S390X" cannot share a filter with the native one: byte order differs`},
		{name: "architectures", in: specs.LinuxSeccomp{DefaultAction: allow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM}}},
		{name: "tsync flag", in: specs.LinuxSeccomp{DefaultAction: allow, Flags: []specs.LinuxSeccompFlag{flagTsync}}},
		{name: "unknown syscall skipped", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{rule(specs.ActErrno, "no_such_syscall", "mkdir")}}},
		{name: "rule equal to default skipped", in: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			rule(specs.ActErrno, "mkdir"), {Names: []string{"uname"}, Action: specs.ActErrno, ErrnoRet: uintp(1)}}}},
		{name: "notify with listener", needs: notifySupported, in: specs.LinuxSeccomp{DefaultAction: allow, ListenerPath: "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{rule(specs.ActNotify, "mkdir", "mkdirat")}}},
		{name: "listener without notify", in: specs.LinuxSeccomp{DefaultAction: allow, ListenerPath: "/run/agent.sock"}},

		{name: "empty default", in: specs.LinuxSeccomp{}, wantErr: `seccomp: defaultAction: unknown action ""`},
		{name: "unknown default", in: specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"}, wantErr: `seccomp: defaultAction: unknown action "SCMP_ACT_FOO"`},
		{name: "lowercase default", in: specs.LinuxSeccomp{DefaultAction: "scmp_act_allow"}, wantErr: `unknown action "scmp_act_allow"`},
		{name: "errnoRet on allow", in: specs.LinuxSeccomp{DefaultAction: allow, DefaultErrnoRet: uintp(1)},
			wantErr: `seccomp: defaultAction: errnoRet 1 given with SCMP_ACT_ALLOW`},
		{name: "errno too big", in: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(4095)},
			wantErr: `errnoRet 4095 out of range for SCMP_ACT_ERRNO (max 4094)`},
		{name: "trace too big", in: specs.LinuxSeccomp{DefaultAction: specs.ActTrace, DefaultErrnoRet: uintp(65536)},
			wantErr: `errnoRet 65536 out of range for SCMP_ACT_TRACE (max 65535)`},
		{name: "notify default", in: specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/x"},
			wantErr: `seccomp: SCMP_ACT_NOTIFY cannot be the defaultAction`},
		{name: "unknown arch", in: specs.LinuxSeccomp{DefaultAction: allow, Architectures: []specs.Arch{"SCMP_ARCH_FOO"}},
			wantErr: `seccomp: architectures: unknown architecture "SCMP_ARCH_FOO"`},
		{name: "libseccomp arch spelling", in: specs.LinuxSeccomp{DefaultAction: allow, Architectures: []specs.Arch{"amd64"}},
			wantErr: `unknown architecture "amd64"`},
		{name: "unknown flag", in: specs.LinuxSeccomp{DefaultAction: allow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FOO"}},
			wantErr: `seccomp: flags: unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
		{name: "no names", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{rule(specs.ActErrno)}},
			wantErr: `seccomp: syscalls[0]: no syscall names`},
		{name: "empty name", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{rule(specs.ActErrno, "uname"), rule(specs.ActErrno, "mkdir", "")}},
			wantErr: `seccomp: syscalls[1]: empty syscall name`},
		{name: "nul in name", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{rule(specs.ActErrno, "mkdir\x00x")}},
			wantErr: `seccomp: syscalls[0]: invalid syscall name "mkdir\x00x"`},
		{name: "unknown rule action", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{rule("SCMP_ACT_FOO", "mkdir")}},
			wantErr: `seccomp: syscalls[0]: unknown action "SCMP_ACT_FOO"`},
		{name: "rule errnoRet on log", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActLog, ErrnoRet: uintp(5)}}},
			wantErr: `seccomp: syscalls[0]: errnoRet 5 given with SCMP_ACT_LOG`},
		{name: "rule errno too big", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: uintp(1 << 20)}}},
			wantErr: `seccomp: syscalls[0]: errnoRet 1048576 out of range for SCMP_ACT_ERRNO`},
		{name: "unknown operator", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{
			Names: []string{"close"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo}, {Index: 1, Op: "SCMP_CMP_FOO"}}}}},
			wantErr: `seccomp: syscalls[0]: args[1]: unknown operator "SCMP_CMP_FOO"`},
		{name: "empty operator", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{
			Names: []string{"close"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0}}}}},
			wantErr: `args[0]: unknown operator ""`},
		{name: "arg index too big", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{{
			Names: []string{"close"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
			wantErr: `seccomp: syscalls[0]: args[0]: argument index 6 out of range (0-5)`},
		{name: "notify without listener", in: specs.LinuxSeccomp{DefaultAction: allow, Syscalls: []specs.LinuxSyscall{rule(specs.ActNotify, "mkdir")}},
			wantErr: `seccomp: SCMP_ACT_NOTIFY is used but listenerPath is empty`},
		{name: "notify on write", in: specs.LinuxSeccomp{DefaultAction: allow, ListenerPath: "/x", Syscalls: []specs.LinuxSyscall{rule(specs.ActNotify, "read", "write")}},
			wantErr: `seccomp: syscalls[0]: SCMP_ACT_NOTIFY cannot be used for "write"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needs != nil && !tt.needs() {
				t.Skip("not supported by this host's libseccomp or kernel")
			}
			err := Validate(&tt.in)
			checkErr(t, err, tt.wantErr)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestValidateNil(t *testing.T) {
	if err := Validate(nil); err != nil {
		t.Fatalf("Validate(nil) = %v, want nil", err)
	}
	if fd, err := Load(nil); err == nil || fd != -1 {
		t.Fatalf("Load(nil) = %d, %v; want -1 and an error", fd, err)
	}
}

// TestValidateHostSupport checks that arches and flags this host cannot
// apply are refused with a clear message, and the others accepted.
func TestValidateHostSupport(t *testing.T) {
	for _, arch := range archNames() {
		err := Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{arch}})
		want := ""
		if !archSupported(arch) {
			// Either libseccomp does not know it, or it is of the
			// other byte order.
			want = fmt.Sprintf("seccomp: architecture %q ", arch)
		}
		t.Run(string(arch), func(t *testing.T) { checkErr(t, err, want) })
	}
	for _, flag := range flagNames() {
		err := Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(flag)}})
		want := ""
		if !flagSupported(specs.LinuxSeccompFlag(flag)) {
			want = fmt.Sprintf("seccomp: flags: flag %q not supported on this host", flag)
		}
		t.Run(flag, func(t *testing.T) { checkErr(t, err, want) })
	}
}

// TestValidateLongProfile builds a profile long enough for the binary
// tree layout, with syscalls that repeat across rules as Docker's do.
func TestValidateLongProfile(t *testing.T) {
	names := []string{"read", "write", "openat", "close", "fstat", "mmap", "munmap", "brk",
		"futex", "clone", "clone3", "exit", "exit_group", "getpid", "gettid", "tgkill",
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "nanosleep",
		"sched_yield", "madvise", "mprotect", "getcwd", "fcntl", "dup3", "pipe2",
		"epoll_create1", "epoll_ctl", "epoll_pwait", "getrandom", "socketcall", "no_such_syscall"}
	s := specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(1),
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}}
	for _, n := range names {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{n}, Action: specs.ActAllow})
	}
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 0xffffffff}}})
	if len(s.Syscalls) <= optimizeAbove {
		t.Fatalf("profile has %d rules, want more than %d", len(s.Syscalls), optimizeAbove)
	}
	if err := Validate(&s); err != nil {
		t.Fatal(err)
	}
}

func TestToAction(t *testing.T) {
	tests := []struct {
		name     specs.LinuxSeccompAction
		errnoRet *uint
		want     libseccomp.ScmpAction
		wantRet  uint16
		wantErr  string
	}{
		{name: specs.ActKill, want: libseccomp.ActKillThread},
		{name: specs.ActKillThread, want: libseccomp.ActKillThread},
		{name: specs.ActKillProcess, want: libseccomp.ActKillProcess},
		{name: specs.ActTrap, want: libseccomp.ActTrap},
		{name: specs.ActAllow, want: libseccomp.ActAllow},
		{name: specs.ActLog, want: libseccomp.ActLog},
		{name: specs.ActNotify, want: libseccomp.ActNotify},
		{name: specs.ActErrno, want: libseccomp.ActErrno, wantRet: 1},
		{name: specs.ActErrno, errnoRet: uintp(38), want: libseccomp.ActErrno, wantRet: 38},
		{name: specs.ActErrno, errnoRet: uintp(0), want: libseccomp.ActErrno, wantRet: 0},
		{name: specs.ActTrace, want: libseccomp.ActTrace, wantRet: 1},
		{name: specs.ActTrace, errnoRet: uintp(65535), want: libseccomp.ActTrace, wantRet: 65535},
		{name: specs.ActErrno, errnoRet: uintp(4094), want: libseccomp.ActErrno, wantRet: 4094},
		{name: specs.ActErrno, errnoRet: uintp(4095), wantErr: `errnoRet 4095 out of range for SCMP_ACT_ERRNO (max 4094)`},
		{name: specs.ActKill, errnoRet: uintp(1), wantErr: `errnoRet 1 given with SCMP_ACT_KILL`},
		{name: specs.ActNotify, errnoRet: uintp(1), wantErr: `errnoRet 1 given with SCMP_ACT_NOTIFY`},
		{name: "SCMP_ACT_FOO", wantErr: `unknown action "SCMP_ACT_FOO"`},
	}
	for _, tt := range tests {
		got, err := toAction(tt.name, tt.errnoRet)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("toAction(%s, %v) error = %v, want %q", tt.name, tt.errnoRet, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("toAction(%s): %v", tt.name, err)
			continue
		}
		if got&0xffff != tt.want || uint16(got.GetReturnCode()) != tt.wantRet {
			t.Errorf("toAction(%s, %v) = %v ret %d, want %v ret %d", tt.name, tt.errnoRet, got&0xffff, uint16(got.GetReturnCode()), tt.want, tt.wantRet)
		}
	}
	for _, name := range actionNames() {
		if _, err := toAction(specs.LinuxSeccompAction(name), nil); err != nil {
			t.Errorf("listed action %s not converted: %v", name, err)
		}
	}
}

func TestToOperator(t *testing.T) {
	tests := []struct {
		op   specs.LinuxSeccompOperator
		want libseccomp.ScmpCompareOp
	}{
		{specs.OpNotEqual, libseccomp.CompareNotEqual},
		{specs.OpLessThan, libseccomp.CompareLess},
		{specs.OpLessEqual, libseccomp.CompareLessOrEqual},
		{specs.OpEqualTo, libseccomp.CompareEqual},
		{specs.OpGreaterEqual, libseccomp.CompareGreaterEqual},
		{specs.OpGreaterThan, libseccomp.CompareGreater},
		{specs.OpMaskedEqual, libseccomp.CompareMaskedEqual},
	}
	for _, tt := range tests {
		if got, err := toOperator(tt.op); err != nil || got != tt.want {
			t.Errorf("toOperator(%s) = %v, %v; want %v", tt.op, got, err, tt.want)
		}
	}
	if len(tests) != len(operatorNames()) {
		t.Errorf("operatorNames has %d entries, table %d", len(operatorNames()), len(tests))
	}
	if _, err := toOperator("SCMP_CMP_FOO"); err == nil || err.Error() != `unknown operator "SCMP_CMP_FOO"` {
		t.Errorf("toOperator(SCMP_CMP_FOO) error = %v", err)
	}
}

func TestToCondition(t *testing.T) {
	c, err := toCondition(specs.LinuxSeccompArg{Index: 2, Op: specs.OpMaskedEqual, Value: 0xff00, ValueTwo: 0x300})
	if err != nil {
		t.Fatal(err)
	}
	want := libseccomp.ScmpCondition{Argument: 2, Op: libseccomp.CompareMaskedEqual, Operand1: 0xff00, Operand2: 0x300}
	if c != want {
		t.Errorf("toCondition = %+v, want %+v (mask first, as in runc)", c, want)
	}
}

func TestToArch(t *testing.T) {
	tests := []struct {
		arch specs.Arch
		want libseccomp.ScmpArch
	}{
		{specs.ArchX86, libseccomp.ArchX86}, {specs.ArchX86_64, libseccomp.ArchAMD64}, {specs.ArchX32, libseccomp.ArchX32},
		{specs.ArchARM, libseccomp.ArchARM}, {specs.ArchAARCH64, libseccomp.ArchARM64},
		{specs.ArchMIPS, libseccomp.ArchMIPS}, {specs.ArchMIPS64, libseccomp.ArchMIPS64}, {specs.ArchMIPS64N32, libseccomp.ArchMIPS64N32},
		{specs.ArchMIPSEL, libseccomp.ArchMIPSEL}, {specs.ArchMIPSEL64, libseccomp.ArchMIPSEL64}, {specs.ArchMIPSEL64N32, libseccomp.ArchMIPSEL64N32},
		{specs.ArchPPC, libseccomp.ArchPPC}, {specs.ArchPPC64, libseccomp.ArchPPC64}, {specs.ArchPPC64LE, libseccomp.ArchPPC64LE},
		{specs.ArchS390, libseccomp.ArchS390}, {specs.ArchS390X, libseccomp.ArchS390X},
		{specs.ArchPARISC, libseccomp.ArchPARISC}, {specs.ArchPARISC64, libseccomp.ArchPARISC64},
		{specs.ArchRISCV64, libseccomp.ArchRISCV64}, {specs.ArchLOONGARCH64, libseccomp.ArchLOONGARCH64},
		{specs.ArchM68K, libseccomp.ArchM68K}, {specs.ArchSH, libseccomp.ArchSH}, {specs.ArchSHEB, libseccomp.ArchSHEB},
	}
	for _, tt := range tests {
		if got, err := toArch(tt.arch); err != nil || got != tt.want {
			t.Errorf("toArch(%s) = %v, %v; want %v", tt.arch, got, err, tt.want)
		}
	}
	if len(tests) != len(archNames()) {
		t.Errorf("archNames has %d entries, table %d", len(archNames()), len(tests))
	}
	if _, err := toArch("SCMP_ARCH_FOO"); err == nil || err.Error() != `unknown architecture "SCMP_ARCH_FOO"` {
		t.Errorf("toArch(SCMP_ARCH_FOO) error = %v", err)
	}
}

// nativeArch is the spec name of the architecture the tests run on, or ""
// where the tests do not know it.
func nativeArch() specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return specs.ArchX86_64
	case "arm64":
		return specs.ArchAARCH64
	case "386":
		return specs.ArchX86
	case "riscv64":
		return specs.ArchRISCV64
	case "ppc64le":
		return specs.ArchPPC64LE
	case "s390x":
		return specs.ArchS390X
	}
	return ""
}

func TestFeatures(t *testing.T) {
	f := Features()
	if f.Enabled == nil || !*f.Enabled {
		t.Fatal("Enabled is not true")
	}
	t.Logf("libseccomp %s: archs %v, supported flags %v", libVersion(), f.Archs, f.SupportedFlags)
	for _, want := range []string{"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
		"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"} {
		if !slices.Contains(f.Actions, want) {
			t.Errorf("Actions lacks %s: %v", want, f.Actions)
		}
	}
	if len(f.Actions) != 9 {
		t.Errorf("Actions = %v, want 9 entries", f.Actions)
	}
	for _, want := range []string{"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"} {
		if !slices.Contains(f.Operators, want) {
			t.Errorf("Operators lacks %s: %v", want, f.Operators)
		}
	}
	if native := string(nativeArch()); native != "" && !slices.Contains(f.Archs, native) {
		t.Errorf("Archs lacks the native %s: %v", native, f.Archs)
	}
	wantFlags := []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
		"SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}
	if !slices.Equal(f.KnownFlags, wantFlags) {
		t.Errorf("KnownFlags = %v, want %v", f.KnownFlags, wantFlags)
	}
	if !slices.Contains(f.SupportedFlags, "SECCOMP_FILTER_FLAG_TSYNC") {
		t.Errorf("SupportedFlags lacks TSYNC: %v", f.SupportedFlags)
	}
	for _, flag := range f.SupportedFlags {
		if !slices.Contains(f.KnownFlags, flag) {
			t.Errorf("supported flag %s is not known", flag)
		}
	}
	// Everything Features offers, Validate must accept.
	s := specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	for _, a := range f.Archs {
		s.Architectures = append(s.Architectures, specs.Arch(a))
	}
	for _, flag := range f.SupportedFlags {
		s.Flags = append(s.Flags, specs.LinuxSeccompFlag(flag))
	}
	if err := Validate(&s); err != nil {
		t.Errorf("Validate of every feature: %v", err)
	}
}

func FuzzValidate(f *testing.F) {
	seeds := []string{
		`{"defaultAction":"SCMP_ACT_ALLOW"}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
		  "flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":38,
		  "args":[{"index":0,"value":255,"valueTwo":8,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":1,"op":"SCMP_CMP_NE"}]}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/a","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}`,
		`{"defaultAction":"SCMP_ACT_TRACE","defaultErrnoRet":70000,"syscalls":[{"names":[""],"action":""}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["close"],"action":"SCMP_ACT_KILL","args":[{"index":9,"value":1,"op":"SCMP_CMP_GT"}]}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.LinuxSeccomp
		if err := json.Unmarshal(data, &s); err != nil {
			return
		}
		err := Validate(&s)
		if err != nil && !strings.HasPrefix(err.Error(), "seccomp: ") {
			t.Errorf("error without the package prefix: %v", err)
		}
	})
}
