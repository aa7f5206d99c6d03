package seccomp

import (
	"bytes"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCompileCached(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"keyctl"}, Action: specs.ActErrno}},
	}
	dir := t.TempDir()
	p1, err := CompileCached(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Code) == 0 || len(p1.Code)%8 != 0 || p1.Flags == 0 {
		t.Fatalf("program of %d bytes, flags %#x", len(p1.Code), p1.Flags)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files in the cache, want 1", len(entries))
	}
	p2, err := CompileCached(s, dir)
	if err != nil || !bytes.Equal(p1.Code, p2.Code) || p1.Flags != p2.Flags {
		t.Errorf("the cached program differs: %v", err)
	}
	// A different profile is another entry.
	s.Syscalls[0].Names = []string{"add_key"}
	if _, err := CompileCached(s, dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d files in the cache, want 2", len(entries))
	}
	// Bad profiles are errors, as with Validate.
	if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}); err == nil {
		t.Error("an unknown action compiled")
	}
	// Notify rules are left to the init.
	n := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/x",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
	if p, err := Compile(n); p != nil || (err != nil && !bytes.Contains([]byte(err.Error()), []byte("notify"))) {
		t.Errorf("notify profile: %v, %v", p, err)
	}
}
