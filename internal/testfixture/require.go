package testfixture

import (
	"os"
	"testing"
)

// RootEnv is the variable that, set to "1", lets RequireRoot tests run.
// `make test-root` sets it.
const RootEnv = "BERTH_TEST_ROOT"

// RequireRoot skips the test unless it runs as root with BERTH_TEST_ROOT=1
// and without -short. Tests behind it mount, make namespaces and cgroups,
// and change the host; the variable keeps a root shell's plain `go test`
// from doing that by accident.
func RequireRoot(t testing.TB) {
	t.Helper()
	switch {
	case testing.Short():
		t.Skip("needs root: skipped in -short mode; run `make test-root`")
	case os.Geteuid() != 0:
		t.Skipf("needs root: running as uid %d; run `make test-root` as root", os.Geteuid())
	case os.Getenv(RootEnv) != "1":
		t.Skipf("needs root: %s=1 is not set; run `make test-root`", RootEnv)
	}
}

// RequireFeature skips the test when check returns an error, naming the
// feature and giving the error as the reason, as in
//
//	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
func RequireFeature(t testing.TB, name string, check func() error) {
	t.Helper()
	if err := check(); err != nil {
		t.Skipf("needs %s: %v", name, err)
	}
}
