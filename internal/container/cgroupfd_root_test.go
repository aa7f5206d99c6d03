package container

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/testfixture"
)

// TestInitBornInCgroup checks the cgroup v2 path of startInit: the init
// is cloned straight into its cgroup. Any cgroup2 hierarchy will do, so
// it runs on the hybrid one of a v1 host too.
func TestInitBornInCgroup(t *testing.T) {
	testfixture.RequireRoot(t)
	mount := "/sys/fs/cgroup"
	if !isCgroup2(mount) {
		mount = "/sys/fs/cgroup/unified"
		if !isCgroup2(mount) {
			t.Skip("needs a cgroup2 hierarchy")
		}
	}
	dir := filepath.Join(mount, "berth-test-born-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	r := &Runtime{Root: t.TempDir()}
	s := &specs.Spec{Linux: &specs.Linux{}, Process: &specs.Process{}}
	p, err := r.startInit(nil, s, "", CreateOptions{cgroupDir: f})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Kill(p.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(p.pid, &ws, 0, nil)
		p.sock.Close()
	}()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	want := "0::/" + filepath.Base(dir)
	if !strings.Contains(string(b), want+"\n") {
		t.Errorf("init's cgroups:\n%s\nwant %q", b, want)
	}
}

func isCgroup2(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
