package spec

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// allowed returns the names s allows outright, and those it allows only
// for some arguments.
func allowed(s *specs.LinuxSeccomp) (always, someArgs map[string]bool) {
	always, someArgs = map[string]bool{}, map[string]bool{}
	for _, r := range s.Syscalls {
		if r.Action != specs.ActAllow {
			continue
		}
		for _, n := range r.Names {
			if len(r.Args) == 0 {
				always[n] = true
			} else {
				someArgs[n] = true
			}
		}
	}
	return always, someArgs
}

func ruleFor(s *specs.LinuxSeccomp, name string) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, r := range s.Syscalls {
		if slices.Contains(r.Names, name) {
			out = append(out, r)
		}
	}
	return out
}

// testHost is a 6.1 amd64 kernel with caps.
func testHost(caps ...string) host {
	return host{caps: caps, goarch: "amd64", kernel: [2]int{6, 1}}
}

func defaultFor(h host) *specs.LinuxSeccomp {
	return compact(resolve(defaultProfile(), h))
}

func TestDefaultSeccompShape(t *testing.T) {
	s := DefaultSeccomp()
	if s.DefaultAction != specs.ActErrno || s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != errnoEPERM {
		t.Errorf("default action %s errno %v, want SCMP_ACT_ERRNO with EPERM", s.DefaultAction, s.DefaultErrnoRet)
	}
	if len(s.Flags) != 0 || s.ListenerPath != "" {
		t.Errorf("flags %v, listener %q: want none", s.Flags, s.ListenerPath)
	}
	always, someArgs := allowed(s)
	t.Logf("default profile: %d syscalls allowed outright, %d for some arguments (%v), %d rules",
		len(always), len(someArgs), keys(someArgs), len(s.Syscalls))
	if len(always) < 300 {
		t.Errorf("only %d syscalls allowed outright: the ordinary ones are missing", len(always))
	}
	for _, want := range []string{"read", "write", "openat", "execve", "fork", "wait4", "mmap", "futex", "getdents64", "rt_sigreturn", "exit_group"} {
		if !always[want] {
			t.Errorf("%s is not allowed", want)
		}
	}

	archTests := []struct {
		goarch string
		want   []specs.Arch
	}{
		{"amd64", []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}},
		{"arm64", []specs.Arch{specs.ArchAARCH64, specs.ArchARM}},
		{"s390x", []specs.Arch{specs.ArchS390X, specs.ArchS390}},
		{"riscv64", []specs.Arch{specs.ArchRISCV64}},
		{"mips64", nil},
	}
	for _, tt := range archTests {
		h := testHost(DefaultCapabilities...)
		h.goarch = tt.goarch
		if got := defaultFor(h).Architectures; !slices.Equal(got, tt.want) {
			t.Errorf("%s: architectures %v, want %v", tt.goarch, got, tt.want)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Each name is in one argument-free rule at most, and a name allowed
// outright is in no other rule: nothing is said twice, nothing
// contradicts.
func TestSeccompNoDuplicateNames(t *testing.T) {
	capSets := map[string][]string{"none": nil, "default": DefaultCapabilities, "all": AllCapabilities()}
	for _, goarch := range []string{"amd64", "arm64", "s390x"} {
		for setName, caps := range capSets {
			h := testHost(caps...)
			h.goarch = goarch
			s := defaultFor(h)
			plain := map[string]int{}
			inRules := map[string]int{}
			for i, r := range s.Syscalls {
				if len(r.Names) == 0 {
					t.Errorf("%s/%s: rule %d has no names", goarch, setName, i)
				}
				for _, n := range r.Names {
					if n == "" || strings.TrimSpace(n) != n {
						t.Errorf("%s/%s: bad name %q", goarch, setName, n)
					}
					inRules[n]++
					if len(r.Args) == 0 {
						plain[n]++
					}
				}
			}
			for n, c := range plain {
				if c > 1 || inRules[n] > 1 {
					t.Errorf("%s/%s: %s is in %d rules, %d of them without arguments", goarch, setName, n, inRules[n], c)
				}
			}
			if !slices.IsSorted(s.Syscalls[0].Names) {
				t.Errorf("%s/%s: the allow-list is not sorted", goarch, setName)
			}
		}
	}
}

// capabilityRules are, for each capability, syscalls the default profile
// allows only to a container that holds it.
var capabilityRules = map[string][]string{
	"CAP_SYS_ADMIN":       {"mount", "umount2", "unshare", "setns", "clone3", "sethostname", "open_tree", "fsopen", "quotactl"},
	"CAP_SYS_PTRACE":      {"kcmp", "pidfd_getfd", "process_madvise"},
	"CAP_SYS_MODULE":      {"init_module", "finit_module", "delete_module"},
	"CAP_SYS_BOOT":        {"reboot"},
	"CAP_SYS_CHROOT":      {"chroot"},
	"CAP_SYS_TIME":        {"settimeofday", "clock_settime"},
	"CAP_SYS_NICE":        {"mbind", "set_mempolicy", "get_mempolicy"},
	"CAP_SYS_RAWIO":       {"iopl", "ioperm"},
	"CAP_SYS_PACCT":       {"acct"},
	"CAP_SYS_TTY_CONFIG":  {"vhangup"},
	"CAP_SYSLOG":          {"syslog"},
	"CAP_BPF":             {"bpf"},
	"CAP_PERFMON":         {"perf_event_open"},
	"CAP_DAC_READ_SEARCH": {"open_by_handle_at"},
}

func TestSeccompCapabilityRules(t *testing.T) {
	without := defaultFor(testHost())
	none, _ := allowed(without)
	for capability, names := range capabilityRules {
		with, _ := allowed(defaultFor(testHost(capability)))
		for _, n := range names {
			if none[n] {
				t.Errorf("%s is allowed without %s", n, capability)
			}
			if !with[n] {
				t.Errorf("%s is not allowed with %s", n, capability)
			}
		}
	}
	// The default set holds CAP_SYS_CHROOT and no other of them.
	def, _ := allowed(DefaultSeccomp())
	for capability, names := range capabilityRules {
		for _, n := range names {
			if def[n] != (capability == "CAP_SYS_CHROOT") {
				t.Errorf("default profile: %s allowed = %v", n, def[n])
			}
		}
	}
}

// Syscalls Docker's default profile denies to a container with its
// default capabilities, and io_uring, which Docker denies since 25.0.
var deniedByDefault = []string{
	"keyctl", "add_key", "request_key",
	"unshare", "setns", "mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"userfaultfd", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"bpf", "perf_event_open", "lookup_dcookie", "fanotify_init",
	"swapon", "swapoff", "reboot", "acct", "quotactl", "nfsservctl",
	"settimeofday", "clock_settime", "stime", "iopl", "ioperm",
	"open_by_handle_at", "kcmp", "pidfd_getfd", "process_madvise",
	"mbind", "set_mempolicy", "move_pages", "migrate_pages",
	"sethostname", "setdomainname", "syslog", "vhangup", "uselib", "ustat", "sysfs", "_sysctl",
	"create_module", "get_kernel_syms", "query_module",
}

func TestSeccompDefaultDenies(t *testing.T) {
	always, someArgs := allowed(DefaultSeccomp())
	for _, n := range deniedByDefault {
		if always[n] || someArgs[n] {
			t.Errorf("%s is allowed by the default profile", n)
		}
	}
	// Not even with every capability: the keyring is not namespaced,
	// and the rest reach the host's kernel or its memory.
	all, allArgs := allowed(defaultFor(testHost(AllCapabilities()...)))
	for _, n := range []string{"keyctl", "add_key", "request_key", "io_uring_setup", "userfaultfd", "kexec_load", "pivot_root", "swapon", "uselib"} {
		if all[n] || allArgs[n] {
			t.Errorf("%s is allowed with every capability", n)
		}
	}
}

func TestSeccompCloneRules(t *testing.T) {
	s := DefaultSeccomp()
	clone := ruleFor(s, "clone")
	if len(clone) != 1 || clone[0].Action != specs.ActAllow ||
		!slices.Equal(clone[0].Args, []specs.LinuxSeccompArg{{Index: 0, Value: 0x7E020000, Op: specs.OpMaskedEqual}}) {
		t.Errorf("clone without CAP_SYS_ADMIN: %+v, want allowed only with no namespace flag in argument 0", clone)
	}
	clone3 := ruleFor(s, "clone3")
	if len(clone3) != 1 || clone3[0].Action != specs.ActErrno || clone3[0].ErrnoRet == nil || *clone3[0].ErrnoRet != errnoENOSYS {
		t.Errorf("clone3 without CAP_SYS_ADMIN: %+v, want ENOSYS", clone3)
	}

	admin := defaultFor(testHost(append(slices.Clone(DefaultCapabilities), "CAP_SYS_ADMIN")...))
	for _, n := range []string{"clone", "clone3"} {
		r := ruleFor(admin, n)
		if len(r) != 1 || r[0].Action != specs.ActAllow || len(r[0].Args) != 0 {
			t.Errorf("%s with CAP_SYS_ADMIN: %+v, want allowed outright", n, r)
		}
	}

	h := testHost(DefaultCapabilities...)
	h.goarch = "s390x"
	s390 := ruleFor(defaultFor(h), "clone")
	if len(s390) != 1 || s390[0].Args[0].Index != 1 {
		t.Errorf("clone on s390x: %+v, want the flags checked in argument 1", s390)
	}
}

func TestSeccompArgumentRules(t *testing.T) {
	s := DefaultSeccomp()
	var personas []uint64
	for _, r := range ruleFor(s, "personality") {
		if r.Action != specs.ActAllow || len(r.Args) != 1 || r.Args[0].Op != specs.OpEqualTo || r.Args[0].Index != 0 {
			t.Errorf("personality rule %+v", r)
			continue
		}
		personas = append(personas, r.Args[0].Value)
	}
	if want := []uint64{0, 8, 0x20000, 0x20008, 0xffffffff}; !slices.Equal(personas, want) {
		t.Errorf("personalities allowed: %#x, want %#x", personas, want)
	}
	socket := ruleFor(s, "socket")
	if len(socket) != 1 || !slices.Equal(socket[0].Args, []specs.LinuxSeccompArg{{Index: 0, Value: 40, Op: specs.OpNotEqual}}) {
		t.Errorf("socket: %+v, want every family but AF_VSOCK", socket)
	}
}

func TestSeccompArchRules(t *testing.T) {
	amd64, _ := allowed(DefaultSeccomp())
	h := testHost(DefaultCapabilities...)
	h.goarch = "arm64"
	arm64, _ := allowed(defaultFor(h))
	for _, n := range []string{"arch_prctl", "modify_ldt"} {
		if !amd64[n] || arm64[n] {
			t.Errorf("%s: allowed on amd64 %v, on arm64 %v; want amd64 only", n, amd64[n], arm64[n])
		}
	}
	for _, n := range []string{"set_tls", "cacheflush", "arm_fadvise64_64", "send", "recv"} {
		if amd64[n] || !arm64[n] {
			t.Errorf("%s: allowed on amd64 %v, on arm64 %v; want arm64 only", n, amd64[n], arm64[n])
		}
	}
}

func TestSeccompMinKernel(t *testing.T) {
	for _, tt := range []struct {
		kernel [2]int
		want   bool
	}{{[2]int{4, 4}, false}, {[2]int{4, 8}, true}, {[2]int{5, 0}, true}, {[2]int{}, false}} {
		h := testHost(DefaultCapabilities...)
		h.kernel = tt.kernel
		always, _ := allowed(defaultFor(h))
		if always["ptrace"] != tt.want || always["process_vm_readv"] != tt.want {
			t.Errorf("kernel %v: ptrace allowed %v, want %v", tt.kernel, always["ptrace"], tt.want)
		}
	}
	h := testHost("CAP_SYS_PTRACE")
	h.kernel = [2]int{4, 4}
	if always, _ := allowed(defaultFor(h)); !always["ptrace"] {
		t.Error("ptrace is not allowed with CAP_SYS_PTRACE on an old kernel")
	}
}

func TestParseKernel(t *testing.T) {
	for in, want := range map[string][2]int{
		"4.8": {4, 8}, "6.1.0-18-amd64": {6, 1}, "6.18.44-fc-v657": {6, 18}, "5.15": {5, 15}, "6.8-rc1": {6, 8},
	} {
		if got, err := parseKernel(in); err != nil || got != want {
			t.Errorf("parseKernel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "6", "x.1", "6.", "6.x"} {
		if _, err := parseKernel(in); err == nil {
			t.Errorf("parseKernel(%q) succeeded", in)
		}
	}
}

// A profile file in Docker's format resolves as Docker resolves it.
func TestParseSeccomp(t *testing.T) {
	const docker = `{
		"defaultAction": "SCMP_ACT_ERRNO",
		"defaultErrnoRet": 1,
		"archMap": [
			{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
			{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
		],
		"syscalls": [
			{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
			{"name": "getpid", "action": "SCMP_ACT_ALLOW", "comment": "old form"},
			{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
			{"names": ["future"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
			{"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
			{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
		]
	}`
	s, err := ParseSeccomp([]byte(docker), DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	if s.DefaultAction != specs.ActErrno || *s.DefaultErrnoRet != 1 {
		t.Errorf("default %s %v", s.DefaultAction, s.DefaultErrnoRet)
	}
	always, someArgs := allowed(s)
	for n, want := range map[string]bool{"read": true, "getpid": true, "mount": false, "future": false, "personality": false} {
		if always[n] != want {
			t.Errorf("%s allowed outright = %v, want %v", n, always[n], want)
		}
	}
	if !someArgs["personality"] || len(ruleFor(s, "clone3")) != 1 {
		t.Errorf("rules: %+v", s.Syscalls)
	}
	if hostKernel()[0] >= 5 && !always["ptrace"] {
		t.Error("ptrace with minKernel 4.8 is left out on a newer kernel")
	}
	// The same file, resolved directly for other hosts.
	var p profile
	if err := json.Unmarshal([]byte(docker), &p); err != nil {
		t.Fatal(err)
	}
	admin := resolve(p, host{caps: []string{"CAP_SYS_ADMIN"}, goarch: "arm64", kernel: [2]int{6, 1}})
	adminAlways, _ := allowed(admin)
	if !adminAlways["mount"] || !adminAlways["set_tls"] || len(ruleFor(admin, "clone3")) != 0 {
		t.Errorf("with CAP_SYS_ADMIN on arm64: %+v", admin.Syscalls)
	}
	if want := []specs.Arch{specs.ArchAARCH64, specs.ArchARM}; !slices.Equal(admin.Architectures, want) {
		t.Errorf("arm64 architectures %v, want %v", admin.Architectures, want)
	}

	// A plain OCI section is a profile too, and comes back as it was.
	oci := `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
		"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}`
	s, err = ParseSeccomp([]byte(oci), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.DefaultAction != specs.ActAllow || !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64}) ||
		len(s.Flags) != 1 || len(s.Syscalls) != 1 || *s.Syscalls[0].ErrnoRet != 38 {
		t.Errorf("OCI section: %+v", s)
	}
}

func TestParseSeccompErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":       `{`,
		"no default":     `{"syscalls": []}`,
		"both arch keys": `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`,
		"name and names": `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]}`,
		"bad minKernel":  `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "new"}}]}`,
	} {
		if _, err := ParseSeccomp([]byte(in), nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestForContainerSecurity(t *testing.T) {
	s := ForContainer(Options{Args: []string{"sh"}})
	if s.Linux.Seccomp == nil || len(s.Linux.Seccomp.Syscalls) == 0 {
		t.Fatal("no seccomp profile by default")
	}
	if always, _ := allowed(s.Linux.Seccomp); !always["chroot"] || always["mount"] {
		t.Error("the profile does not follow the default capabilities")
	}
	if p := s.Linux.Resources.Pids; p == nil || p.Limit == nil || *p.Limit != DefaultPidsLimit {
		t.Errorf("pids %+v, want the default limit", p)
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/interrupts") || !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") {
		t.Errorf("masked paths %v", s.Linux.MaskedPaths)
	}
	if !s.Process.NoNewPrivileges {
		t.Error("no_new_privs is off")
	}

	if s := ForContainer(Options{SeccompUnconfined: true, Seccomp: DefaultSeccomp()}); s.Linux.Seccomp != nil {
		t.Error("unconfined: the container has a seccomp profile")
	}
	own := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	if s := ForContainer(Options{Seccomp: own}); s.Linux.Seccomp != own {
		t.Error("the profile given is not used")
	}

	unlimited, ten := int64(-1), int64(10)
	for _, limit := range []*int64{&unlimited, &ten} {
		res := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: limit}}
		s := ForContainer(Options{Resources: res})
		if got := *s.Linux.Resources.Pids.Limit; got != *limit {
			t.Errorf("pids limit %d given, %d set", *limit, got)
		}
		if len(res.Devices) != 0 {
			t.Error("ForContainer changed the caller's resources")
		}
		if len(s.Linux.Resources.Devices) == 0 || s.Linux.Resources.Devices[0].Allow {
			t.Errorf("device rules %+v, want deny-all first", s.Linux.Resources.Devices)
		}
	}
	mem := int64(64 << 20)
	s = ForContainer(Options{Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}}})
	if s.Linux.Resources.Pids == nil || *s.Linux.Resources.Pids.Limit != DefaultPidsLimit || *s.Linux.Resources.Memory.Limit != mem {
		t.Errorf("resources %+v", s.Linux.Resources)
	}
}
