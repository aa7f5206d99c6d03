package engine

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/errdefs"
	"berth/internal/spec"
)

// wantFlagError checks that err is an invalid-argument error that names
// flag.
func wantFlagError(t *testing.T, what string, err error, flag string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	if !strings.HasPrefix(err.Error(), flag+" ") && !strings.HasPrefix(err.Error(), flag+":") {
		t.Errorf("%s: %q does not begin with %s", what, err, flag)
	}
	if !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("%s: %v is not classified invalid or unsupported", what, err)
	}
}

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]DeviceMapping{
		"/dev/fuse":                  {"/dev/fuse", "/dev/fuse", "rwm"},
		"/dev/sda:/dev/xvdc":         {"/dev/sda", "/dev/xvdc", "rwm"},
		"/dev/sda:r":                 {"/dev/sda", "/dev/sda", "r"},
		"/dev/sda:/dev/xvdc:rw":      {"/dev/sda", "/dev/xvdc", "rw"},
		"/dev/snd:/dev/sound/../snd": {"/dev/snd", "/dev/snd", "rwm"},
	} {
		got, err := ParseDevice(in)
		if err != nil || got != want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "dev/sda", "/dev/sda:/mnt/sda", "/dev/sda:/dev/x:rwx", "/dev/sda:/dev/x:rr",
		"/dev/sda:/dev/x:r:w", "/dev/sda:/dev/x:"} {
		_, err := ParseDevice(in)
		wantFlagError(t, "--device "+in, err, "--device")
	}
}

func TestParseDeviceCgroupRule(t *testing.T) {
	i := func(n int64) *int64 { return &n }
	for in, want := range map[string]specs.LinuxDeviceCgroup{
		"c 1:3 rwm": {Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},
		"b 8:* r":   {Allow: true, Type: "b", Major: i(8), Access: "r"},
		"a *:* m":   {Allow: true, Type: "a", Access: "m"},
	} {
		got, err := ParseDeviceCgroupRule(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseDeviceCgroupRule(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "c 1:3", "x 1:3 rwm", "c 1 rwm", "c 1:3 rwx", "c 1:3 rr", "c  1:3 rwm", "c -1:3 r"} {
		_, err := ParseDeviceCgroupRule(in)
		wantFlagError(t, "--device-cgroup-rule "+in, err, "--device-cgroup-rule")
	}
}

func TestParseUlimit(t *testing.T) {
	for in, want := range map[string]Ulimit{
		"nofile=100:200": {Name: "nofile", Soft: 100, Hard: 200},
		"nproc=50":       {Name: "nproc", Soft: 50, Hard: 50},
		"core=-1":        {Name: "core", Soft: -1, Hard: -1},
		"memlock=64:-1":  {Name: "memlock", Soft: 64, Hard: -1},
	} {
		got, err := ParseUlimit(in)
		if err != nil || got != want {
			t.Errorf("ParseUlimit(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"nofile", "files=1", "nofile=x", "nofile=200:100", "nofile=1:2:3", "as=1"} {
		_, err := ParseUlimit(in)
		wantFlagError(t, "--ulimit "+in, err, "--ulimit")
	}
	if r := (Ulimit{Name: "core", Soft: -1, Hard: -1}).rlimit(); r.Type != "RLIMIT_CORE" || r.Soft != ^uint64(0) || r.Hard != ^uint64(0) {
		t.Errorf("core=-1 is %+v, want RLIMIT_CORE unlimited", r)
	}
}

func TestParseTmpfs(t *testing.T) {
	for in, want := range map[string][2]string{
		"/scratch":                             {"/scratch", ""},
		"/scratch/:size=64m,mode=1777":         {"/scratch", "size=64m,mode=1777"},
		"/run:exec,uid=1000,gid=1000,size=50%": {"/run", "exec,uid=1000,gid=1000,size=50%"},
		"/t:ro,nr_inodes=1k,noswap":            {"/t", "ro,nr_inodes=1k,noswap"},
	} {
		dest, opts, err := ParseTmpfs(in)
		if err != nil || dest != want[0] || opts != want[1] {
			t.Errorf("ParseTmpfs(%q) = %q, %q, %v; want %q", in, dest, opts, err, want)
		}
	}
	for _, in := range []string{"scratch", "/", "/a/..", "/x:size=big", "/x:mode=9", "/x:uid=me", "/x:bind", "/x:foo=1", "/x:tmpcopyup"} {
		_, _, err := ParseTmpfs(in)
		wantFlagError(t, "--tmpfs "+in, err, "--tmpfs")
	}
	h := HostOptions{Tmpfs: map[string]string{"/b/c": "exec", "/b": "", "/a": "size=1m"}}
	var got []string
	for _, m := range h.tmpfsMounts() {
		got = append(got, m.Destination+" "+strings.Join(m.Options, ","))
	}
	want := []string{"/a noexec,nosuid,nodev,size=1m", "/b noexec,nosuid,nodev", "/b/c noexec,nosuid,nodev,exec"}
	if !slices.Equal(got, want) {
		t.Errorf("tmpfs mounts %q, want %q", got, want)
	}
}

func TestParseAddHost(t *testing.T) {
	for in, want := range map[string]string{
		"db:10.0.0.2":        "db:10.0.0.2",
		"db=10.0.0.2":        "db:10.0.0.2",
		"v6:2001:db8::1":     "v6:2001:db8::1",
		"v6=[2001:db8::1]":   "v6:2001:db8::1",
		"my.host:127.0.0.53": "my.host:127.0.0.53",
	} {
		got, err := ParseAddHost(in)
		if err != nil || got != want {
			t.Errorf("ParseAddHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"db", ":10.0.0.2", "db:", "db:300.1.1.1", "db:name", "a b:10.0.0.1", "a\nb:10.0.0.1"} {
		_, err := ParseAddHost(in)
		wantFlagError(t, "--add-host "+in, err, "--add-host")
	}
	if got, err := ParseAddHost("gw:host-gateway"); err != nil || got != "gw:host-gateway" {
		t.Errorf("ParseAddHost(gw:host-gateway) = %q, %v; want it kept for the start", got, err)
	}
	if got := hostsLines([]string{"db:10.0.0.2", "v6:2001:db8::1", "gw:host-gateway"}, "10.9.0.1"); got != "10.0.0.2\tdb\n2001:db8::1\tv6\n10.9.0.1\tgw\n" {
		t.Errorf("hosts lines %q", got)
	}
}

func TestNormalizeCapabilities(t *testing.T) {
	got, err := NormalizeCapabilities("cap-add", []string{"net_admin", "CAP_SYS_TIME", "Chown", "all"})
	if want := []string{"CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_CHOWN", "ALL"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	_, err = NormalizeCapabilities("cap-drop", []string{"CHOWN", "FLY"})
	wantFlagError(t, "--cap-drop FLY", err, "--cap-drop")
}

func TestParseSecurityOpts(t *testing.T) {
	none, both := hostLSMs{}, hostLSMs{apparmor: true, selinux: true}
	for _, c := range []struct {
		opts     []string
		lsm      hostLSMs
		want     security
		warnings int
	}{
		{[]string{"no-new-privileges"}, none, security{}, 0},
		{[]string{"no-new-privileges=false"}, none, security{newPrivileges: true}, 0},
		{[]string{"no-new-privileges:false", "no-new-privileges=true"}, none, security{}, 0},
		{[]string{"seccomp=unconfined"}, none, security{seccomp: "unconfined"}, 0},
		{[]string{"seccomp=unconfined", "seccomp=builtin"}, none, security{}, 0},
		{[]string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}, none, security{seccomp: `{"defaultAction":"SCMP_ACT_ALLOW"}`}, 0},
		{[]string{"apparmor=docker-default", "label=type:container_t", "label=level:s0:c1,c2"}, none, security{}, 3},
		{[]string{"apparmor=unconfined", "label=disable"}, both, security{}, 0},
	} {
		got, warnings, err := parseSecurityOpts(c.opts, c.lsm)
		if err != nil || got != c.want || len(warnings) != c.warnings {
			t.Errorf("%q on %+v: %+v, warnings %q, %v", c.opts, c.lsm, got, warnings, err)
		}
		for _, w := range warnings {
			if !strings.HasPrefix(w, "--security-opt ") || !strings.Contains(w, "ignored, since this host has no") {
				t.Errorf("warning %q", w)
			}
		}
	}
	for _, c := range []struct {
		opt  string
		lsm  hostLSMs
		want string
	}{
		{"no-new-privileges=maybe", none, "want no-new-privileges"},
		{"seccomp=/etc/profile.json", none, "read when the container is created"},
		{"seccomp=", none, "want seccomp=unconfined"},
		{"apparmor=", none, "want apparmor=PROFILE"},
		{"label=bogus", none, "want label=user:USER"},
		{"label=user:", none, "want label=user:USER"},
		{"systempaths=unconfined", none, "want no-new-privileges[=true|false]"},
		{"nonsense", none, "want no-new-privileges[=true|false]"},
		{"apparmor=docker-default", both, "this host runs AppArmor, and berth cannot apply AppArmor profiles yet (not implemented)"},
		{"label=type:container_t", both, "this host runs SELinux, and berth cannot label containers yet (not implemented)"},
	} {
		_, _, err := parseSecurityOpts([]string{c.opt}, c.lsm)
		wantFlagError(t, "--security-opt "+c.opt, err, "--security-opt")
		if err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("--security-opt %s: %q, want it to say %q", c.opt, err, c.want)
		}
	}
}

func TestCheckHostOptions(t *testing.T) {
	e := &Engine{InitPath: filepath.Join(t.TempDir(), "no-init")}
	for _, c := range []struct {
		h    HostOptions
		flag string
	}{
		{HostOptions{CapAdd: []string{"FLY"}}, "--cap-add"},
		{HostOptions{CapDrop: []string{"FLY"}}, "--cap-drop"},
		{HostOptions{SecurityOpt: []string{"seccomp={not json"}}, "--security-opt"},
		{HostOptions{SecurityOpt: []string{`seccomp={"syscalls":[]}`}}, "--security-opt"},
		{HostOptions{Devices: []DeviceMapping{{"/dev/no-such-device", "/dev/x", "rwm"}}}, "--device"},
		{HostOptions{Devices: []DeviceMapping{{"/etc/hostname", "/dev/x", "rwm"}}}, "--device"},
		{HostOptions{Devices: []DeviceMapping{{"/dev/null", "/dev/x", "rwx"}}}, "--device"},
		{HostOptions{DeviceCgroupRules: []string{"c 1:3"}}, "--device-cgroup-rule"},
		{HostOptions{Ulimits: []Ulimit{{Name: "nofile", Soft: 2, Hard: 1}}}, "--ulimit"},
		{HostOptions{Tmpfs: map[string]string{"rel": ""}}, "--tmpfs"},
		{HostOptions{ExtraHosts: []string{"db:nowhere"}}, "--add-host"},
		{HostOptions{Init: true}, "--init"},
	} {
		_, err := e.CheckHostOptions(&c.h)
		wantFlagError(t, c.flag, err, c.flag)
	}
	good := HostOptions{CapAdd: []string{"NET_ADMIN"}, Devices: []DeviceMapping{{"/dev/null", "/dev/mynull", "rw"}},
		SecurityOpt: []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}, Ulimits: []Ulimit{{Name: "nofile", Soft: 1, Hard: 2}},
		Tmpfs: map[string]string{"/t": "size=1m"}, ExtraHosts: []string{"db:10.0.0.1"}}
	if _, err := e.CheckHostOptions(&good); err != nil {
		t.Errorf("good options: %v", err)
	}
}

func TestApplyHostOptions(t *testing.T) {
	initBin := filepath.Join(t.TempDir(), "berth-init")
	if err := os.WriteFile(initBin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Engine{InitPath: initBin}
	dir := t.TempDir()
	h := HostOptions{
		CapDrop: []string{"ALL"}, CapAdd: []string{"CHOWN", "sys_admin"},
		SecurityOpt:       []string{"no-new-privileges=false"},
		Devices:           []DeviceMapping{{"/dev/null", "/dev/mynull", "r"}},
		DeviceCgroupRules: []string{"c 10:237 rw"},
		Ulimits:           []Ulimit{{Name: "nofile", Soft: 100, Hard: 200}, {Name: "nproc", Soft: 10, Hard: 10}},
		Tmpfs:             map[string]string{"/scratch": "size=1m"},
		Init:              true,
	}
	opts := spec.Options{Args: []string{"sh"}}
	if err := e.applyHostOptions(dir, &h, &opts); err != nil {
		t.Fatal(err)
	}
	s := spec.ForContainer(opts)
	p := s.Process
	if want := []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}; !slices.Equal(p.Capabilities.Bounding, want) || !slices.Equal(p.Capabilities.Effective, want) {
		t.Errorf("capabilities %+v, want %q", p.Capabilities, want)
	}
	if p.NoNewPrivileges {
		t.Error("no_new_privs is on despite no-new-privileges=false")
	}
	// The profile follows the capabilities: CAP_SYS_ADMIN allows mount.
	if s.Linux.Seccomp == nil || !slices.ContainsFunc(s.Linux.Seccomp.Syscalls, func(r specs.LinuxSyscall) bool { return slices.Contains(r.Names, "mount") }) {
		t.Error("the seccomp profile does not allow mount with CAP_SYS_ADMIN")
	}
	if want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_NPROC", Soft: 10, Hard: 10}}; !reflect.DeepEqual(p.Rlimits, want) {
		t.Errorf("rlimits %+v, want %+v", p.Rlimits, want)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/mynull" || s.Linux.Devices[0].Major != 1 || s.Linux.Devices[0].Minor != 3 {
		t.Errorf("devices %+v", s.Linux.Devices)
	}
	var rules []string
	for _, r := range s.Linux.Resources.Devices {
		rules = append(rules, deviceRuleString(r))
	}
	if want := []string{"deny a *:* rwm", "allow c 1:3 r", "allow c 10:237 rw"}; !slices.Equal(rules, want) {
		t.Errorf("device rules %q, want %q", rules, want)
	}
	if want := []string{"/sbin/berth-init", "--", "sh"}; !slices.Equal(p.Args, want) {
		t.Errorf("args %q, want %q", p.Args, want)
	}
	var mounts []string
	for _, m := range s.Mounts[len(s.Mounts)-2:] {
		mounts = append(mounts, m.Destination+" "+m.Source+" "+strings.Join(m.Options, ","))
	}
	if want := []string{"/scratch tmpfs noexec,nosuid,nodev,size=1m", "/sbin/berth-init " + filepath.Join(dir, "init") + " bind,ro,nosuid,nodev"}; !slices.Equal(mounts, want) {
		t.Errorf("mounts %q, want %q", mounts, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "init")); err != nil || string(b) != "#!/bin/sh\n" {
		t.Errorf("the init's copy: %q, %v", b, err)
	}

	// seccomp=unconfined and --privileged leave the filter off; a
	// profile's JSON is the filter.
	for _, c := range []struct {
		h        HostOptions
		filtered bool
	}{
		{HostOptions{SecurityOpt: []string{"seccomp=unconfined"}}, false},
		{HostOptions{Privileged: true}, false},
		{HostOptions{SecurityOpt: []string{`seccomp={"defaultAction":"SCMP_ACT_LOG"}`}}, true},
	} {
		opts := spec.Options{Args: []string{"sh"}}
		if err := e.applyHostOptions(dir, &c.h, &opts); err != nil {
			t.Fatal(err)
		}
		s := spec.ForContainer(opts)
		if (s.Linux.Seccomp != nil) != c.filtered || (c.filtered && s.Linux.Seccomp.DefaultAction != specs.ActLog) {
			t.Errorf("%+v: seccomp %+v", c.h, s.Linux.Seccomp)
		}
	}
}

// deviceRuleString writes r as devices.allow and devices.deny read it,
// with the verb in front.
func deviceRuleString(r specs.LinuxDeviceCgroup) string {
	num := func(n *int64) string {
		if n == nil {
			return "*"
		}
		return strconv.FormatInt(*n, 10)
	}
	verb := "deny"
	if r.Allow {
		verb = "allow"
	}
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	return verb + " " + typ + " " + num(r.Major) + ":" + num(r.Minor) + " " + r.Access
}
