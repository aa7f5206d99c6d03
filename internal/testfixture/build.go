package testfixture

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var built struct {
	sync.Mutex
	dir  string // temp dir holding berth and berth-runc
	path string
	err  error
	done bool
}

// Berth builds berth from ./cmd/berth of the module that the tests run in,
// and berth-runc from ./cmd/berth-runc beside it, into a fresh temp dir,
// and returns berth's path. The first call builds; later calls in the same test
// binary return the same result. It suits TestMain, where there is no
// testing.TB; such a TestMain calls RemoveBerth after m.Run.
func Berth() (string, error) {
	built.Lock()
	defer built.Unlock()
	if !built.done {
		built.path, built.err = buildBerth()
		built.done = true
	}
	return built.path, built.err
}

// BuildBerth is Berth for a test: it fails the test when berth does not
// build. The binary is shared by every test in the package; see Berth.
func BuildBerth(t testing.TB) string {
	t.Helper()
	p, err := Berth()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// RemoveBerth deletes what Berth built. Call it from TestMain after m.Run;
// a later Berth builds again.
func RemoveBerth() {
	built.Lock()
	defer built.Unlock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	built.dir, built.path, built.err, built.done = "", "", nil, false
}

func buildBerth() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "berth-test-bin-")
	if err != nil {
		return "", err
	}
	built.dir = dir
	for _, name := range []string{"berth", "berth-runc"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s: go build ./cmd/%s in %s: %v\n%s", name, name, root, err, out)
		}
	}
	return filepath.Join(dir, "berth"), nil
}

// ModuleRoot returns the directory of the go.mod that `go env GOMOD`
// names from the current directory, which in a test is the package's.
func ModuleRoot() (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", "env", "GOMOD")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}
