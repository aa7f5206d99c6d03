package compose_test

import (
	"strings"
	"testing"
)

// TestRecreateKeepsAnonymousVolumes: a service recreated after a change
// of its environment keeps the data in its anonymous volumes, both the
// one its volumes entry asks for and the one its image's VOLUME makes;
// up -V gives the new container empty ones.
func TestRecreateKeepsAnonymousVolumes(t *testing.T) {
	b := newBerth(t)
	b.write("db/Dockerfile", "FROM busybox:test\nVOLUME /db\n")
	b.write("compose.yaml", `
services:
  db:
    build: ./db
    command: sleep 1000
    stop_signal: KILL
    environment: {MODE: "${MODE:-a}"}
    volumes: [/data]
`)
	id := func() string { return strings.TrimSpace(b.must(nil, "compose", "ps", "-q")) }
	mounts := func() string {
		return strings.TrimSpace(b.must(nil, "inspect", "-f", "{{range .Mounts}}{{.Destination}}={{.Name}} {{end}}", "proj-db-1"))
	}
	read := func(env []string) string {
		return b.must(env, "compose", "exec", "-T", "db", "sh", "-c", "cat /data/f /db/f 2>&1; echo $MODE")
	}
	b.must(nil, "compose", "up", "-d")
	first, firstMounts := id(), mounts()
	b.must(nil, "compose", "exec", "-T", "db", "sh", "-c", "echo kept > /data/f; echo kept too > /db/f")

	env := []string{"MODE=b"}
	b.must(env, "compose", "up", "-d")
	if id() == first {
		t.Fatalf("up after a change of the environment left the container")
	}
	if got := read(env); got != "kept\nkept too\nb\n" {
		t.Errorf("after the recreate: %q, want the files of the old container's volumes and MODE=b", got)
	}
	if got := mounts(); got != firstMounts {
		t.Errorf("mounts after the recreate: %s, want %s", got, firstMounts)
	}
	if cfg := b.must(nil, "inspect", "-f", "{{json .Config.Volumes}}", "proj-db-1"); !strings.Contains(cfg, `"/data"`) || !strings.Contains(cfg, `"/db"`) {
		t.Errorf("Config.Volumes = %s, want /data and /db still anonymous", cfg)
	}

	env = []string{"MODE=c"}
	b.must(env, "compose", "up", "-d", "-V")
	if got := read(env); strings.Contains(got, "kept") || !strings.HasSuffix(got, "c\n") {
		t.Errorf("after up -V: %q, want empty volumes", got)
	}
	if got := mounts(); got == firstMounts {
		t.Errorf("up -V kept the volumes %s", got)
	}
	renewed := strings.Fields(mounts())
	b.must(env, "compose", "down", "-t", "0")
	vols := b.must(nil, "volume", "ls", "-q")
	for _, m := range renewed {
		if _, name, _ := strings.Cut(m, "="); !strings.Contains(vols, name) {
			t.Errorf("down without -v removed the anonymous volume %s", name)
		}
	}
}
