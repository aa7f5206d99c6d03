package image

import (
	"os"
	"testing"

	"berth/internal/container"
	"berth/internal/testfixture"
)

func TestMain(m *testing.M) {
	// TestPulledImageRuns runs a container, whose init is this test
	// binary started again.
	if container.IsInit() {
		container.InitMain()
	}
	code := m.Run()
	testfixture.RemoveBerth()
	os.Exit(code)
}
