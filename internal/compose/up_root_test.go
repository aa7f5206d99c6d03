package compose_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth/internal/archive"
	"berth/internal/testfixture"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testfixture.RemoveBerth()
	os.Exit(code)
}

// berth runs the built berth under its own root, in dir.
type berth struct {
	t              *testing.T
	bin, root, dir string
}

// newBerth builds berth, gives it a root of its own with busybox:test
// in it, and a project directory "proj"; the projects proj and other
// go down at the end.
func newBerth(t *testing.T) *berth {
	t.Helper()
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "busybox-static", testfixture.HaveBusybox)
	b := &berth{t: t, bin: testfixture.BuildBerth(t), root: t.TempDir(), dir: filepath.Join(t.TempDir(), "proj")}
	os.Mkdir(b.dir, 0o755)
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := testfixture.BusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	os.Chmod(rootfs, 0o755)
	var layer bytes.Buffer
	if err := archive.Tar(context.Background(), &layer, rootfs); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(b.bin, "--root", b.root, "import", "-", "busybox:test")
	cmd.Stdin = &layer
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		b.run(nil, "compose", "-p", "other", "down", "-t", "0")
		b.run(nil, "compose", "down", "-t", "0")
	})
	return b
}

func (b *berth) run(env []string, args ...string) (string, error) {
	cmd := exec.Command(b.bin, append([]string{"--root", b.root}, args...)...)
	cmd.Dir, cmd.Env = b.dir, append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (b *berth) must(env []string, args ...string) string {
	b.t.Helper()
	out, err := b.run(env, args...)
	if err != nil {
		b.t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestUpIdempotentRecreateScaleDown runs a busybox project: a second
// up leaves it alone, a changed service is recreated with what depends
// on it and nothing else, scale adds and removes containers, a
// dependency that never gets healthy stops its dependents, and down
// leaves another project's containers alone.
func TestUpIdempotentRecreateScaleDown(t *testing.T) {
	b := newBerth(t)
	os.WriteFile(filepath.Join(b.dir, "compose.yaml"), []byte(`
services:
  db:
    image: busybox:test
    command: ["sh", "-c", "touch /tmp/ready; exec sleep 1000"]
    stop_signal: KILL
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, retries: 30}
  web:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
    environment: {MODE: "${MODE:-a}"}
    depends_on: {db: {condition: service_healthy}}
  lone:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
`), 0o644)
	ids := func() map[string]string {
		out := b.must(nil, "compose", "ps", "--format", "{{.Name}} {{.ID}}")
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				m[f[0]] = f[1]
			}
		}
		return m
	}
	b.must(nil, "compose", "up", "-d")
	first := ids()
	if len(first) != 3 || first["proj-db-1"] == "" || first["proj-web-1"] == "" {
		t.Fatalf("after up: %v, want proj-db-1, proj-web-1, proj-lone-1", first)
	}
	b.must(nil, "compose", "up", "-d")
	if again := ids(); again["proj-web-1"] != first["proj-web-1"] || again["proj-db-1"] != first["proj-db-1"] {
		t.Errorf("a second up recreated containers: %v, then %v", first, again)
	}
	b.must([]string{"MODE=b"}, "compose", "up", "-d")
	changed := ids()
	if changed["proj-web-1"] == first["proj-web-1"] {
		t.Errorf("up after a change of web left web's container %s", first["proj-web-1"])
	}
	if changed["proj-db-1"] != first["proj-db-1"] || changed["proj-lone-1"] != first["proj-lone-1"] {
		t.Errorf("up after a change of web recreated other services: %v, then %v", first, changed)
	}
	if out := b.must([]string{"MODE=b"}, "compose", "exec", "-T", "web", "sh", "-c", "echo $MODE"); strings.TrimSpace(out) != "b" {
		t.Errorf("exec in web: MODE=%q, want b", out)
	}
	b.must([]string{"MODE=b"}, "compose", "up", "-d", "--scale", "lone=3")
	if got := ids(); got["proj-lone-3"] == "" || got["proj-lone-1"] != first["proj-lone-1"] {
		t.Errorf("scale lone=3: %v", got)
	}
	b.must([]string{"MODE=b"}, "compose", "up", "-d", "--scale", "lone=1")
	if got := ids(); got["proj-lone-2"] != "" || got["proj-lone-3"] != "" || got["proj-lone-1"] == "" {
		t.Errorf("scale lone=1: %v", got)
	}
	// Another project, whose db is never healthy: web is not started.
	os.WriteFile(filepath.Join(b.dir, "bad.yaml"), []byte(`
services:
  db:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1}
  web:
    image: busybox:test
    command: sleep 1000
    depends_on: {db: {condition: service_healthy}}
`), 0o644)
	out, err := b.run(nil, "compose", "-f", "bad.yaml", "-p", "other", "up", "-d")
	if err == nil || !strings.Contains(out, "other-db-1 is unhealthy") || !strings.Contains(out, `"web"`) {
		t.Errorf("up with an unhealthy dependency: %v\n%s", err, out)
	}
	if ps := b.must(nil, "compose", "-p", "other", "ps", "-a", "--services"); strings.Contains(ps, "web") {
		t.Errorf("web was created although its dependency failed: %s", ps)
	}
	b.must(nil, "compose", "down", "-t", "0")
	if left := b.must(nil, "compose", "ps", "-a", "-q"); strings.TrimSpace(left) != "" {
		t.Errorf("containers left after down: %s", left)
	}
	if other := b.must(nil, "compose", "-p", "other", "ps", "-a", "-q"); strings.TrimSpace(other) == "" {
		t.Errorf("down of proj removed the containers of project other")
	}
}

// TestDependsOnCompletedSecretsRun: a service waits for a one-shot
// migration to complete, and is refused when it fails; secrets and
// configs land read-only with their modes and owners; run makes a
// one-off container that --rm removes; a service taken out of the file
// is an orphan until --remove-orphans.
func TestDependsOnCompletedSecretsRun(t *testing.T) {
	b := newBerth(t)
	os.WriteFile(filepath.Join(b.dir, "token.txt"), []byte("s3cret"), 0o600)
	os.WriteFile(filepath.Join(b.dir, "compose.yaml"), []byte(`
services:
  migrate:
    image: busybox:test
    command: ["sh", "-c", "sleep 1; exit ${MIGRATE_EXIT:-0}"]
  app:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
    depends_on:
      migrate: {condition: service_completed_successfully}
    secrets:
      - source: token
        mode: 0440
        uid: "1000"
        gid: "1000"
    configs:
      - source: settings
        target: /etc/app.conf
    read_only: true
secrets:
  token: {file: ./token.txt}
configs:
  settings: {content: "level=${LEVEL:-info}"}
`), 0o644)
	out, err := b.run([]string{"MIGRATE_EXIT=4"}, "compose", "up", "-d")
	if err == nil || !strings.Contains(out, "proj-migrate-1 exited (4)") {
		t.Errorf("up with a failing migration: %v\n%s", err, out)
	}
	if ps := b.must(nil, "compose", "ps", "-a", "--services"); strings.Contains(ps, "app") {
		t.Errorf("app was created although migrate failed: %s", ps)
	}
	b.must([]string{"LEVEL=debug"}, "compose", "up", "-d", "--force-recreate")
	if st := b.must(nil, "compose", "ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}"); !strings.Contains(st, "migrate exited 0") || !strings.Contains(st, "app running") {
		t.Errorf("after up: %s", st)
	}
	got := b.must(nil, "compose", "exec", "-T", "app", "sh", "-c",
		"stat -c '%a %u %g' /run/secrets/token; cat /run/secrets/token; echo; cat /etc/app.conf; echo; (echo x > /run/secrets/token) 2>/dev/null && echo writable; true")
	want := "440 1000 1000\ns3cret\nlevel=debug\n"
	if got != want {
		t.Errorf("secret and config in app:\n%s\nwant\n%s", got, want)
	}
	if out := b.must(nil, "compose", "run", "--rm", "--no-deps", "-T", "app", "echo", "one-off"); !strings.Contains(out, "one-off") {
		t.Errorf("run: %q", out)
	}
	if ps := b.must(nil, "compose", "ps", "-a", "--format", "{{.Name}}"); strings.Contains(ps, "-run-") {
		t.Errorf("run --rm left its container: %s", ps)
	}
	// migrate leaves the file: its container is an orphan.
	os.WriteFile(filepath.Join(b.dir, "compose.yaml"), []byte("services:\n  app2:\n    image: busybox:test\n    command: sleep 1000\n"), 0o644)
	if out := b.must(nil, "compose", "up", "-d"); !strings.Contains(out, "orphan containers") {
		t.Errorf("up without migrate and app: no orphan warning:\n%s", out)
	}
	b.must(nil, "compose", "up", "-d", "--remove-orphans")
	if ps := b.must(nil, "compose", "ps", "-a", "--services"); strings.TrimSpace(ps) != "app2" {
		t.Errorf("after --remove-orphans: %q, want app2", ps)
	}
}

// TestResourcesLogsExitCode: a project's networks and named volumes
// carry its labels, data in a volume outlives down and goes with down
// -v; logs prefix each line with its container; up --exit-code-from
// returns that service's code.
func TestResourcesLogsExitCode(t *testing.T) {
	b := newBerth(t)
	os.WriteFile(filepath.Join(b.dir, "compose.yaml"), []byte(`
services:
  writer:
    image: busybox:test
    command: ["sh", "-c", "echo $$(( $$(cat /data/n 2>/dev/null || echo 0) + 1 )) > /data/n; echo count $$(cat /data/n); exit 7"]
    volumes: [data:/data]
    networks: [back]
  idle:
    image: busybox:test
    command: ["sh", "-c", "echo idle up; exec sleep 1000"]
    stop_signal: KILL
networks:
  back: {labels: {com.example.net: "yes"}}
volumes:
  data: {}
`), 0o644)
	out, err := b.run(nil, "compose", "up", "--exit-code-from", "writer")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("up --exit-code-from writer: %v, want exit status 7\n%s", err, out)
	}
	if !strings.Contains(out, "proj-writer-1 | count 1") {
		t.Errorf("up's output has no prefixed line of writer:\n%s", out)
	}
	nets := b.must(nil, "network", "ls", "--format", "{{.Name}} {{.Labels}}")
	for _, want := range []string{"proj_back", "proj_default"} {
		if !strings.Contains(nets, want) {
			t.Errorf("network ls: no %s in\n%s", want, nets)
		}
	}
	if !strings.Contains(nets, "com.docker.compose.project=proj") || !strings.Contains(nets, "com.example.net=yes") {
		t.Errorf("network ls: the project's networks lack their labels:\n%s", nets)
	}
	if logs := b.must(nil, "compose", "logs", "--no-color", "idle"); !strings.Contains(logs, "proj-idle-1 | idle up") {
		t.Errorf("compose logs idle: %q", logs)
	}
	b.must(nil, "compose", "down", "-t", "0")
	if vols := b.must(nil, "volume", "ls", "-q"); !strings.Contains(vols, "proj_data") {
		t.Errorf("down without -v removed the volume: %q", vols)
	}
	if nets := b.must(nil, "network", "ls", "--format", "{{.Name}}"); strings.Contains(nets, "proj_") {
		t.Errorf("down left networks: %s", nets)
	}
	out, _ = b.run(nil, "compose", "up", "--exit-code-from", "writer")
	if !strings.Contains(out, "count 2") {
		t.Errorf("the volume did not keep its data across down:\n%s", out)
	}
	b.must(nil, "compose", "down", "-v", "-t", "0")
	if vols := b.must(nil, "volume", "ls", "-q"); strings.Contains(vols, "proj_data") {
		t.Errorf("down -v left the volume: %q", vols)
	}
}

// TestCommands runs the commands that act on a project's containers:
// ls, top, images, config, pause and unpause, stop and start in
// dependency order, restart, kill, rm, events and wait.
func TestCommands(t *testing.T) {
	b := newBerth(t)
	os.WriteFile(filepath.Join(b.dir, "compose.yaml"), []byte(`
services:
  db:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
  web:
    image: busybox:test
    command: sleep 1001
    stop_signal: KILL
    depends_on: {db: {condition: service_started, restart: true}}
  job:
    image: busybox:test
    command: ["sh", "-c", "sleep 1; exit 5"]
`), 0o644)
	since := time.Now().Format(time.RFC3339Nano)
	b.must(nil, "compose", "up", "-d")
	if ls := b.must(nil, "compose", "ls"); !strings.Contains(ls, "proj") || !strings.Contains(ls, filepath.Join(b.dir, "compose.yaml")) {
		t.Errorf("compose ls:\n%s", ls)
	}
	if top := b.must(nil, "compose", "top", "web"); !strings.Contains(top, "sleep 1001") {
		t.Errorf("compose top web:\n%s", top)
	}
	if img := b.must(nil, "compose", "images"); !strings.Contains(img, "proj-web-1") || !strings.Contains(img, "busybox") {
		t.Errorf("compose images:\n%s", img)
	}
	if cfg := b.must(nil, "compose", "config", "--services"); cfg != "db\njob\nweb\n" {
		t.Errorf("compose config --services = %q", cfg)
	}
	code, err := b.run(nil, "compose", "wait", "job")
	var ee *exec.ExitError
	if strings.TrimSpace(code) != "5" || !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Errorf("compose wait job = %q, %v; want 5 printed and exit status 5", code, err)
	}
	state := func(svc string) string {
		return strings.TrimSpace(b.must(nil, "compose", "ps", "-a", "--format", "{{.State}}", svc))
	}
	started := func() string { return b.must(nil, "inspect", "-f", "{{.State.StartedAt}}", "proj-web-1") }
	before := started()
	b.must(nil, "compose", "restart", "db")
	if after := started(); after == before {
		t.Errorf("restart db left web, which depends on it with restart: true, running since %s", before)
	}
	b.must(nil, "compose", "pause", "web")
	if st := state("web"); st != "paused" {
		t.Errorf("after pause: web is %q", st)
	}
	b.must(nil, "compose", "unpause", "web")
	out := b.must(nil, "compose", "stop")
	if strings.Index(out, "proj-web-1  Stopping") > strings.Index(out, "proj-db-1  Stopping") {
		t.Errorf("stop stopped db before web, which depends on it:\n%s", out)
	}
	out = b.must(nil, "compose", "start", "db", "web")
	if strings.Index(out, "proj-web-1  Starting") < strings.Index(out, "proj-db-1  Started") {
		t.Errorf("start started web before db was:\n%s", out)
	}
	b.must(nil, "compose", "restart", "web")
	if st := state("web"); st != "running" {
		t.Errorf("after restart: web is %q", st)
	}
	b.must(nil, "compose", "kill", "web")
	if st := state("web"); st != "exited" {
		t.Errorf("after kill: web is %q", st)
	}
	b.must(nil, "compose", "rm", "-f", "web")
	if st := state("web"); st != "" {
		t.Errorf("after rm: web is %q", st)
	}
	ev := b.must(nil, "compose", "events", "--json", "--since", since, "--until", time.Now().Format(time.RFC3339Nano))
	for _, want := range []string{`"action":"create"`, `"action":"pause"`, `"service":"web"`, `"service":"db"`} {
		if !strings.Contains(ev, want) {
			t.Errorf("compose events: no %s in\n%s", want, ev)
		}
	}
}
