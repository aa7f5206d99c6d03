package spec_test

import (
	"os"
	"testing"

	"berth/internal/container"
	"berth/internal/testfixture"
)

func TestMain(m *testing.M) {
	// The root tests run containers, whose init is this test binary
	// started again.
	if container.IsInit() {
		container.InitMain()
	}
	code := m.Run()
	removeProbe()
	testfixture.RemoveBerth()
	os.Exit(code)
}
