package testfixture

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestBusyboxRootfs(t *testing.T) {
	RequireFeature(t, "busybox-static", HaveBusybox)
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := BusyboxRootfs(dir); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(filepath.Join(dir, "bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox: mode %v, want a regular file with 0755", fi.Mode())
	}

	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, "bin", a))
		if err != nil || target != "busybox" {
			t.Errorf("bin/%s: link to %q, %v; want a link to busybox", a, target, err)
		}
	}

	// The applet links work: busybox picks the applet from argv[0].
	got, err := exec.Command(filepath.Join(dir, "bin/echo"), "hello").Output()
	if err != nil || string(got) != "hello\n" {
		t.Errorf("bin/echo hello: %q, %v", got, err)
	}

	for _, d := range []string{"proc", "sys", "dev", "tmp", "etc", "root"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: not a directory: %v", d, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err == nil && fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp: mode %v, want the sticky bit", fi.Mode())
	}

	passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"root:x:0:0:", "app:x:1000:1000:", "nobody:x:65534:65534:"} {
		if !strings.Contains(string(passwd), want) {
			t.Errorf("etc/passwd lacks %q:\n%s", want, passwd)
		}
	}
	for _, f := range []string{"etc/group", "etc/hostname"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	// A second call over the same tree succeeds.
	if err := BusyboxRootfs(dir); err != nil {
		t.Errorf("second BusyboxRootfs: %v", err)
	}
}

func TestBundle(t *testing.T) {
	RequireFeature(t, "busybox-static", HaveBusybox)
	dir := t.TempDir()
	want, err := Bundle(dir, "echo", "hi")
	if err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got specs.Spec
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("config.json does not parse: %v", err)
	}
	if got.Process == nil || got.Root == nil || got.Linux == nil {
		t.Fatalf("config.json lacks process, root or linux:\n%s", data)
	}
	if strings.Join(got.Process.Args, " ") != "echo hi" {
		t.Errorf("args %q, want [echo hi]", got.Process.Args)
	}
	if got.Process.Terminal {
		t.Error("terminal is true, want false")
	}
	if got.Root.Path != "rootfs" || got.Root.Readonly {
		t.Errorf("root %+v, want rootfs, writable", *got.Root)
	}
	if got.Version != want.Version || got.Hostname != want.Hostname {
		t.Errorf("config.json differs from the returned spec")
	}
	if _, err := os.Stat(filepath.Join(dir, "rootfs/bin/sh")); err != nil {
		t.Error(err)
	}

	// No args: the default process stays.
	s, err := Bundle(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Process.Args, " ") != "sh" {
		t.Errorf("args %q with none given, want [sh]", s.Process.Args)
	}
}

func TestWriteSpec(t *testing.T) {
	dir := t.TempDir()
	s := &specs.Spec{Version: specs.Version, Hostname: "x"}
	if err := WriteSpec(dir, s); err != nil {
		t.Fatal(err)
	}
	s.Hostname = "y"
	if err := WriteSpec(dir, s); err != nil {
		t.Fatal(err)
	}
	var got specs.Spec
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &got); err != nil || got.Hostname != "y" {
		t.Errorf("config.json after rewrite: hostname %q, %v", got.Hostname, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only config.json", len(entries))
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal/testfixture")); err != nil {
		t.Errorf("module root %s does not hold internal/testfixture: %v", root, err)
	}
}

func TestRequireFeatureSkips(t *testing.T) {
	ran := false
	t.Run("missing", func(t *testing.T) {
		RequireFeature(t, "nothing", func() error { return os.ErrNotExist })
		ran = true
	})
	if ran {
		t.Error("RequireFeature did not skip on an error")
	}
	t.Run("present", func(t *testing.T) {
		RequireFeature(t, "something", func() error { return nil })
		ran = true
	})
	if !ran {
		t.Error("RequireFeature skipped without an error")
	}
}

func TestRequireRoot(t *testing.T) {
	want := !testing.Short() && os.Geteuid() == 0 && os.Getenv(RootEnv) == "1"
	ran := false
	t.Run("gate", func(t *testing.T) {
		RequireRoot(t)
		ran = true
	})
	if ran != want {
		t.Errorf("RequireRoot let the test run: %v, want %v", ran, want)
	}
}

// TestBuildBerth builds the real binary, which takes a while on a cold
// build cache; it is left out of -short runs.
func TestBuildBerth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ./cmd/berth: skipped in -short mode")
	}
	p := BuildBerth(t)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable: %v", p, fi.Mode())
	}
	if fi, err := os.Stat(filepath.Join(filepath.Dir(p), "berth-runc")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("berth-runc beside berth: %v, %v; want an executable", fi, err)
	}
	if again := BuildBerth(t); again != p {
		t.Errorf("second BuildBerth built again: %s, first %s", again, p)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBerth()
	os.Exit(code)
}

// TestBundleRuns runs a Bundle under runc, the reference runtime, to check
// that the fixture itself is a bundle a runtime accepts, and that what the
// container writes can be read from the host.
func TestBundleRuns(t *testing.T) {
	RequireRoot(t)
	RequireFeature(t, "busybox-static", HaveBusybox)
	runc, err := exec.LookPath("runc")
	RequireFeature(t, "runc", func() error { return err })

	dir := t.TempDir()
	if _, err := Bundle(dir, "sh", "-c", "hostname >/root/out; echo done"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runc, "--root", t.TempDir(), "run", "--bundle", dir, "testfixture-bundle")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "done\n" {
		t.Fatalf("runc run: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "rootfs/root/out"))
	if err != nil || string(got) != "berth\n" {
		t.Errorf("rootfs/root/out: %q, %v; want the container's hostname, berth", got, err)
	}
}
