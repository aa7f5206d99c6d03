package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// The lean build (bin/berth) must not link compose-go: its schema library
// alone adds about 10 ms of start-up to every berth process. Compose
// lives in berth-compose (docs/DESIGN.md, "Two builds of one binary").
func TestLeanBuildLeavesComposeOut(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lean", "-deps", "berth/cmd/berth").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "compose-go") || pkg == "berth/internal/compose" || strings.Contains(pkg, "jsonschema") {
			t.Errorf("the lean build links %s", pkg)
		}
	}
}
