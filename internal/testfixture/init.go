package testfixture

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildInit compiles cmd/berth-init, the static init that --init runs
// as a container's PID 1, into a temp dir of the test's, as make build
// does, and returns its path. It skips the test when the host cannot
// build it: a C compiler and a static libc are needed.
func BuildInit(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "berth-init")
	cmd := exec.Command("cc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-o", bin, "cmd/berth-init/init.c")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("needs a static C build of cmd/berth-init (cc and libc.a): %v\n%s", err, out)
	}
	return bin
}
