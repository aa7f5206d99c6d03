package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestRootSwappedTarget swaps the mount target for a symlink to a host
// directory after it was resolved and before the mount is made, the race
// a container sharing a volume with the one being set up could try to
// win. The mount must land on the directory that was resolved, never on
// the host's, and the mount must be reported as failed.
func TestRootSwappedTarget(t *testing.T) {
	runScenario(t, "swap", func(t *testing.T, e env) {
		writeFiles(t, map[string]string{e.src + "/vol/marker": "volume"})
		if err := os.MkdirAll(filepath.Join(e.rootfs, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if entries, _ := os.ReadDir(e.escape); len(entries) != 0 {
				t.Errorf("host %s was mounted over or written: %v", e.escape, entries)
			}
		})
	})
}

func scenarioSwap(c *checker, e env) {
	r, err := openRoot(e.rootfs)
	if !c.noErr(err, "open root") {
		return
	}
	defer r.close()
	p := &preparer{spec: &specs.Spec{}, root: r}
	m := specs.Mount{Destination: "/data", Type: "bind", Source: e.src + "/vol", Options: []string{"rbind"}}
	cfg, err := parseMountOptions(m.Type, m.Options)
	if !c.noErr(err, "parse options") {
		return
	}
	fd, err := p.target(m, "/data", true)
	if !c.noErr(err, "resolve the target") {
		return
	}
	// The swap: the resolved directory moves away and a symlink to the
	// host takes its name.
	c.noErr(os.Rename(filepath.Join(e.rootfs, "data"), filepath.Join(e.rootfs, "data.old")), "move the target")
	c.noErr(os.Symlink(e.escape, filepath.Join(e.rootfs, "data")), "plant the symlink")
	c.noErr(p.bindAt(m.Source, fd, "/data", cfg.flags, cfg.cleared), "bind onto the resolved fd")
	c.check(p.finishMount("/data", cfg) != nil, "the swapped destination is reported")
	table := mountTable(c)
	_, onOld := table[e.rootfs+"/data.old"]
	c.check(onOld, "the mount is on the directory that was resolved")
	_, onHost := table[e.escape]
	c.check(!onHost, "nothing is mounted on the host's %s", e.escape)
	b, err := os.ReadFile(filepath.Join(e.rootfs, "data.old", "marker"))
	c.check(err == nil && string(b) == "volume", "the volume is at the old path: %q %v", b, err)
}
