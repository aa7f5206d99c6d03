package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"berth/internal/engine"
)

// parseRunFlags parses args as run's flags.
func parseRunFlags(t *testing.T, args ...string) *runFlags {
	t.Helper()
	var f runFlags
	cmd := &cobra.Command{Use: "run"}
	f.add(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestHostOptionFlags(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(profile, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := parseRunFlags(t, "--privileged", "--init", "--cap-add", "net_admin", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges=false", "--security-opt", "seccomp:"+profile, "--security-opt", "label=disable",
		"--device", "/dev/fuse", "--device", "/dev/sda:/dev/xvdc:r", "--device-cgroup-rule", "c 1:3 rwm",
		"--ulimit", "nofile=10:20", "--ulimit", "nproc=5", "--ulimit", "nofile=30",
		"--tmpfs", "/scratch:size=1m", "--tmpfs", "/run/", "--add-host", "db:10.0.0.1", "--add-host", "v6=[::1]",
		"--cidfile", "/tmp/cid")
	h, err := f.hostOptions()
	if err != nil {
		t.Fatal(err)
	}
	want := engine.HostOptions{
		Privileged: true, Init: true, CapAdd: []string{"CAP_NET_ADMIN"}, CapDrop: []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges=false", `seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`, "label=disable"},
		Devices: []engine.DeviceMapping{{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"},
			{PathOnHost: "/dev/sda", PathInContainer: "/dev/xvdc", CgroupPermissions: "r"}},
		DeviceCgroupRules: []string{"c 1:3 rwm"},
		Ulimits:           []engine.Ulimit{{Name: "nproc", Soft: 5, Hard: 5}, {Name: "nofile", Soft: 30, Hard: 30}},
		Tmpfs:             map[string]string{"/scratch": "size=1m", "/run": ""},
		ExtraHosts:        []string{"db:10.0.0.1", "v6:::1"},
		ContainerIDFile:   "/tmp/cid",
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("host options\n%+v\nwant\n%+v", h, want)
	}
}

func TestHostOptionFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--cap-add", "fly"}, "--cap-add"},
		{[]string{"--cap-drop", "CAP_"}, "--cap-drop"},
		{[]string{"--security-opt", "seccomp=/no/such/profile.json"}, "--security-opt"},
		{[]string{"--security-opt", "seccomp=" + os.Args[0]}, "--security-opt"}, // not JSON
		{[]string{"--device", "sda"}, "--device"},
		{[]string{"--device", "/dev/sda:/dev/x:rwq"}, "--device"},
		{[]string{"--device-cgroup-rule", "c 1:3"}, "--device-cgroup-rule"},
		{[]string{"--ulimit", "nofile=2:1"}, "--ulimit"},
		{[]string{"--ulimit", "speed=1"}, "--ulimit"},
		{[]string{"--tmpfs", "scratch"}, "--tmpfs"},
		{[]string{"--tmpfs", "/scratch:size=big"}, "--tmpfs"},
		{[]string{"--add-host", "db"}, "--add-host"},
		{[]string{"--add-host", "db:10.0.0.300"}, "--add-host"},
	} {
		_, err := parseRunFlags(t, c.args...).hostOptions()
		if err == nil || !strings.HasPrefix(err.Error(), c.flag) {
			t.Errorf("%q: %v, want an error naming %s", c.args, err, c.flag)
		}
	}
}

// An existing --cidfile stops the create before anything is made; the
// engine is never reached.
func TestCIDFileExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cid")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := parseRunFlags(t, "--cidfile", path)
	_, err := f.create(nil, engine.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "--cidfile: container ID file found") {
		t.Errorf("existing cidfile: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("the existing cidfile was changed: %q", b)
	}
}
