package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRootErrors(t *testing.T) { runScenario(t, "errors", nil) }

// scenarioErrors runs Prepare on small roots that must be refused, and
// checks the messages name the mount and the cause.
func scenarioErrors(c *checker, e env) {
	tests := []struct {
		name  string
		links map[string]string
		spec  specs.Spec
		want  string
	}{
		{
			name:  "symlink into /proc",
			links: map[string]string{"sneaky": "/proc"},
			spec: specs.Spec{Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/sneaky/sys", Type: "tmpfs", Source: "tmpfs"}}},
			want: "mount tmpfs on /sneaky/sys: destination resolves to /proc/sys, inside /proc",
		},
		{
			name: "not procfs on /proc",
			spec: specs.Spec{Mounts: []specs.Mount{{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"}}},
			want: "mount tmpfs on /proc: only procfs may be mounted on /proc",
		},
		{
			name: "over the root",
			spec: specs.Spec{Mounts: []specs.Mount{{Destination: "/", Type: "tmpfs", Source: "tmpfs"}}},
			want: "mount tmpfs on /: mounting over the root filesystem is not supported",
		},
		{
			name: "dir onto file",
			spec: specs.Spec{Mounts: []specs.Mount{{Destination: "/etc/passwd", Type: "bind", Source: e.src}}},
			want: "mount bind " + e.src + " on /etc/passwd: create mount point: not a directory",
		},
		{
			name: "missing source",
			spec: specs.Spec{Mounts: []specs.Mount{{Destination: "/x", Type: "bind", Source: e.src + "/missing"}}},
			want: "mount bind " + e.src + "/missing on /x: stat source: no such file or directory",
		},
		{
			name: "none without bind",
			spec: specs.Spec{Mounts: []specs.Mount{{Destination: "/x", Type: "none", Source: e.src}}},
			want: "mount none on /x: mount type \"none\" needs the bind or rbind option",
		},
		{
			name: "bad propagation",
			spec: specs.Spec{Linux: &specs.Linux{RootfsPropagation: "rfoo"}},
			want: "unknown rootfs propagation \"rfoo\"",
		},
		{
			name: "device outside /dev",
			spec: specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/etc/null", Type: "c", Major: 1, Minor: 3}}}},
			want: "device /etc/null: path must be under /dev",
		},
	}
	for i, tt := range tests {
		dir := filepath.Join(e.base, "err", string(rune('a'+i)))
		if !c.noErr(os.MkdirAll(dir+"/etc", 0o755), "mkdir") || !c.noErr(os.WriteFile(dir+"/etc/passwd", nil, 0o644), "write") {
			return
		}
		for name, target := range tt.links {
			c.noErr(os.Symlink(target, filepath.Join(dir, name)), "symlink")
		}
		err := Prepare(&tt.spec, dir, Options{})
		c.check(err != nil && strings.Contains(err.Error(), tt.want), "%s: error %q contains %q", tt.name, err, tt.want)
	}
}
