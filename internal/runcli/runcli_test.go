package runcli

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"berth/internal/spec"
)

func TestParseSignal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want unix.Signal
		ok   bool
	}{
		{"9", unix.SIGKILL, true}, {"KILL", unix.SIGKILL, true}, {"SIGTERM", unix.SIGTERM, true},
		{"term", unix.SIGTERM, true}, {"0", 0, false}, {"65", 0, false}, {"NOPE", 0, false}, {"", 0, false},
	} {
		got, err := ParseSignal(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true}, {"6m", 6 << 20, true}, {"6M", 6 << 20, true}, {"1g", 1 << 30, true},
		{"1.5k", 1536, true}, {"64mb", 64 << 20, true}, {"-1", -1, true},
		{"", 0, false}, {"b", 0, false}, {"x", 0, false}, {"-5", 0, false}, {"5q", 0, false},
	} {
		got, err := ParseBytes(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestExecProcessFromFlags(t *testing.T) {
	s := spec.Default(false, 0, 0)
	own := func() (*specs.Process, error) { return s.Process, nil }
	x := execFlags{cwd: "/tmp", user: "1000:100", env: []string{"A=b"}, additionalGids: []string{"7"},
		tty: true, caps: []string{"CAP_SYS_ADMIN"}, noNewPrivs: true}
	p, err := x.process(own, []string{"ls", "-l"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Args, " ") != "ls -l" || p.Cwd != "/tmp" || p.User.UID != 1000 || p.User.GID != 100 ||
		len(p.User.AdditionalGids) != 1 || !p.Terminal || !p.NoNewPrivileges {
		t.Errorf("process from flags: %+v", p)
	}
	if p.Env[len(p.Env)-1] != "A=b" {
		t.Errorf("env %v does not end with the flag's variable", p.Env)
	}
	if last := p.Capabilities.Effective[len(p.Capabilities.Effective)-1]; last != "CAP_SYS_ADMIN" {
		t.Errorf("--cap not added: %v", p.Capabilities.Effective)
	}
	// The container's own process is not changed by building an exec one.
	if s.Process.Cwd != "/" || len(s.Process.Capabilities.Effective) != len(spec.DefaultCapabilities) {
		t.Errorf("exec flags changed the container's process: %+v", s.Process)
	}
	for _, bad := range []execFlags{{user: "root"}, {user: "1:x"}, {additionalGids: []string{"g"}}, {preserveFDs: 1}} {
		if _, err := bad.process(own, []string{"true"}); err == nil {
			t.Errorf("process(%+v) accepted bad flags", bad)
		}
	}
	s.Process.User.GID = 42
	if p, err := (&execFlags{user: "7"}).process(own, []string{"id"}); err != nil || p.User.UID != 7 || p.User.GID != 42 {
		t.Errorf("--user 7 gave %+v (%v); want uid 7 and the process's gid 42", p.User, err)
	}
	if _, err := (&execFlags{}).process(own, nil); err == nil {
		t.Error("exec without a command or --process was accepted")
	}
}

func TestUpdateFlags(t *testing.T) {
	var u updateFlags
	cmd := &cobra.Command{}
	u.register(cmd)
	if err := cmd.ParseFlags([]string{"--memory", "64m", "--cpu-quota", "50000", "--pids-limit", "10", "--cpuset-cpus", "0"}); err != nil {
		t.Fatal(err)
	}
	res, err := u.build(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if *res.Memory.Limit != 64<<20 || *res.CPU.Quota != 50000 || *res.Pids.Limit != 10 || res.CPU.Cpus != "0" {
		t.Errorf("update resources: %+v %+v %+v", res.Memory, res.CPU, res.Pids)
	}
	if res.BlockIO != nil || res.CPU.Shares != nil || res.Memory.Swap != nil {
		t.Errorf("update set fields that were not given: %+v", res)
	}
	for _, bad := range [][]string{{"--memory", "lots"}, {"--blkio-weight", "5"}, {"--l3-cache-schema", "L3:0=f"}} {
		var u updateFlags
		cmd := &cobra.Command{}
		u.register(cmd)
		if err := cmd.ParseFlags(bad); err != nil {
			t.Fatal(err)
		}
		if _, err := u.build(cmd); err == nil {
			t.Errorf("update %v was accepted", bad)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	if code := Main([]string{"berth-runc", "--root", dir, "state", "nope"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), `container "nope" does not exist`) {
		t.Errorf("state of a missing container: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"berth-runc", "--systemd-cgroup", "list"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "systemd cgroup driver is not supported") {
		t.Errorf("--systemd-cgroup: exit %d, %q", code, errb.String())
	}
	out.Reset()
	if code := Main([]string{"berth-runc", "--root", dir, "list", "--format", "json"}, &out, &errb); code != 0 || out.String() != "[]\n" {
		t.Errorf("list of nothing: exit %d, %q", code, out.String())
	}
}
