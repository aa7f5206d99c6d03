package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVolumeCLI(t *testing.T) {
	c := newCLI(t)
	if out := c.run("volume", "create", "--label", "team=db", "data"); out != "data\n" {
		t.Errorf("create: %q", out)
	}
	c.run("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "tv")
	site := t.TempDir()
	c.run("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+site, "site")
	if out := c.run("volume", "ls"); out != "DRIVER    VOLUME NAME\nlocal     data\nlocal     site\nlocal     tv\n" {
		t.Errorf("ls:\n%s", out)
	}
	if out := c.run("volume", "ls", "-q", "--filter", "label=team=db"); out != "data\n" {
		t.Errorf("ls --filter label: %q", out)
	}
	mp := filepath.Join(c.root, "volumes", "data", "_data")
	if out := c.run("volume", "inspect", "--format", "{{.Mountpoint}} {{.Labels.team}} {{.Scope}}", "data"); out != mp+" db local\n" {
		t.Errorf("inspect: %q", out)
	}
	if out, err := c.runErr(nil, "volume", "create", "-o", "colour=red", "bad"); err == nil || !strings.Contains(out, `invalid option key: "colour"`) {
		t.Errorf("create -o colour: %v %q", err, out)
	}

	// Two containers use the volume at once: each sees what the other
	// writes while both run.
	c.run("run", "-d", "--name", "first", "-v", "data:/s", "busybox:test", "sh", "-c",
		"echo a > /s/a; while [ ! -f /s/b ]; do sleep 0.1; done; echo c > /s/c; sleep 60")
	out := c.run("run", "--rm", "-v", "data:/s", "busybox:test", "sh", "-c",
		"while [ ! -f /s/a ]; do sleep 0.1; done; touch /s/b; i=0; while [ ! -f /s/c ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat /s/c")
	if out != "c\n" {
		t.Errorf("second container read %q, want the first one's answer", out)
	}
	if out, err := c.runErr(nil, "volume", "rm", "data"); err == nil || !strings.Contains(out, "volume is in use") {
		t.Errorf("rm of a volume in use: %v %q", err, out)
	}
	// A volume made with -o type=tmpfs is a tmpfs.
	if out := c.run("run", "--rm", "-v", "tv:/t", "busybox:test", "sh", "-c", "grep ' /t ' /proc/mounts"); !strings.HasPrefix(out, "tmpfs /t tmpfs") {
		t.Errorf("tmpfs volume: %q", out)
	}
	// A volume made with -o o=bind is the host directory.
	c.run("run", "--rm", "-v", "site:/w", "busybox:test", "sh", "-c", "echo page > /w/index")
	if b, err := os.ReadFile(filepath.Join(site, "index")); err != nil || string(b) != "page\n" {
		t.Errorf("bind-backed volume: the host directory holds %q, %v", b, err)
	}
	// run --rm takes its anonymous volumes with it.
	c.run("run", "--rm", "-v", "/anon", "busybox:test", "true")
	if out := c.run("volume", "ls", "-q"); out != "data\nsite\ntv\n" {
		t.Errorf("after run --rm -v /anon: %q", out)
	}
	// :z is accepted, and said once.
	out, err := c.runErr(nil, "run", "--rm", "-v", "data:/s:z", "-v", "tv:/t:Z", "busybox:test", "cat", "/s/a")
	if err != nil || out != "a\n" {
		t.Errorf(":z: %v %q", err, out)
	}
	if out, err := c.runErr(nil, "run", "--rm", "-v", "x:/c", "busybox:test", "true"); err == nil || !strings.Contains(out, "volume name is too short") {
		t.Errorf("bad volume name: %v %q", err, out)
	}
	if out, err := c.runErr(nil, "run", "--rm", "-v", "data:/s", "--mount", "type=volume,src=tv,dst=/s", "busybox:test", "true"); err == nil || !strings.Contains(out, "Duplicate mount point: /s") {
		t.Errorf("two mounts on one path: %v %q", err, out)
	}
	if out := c.run("inspect", "--format", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{end}}", "first"); out != "volume data /s true\n" {
		t.Errorf("inspect Mounts: %q", out)
	}
	if out := c.run("inspect", "--format", "{{json .HostConfig.Binds}}", "first"); out != "[\"data:/s\"]\n" {
		t.Errorf("inspect HostConfig.Binds: %q", out)
	}
	if out := c.run("system", "df"); !strings.Contains(out, "Local Volumes") {
		t.Errorf("df:\n%s", out)
	}
	if out := c.run("system", "df", "-v"); !strings.Contains(out, "Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\ndata          1") {
		t.Errorf("df -v:\n%s", out)
	}

	// A removed volume waits in the trash; restore brings it back.
	c.run("rm", "-f", "first")
	if out := c.run("volume", "rm", "data"); out != "data\n" {
		t.Errorf("rm: %q", out)
	}
	if out := c.run("volume", "restore", "--list"); !strings.Contains(out, "data") {
		t.Errorf("restore --list: %q", out)
	}
	c.run("volume", "restore", "data")
	if b, err := os.ReadFile(filepath.Join(mp, "a")); err != nil || string(b) != "a\n" {
		t.Errorf("restored data: %q %v", b, err)
	}
	// prune takes anonymous volumes only; -a takes the named ones too.
	if out := c.run("volume", "prune", "-f"); strings.Contains(out, "data") {
		t.Errorf("prune took a named volume: %q", out)
	}
	if out := c.run("volume", "prune", "-af"); !strings.Contains(out, "Deleted Volumes:\ndata\nsite\ntv\n") {
		t.Errorf("prune -a: %q", out)
	}
	if out := c.run("volume", "ls", "-q"); out != "" {
		t.Errorf("after prune -a: %q", out)
	}
	// Removing a bind-backed volume unmounts it and leaves the host's data.
	if _, err := os.Stat(filepath.Join(site, "index")); err != nil {
		t.Errorf("removing the volume touched its host directory: %v", err)
	}
}
