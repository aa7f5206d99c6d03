package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestContainerPrune(t *testing.T) {
	c := newCLI(t)
	c.stopAtEnd()
	c.run("run", "-d", "--name", "up", "busybox:test", "sleep", "1000")
	c.run("run", "--name", "done", "busybox:test", "sh", "-c", "head -c 100000 /dev/zero > /big")
	made := strings.TrimSpace(c.run("create", "--name", "made", "-l", "tier=a", "busybox:test", "true"))
	c.run("run", "--name", "kept", "-l", "tier=b", "busybox:test", "true")
	id := func(name string) string { return strings.TrimSpace(c.run("inspect", "-f", "{{.Id}}", name)) }
	done, kept := id("done"), id("kept")
	names := func() string { return strings.Join(strings.Fields(c.run("ps", "-a", "--format", "{{.Names}}")), " ") }

	// Without -f it asks, and "no" leaves everything.
	out := c.runIn([]byte("n\n"), "container", "prune")
	if out != "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] " {
		t.Errorf("prompt: %q", out)
	}
	if got := names(); got != "kept made done up" {
		t.Errorf("after no: %s", got)
	}

	// Everything here is younger than an hour.
	if out := c.run("container", "prune", "-f", "--filter", "until=1h"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("until=1h: %q", out)
	}
	if out := c.run("container", "prune", "-f", "--filter", "label=tier=a"); out != "Deleted Containers:\n"+made+"\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("label=tier=a: %q", out)
	}
	// label!= keeps what matches; done's writable layer has 100 kB,
	// freed at once with --purge.
	if out := c.run("container", "prune", "-f", "--purge", "--filter", "label!=tier=b"); out != "Deleted Containers:\n"+done+"\n\nTotal reclaimed space: 100kB\n" {
		t.Errorf("label!=tier=b: %q", out)
	}
	if _, err := os.Stat(filepath.Join(c.root, "trash", done)); !os.IsNotExist(err) {
		t.Errorf("prune --purge left %s in the trash: %v", done, err)
	}
	if got := names(); got != "kept up" {
		t.Errorf("after the filtered prunes: %s", got)
	}
	out = c.runIn([]byte("y\n"), "container", "prune")
	if !strings.HasSuffix(out, "[y/N] Deleted Containers:\n"+kept+"\n\nTotal reclaimed space: 0B\n") {
		t.Errorf("prune, yes: %q", out)
	}
	// The running container stays; without --purge the pruned ones are
	// in the trash, whence they can be restored.
	if got := names(); got != "up" {
		t.Errorf("after prune: %s", got)
	}
	for _, id := range []string{made, kept} {
		if _, err := os.Stat(filepath.Join(c.root, "trash", id)); err != nil {
			t.Errorf("pruned container not in the trash: %v", err)
		}
	}
	if out, err := c.runErr(nil, "container", "prune", "-f", "--filter", "color=red"); err == nil || !strings.Contains(out, `invalid filter "color"`) {
		t.Errorf("a bad filter: %v, %q", err, out)
	}
}

func TestSystemPrune(t *testing.T) {
	c := newCLI(t)
	c.stopAtEnd()
	c.run("run", "-d", "--name", "up", "busybox:test", "sleep", "1000")
	done := strings.TrimSpace(c.run("create", "--name", "done", "busybox:test", "true"))
	gone := strings.TrimSpace(c.run("create", "--name", "gone", "busybox:test", "true"))
	c.run("rm", "gone") // into the trash
	// A second commit to one tag leaves the first image dangling.
	c.run("commit", "up", "other:1")
	c.run("exec", "up", "touch", "/changed")
	c.run("commit", "up", "other:1")
	if got := c.run("images", "-q", "--filter", "dangling=true"); len(strings.Fields(got)) != 1 {
		t.Fatalf("dangling images before prune: %q", got)
	}

	out := c.runIn([]byte("n\n"), "system", "prune")
	if !strings.HasPrefix(out, "WARNING! This will remove:\n  - all stopped containers\n") || !strings.Contains(out, "trash") {
		t.Errorf("prompt: %q", out)
	}
	if got := c.run("ps", "-aq"); len(strings.Fields(got)) != 2 {
		t.Fatalf("after no, ps -aq = %q", got)
	}

	c.run("network", "create", "unused")
	c.run("volume", "create", "named")
	c.run("run", "-v", "/anon", "-v", "named:/data", "busybox:test", "true")
	out = c.run("system", "prune", "-f", "--volumes")
	// Two stopped containers go, in the order of their IDs.
	for _, want := range []string{"Deleted Containers:\n", "\n" + done + "\n", "Emptied from the trash:\n" + gone + "\n", "Total reclaimed space: "} {
		if !strings.Contains(out, want) {
			t.Errorf("system prune output lacks %q:\n%s", want, out)
		}
	}
	if got := strings.Fields(c.run("ps", "-a", "--format", "{{.Names}}")); len(got) != 1 || got[0] != "up" {
		t.Errorf("after prune, ps -a = %v; want only the running one", got)
	}
	if vols := c.run("volume", "ls", "-q"); strings.TrimSpace(vols) != "named" {
		t.Errorf("volumes after system prune --volumes: %q; want only the named one", vols)
	}
	if !strings.Contains(out, "Deleted Networks:\nunused\n") {
		t.Errorf("system prune lists no network:\n%s", out)
	}
	if nets := c.run("network", "ls", "--format", "{{.Name}}"); strings.Contains(nets, "unused") {
		t.Errorf("networks after prune:\n%s", nets)
	}
	if !strings.Contains(out, "Deleted Volumes:\n") {
		t.Errorf("system prune --volumes lists no volume:\n%s", out)
	}
	if got := c.run("container", "trash", "--format", "{{.ID}}"); strings.TrimSpace(got) != "" {
		t.Errorf("the trash still holds %q", got)
	}
	if out, err := c.runErr(nil, "container", "restore", "gone"); err == nil {
		t.Errorf("restore after system prune worked: %s", out)
	}
	if got := c.run("images", "-q", "--filter", "dangling=true"); strings.TrimSpace(got) != "" {
		t.Errorf("dangling images after prune: %q", got)
	}
	if !strings.Contains(out, "Deleted Images:\ndeleted: sha256:") {
		t.Errorf("system prune output lists no deleted image:\n%s", out)
	}
	// Tagged images and the one the running container uses stay.
	images := c.run("images", "--format", "{{.Repository}}:{{.Tag}}")
	if !strings.Contains(images, "busybox:test") || !strings.Contains(images, "other:1") {
		t.Errorf("images after prune:\n%s", images)
	}
}
