package compose_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"berth/internal/archive"
	"berth/internal/engine"
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
	cmd := b.command(nil, "import", "-", "busybox:test")
	cmd.Stdin = &layer
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		b.run(nil, "compose", "-p", "other", "down", "-t", "0")
		b.run(nil, "compose", "down", "-t", "0")
		out, _ := b.run(nil, "ps", "-aq", "--no-trunc")
		ids := strings.Fields(out)
		if len(ids) > 0 {
			b.run(nil, append([]string{"rm", "-f", "--purge"}, ids...)...)
		}
		// The monitors, and the cleanup commands they run, write under
		// the root for a moment after rm; then the root's bridges go,
		// which would outlive its temp dir.
		out, _ = b.run(nil, "container", "trash", "--format", "{{.ID}}")
		for _, id := range append(ids, strings.Fields(out)...) {
			for i := 0; i < 100 && exec.Command("pgrep", "-f", "(berth-monitor|__cleanup) "+id).Run() == nil; i++ {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if e, err := engine.Open(b.root, filepath.Join(b.root, "runtime")); err == nil {
			e.ReleaseNetworks()
		}
	})
	return b
}

// command is berth with args, under b's root, in b.dir, with env added
// to the environment.
func (b *berth) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(b.bin, append([]string{"--root", b.root}, args...)...)
	cmd.Dir, cmd.Env = b.dir, append(os.Environ(), env...)
	return cmd
}

func (b *berth) run(env []string, args ...string) (string, error) {
	cmd := b.command(env, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// write writes a file of the project, its directories too.
func (b *berth) write(name, content string) {
	b.t.Helper()
	path := filepath.Join(b.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.t.Fatal(err)
	}
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
	b.write("compose.yaml", `
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
`)
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
	b.write("bad.yaml", `
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
`)
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
	b.write("compose.yaml", `
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
`)
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
	b.write("compose.yaml", "services:\n  app2:\n    image: busybox:test\n    command: sleep 1000\n")
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
	b.write("compose.yaml", `
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
`)
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
	// up stopped idle when writer exited, maybe before idle's first line:
	// started again, it prints one.
	b.must(nil, "compose", "up", "-d", "idle")
	logs := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if logs = b.must(nil, "compose", "logs", "--no-color", "idle"); strings.Contains(logs, "proj-idle-1 | idle up") {
			break
		}
	}
	if !strings.Contains(logs, "proj-idle-1 | idle up") {
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
	b.write("compose.yaml", `
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
`)
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

// TestServiceFields checks in a running container what the fields that
// shape it asked for.
func TestServiceFields(t *testing.T) {
	b := newBerth(t)
	b.write("compose.yaml", `
services:
  box:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
    hostname: box
    domainname: example.internal
    user: "1000:1000"
    working_dir: /tmp
    environment: [GREETING=hello]
    read_only: true
    tmpfs: [/scratch:size=1m]
    sysctls: {net.ipv4.ip_unprivileged_port_start: "80"}
    ulimits: {nofile: {soft: 123, hard: 456}}
    cap_drop: [ALL]
    extra_hosts: ["db.example:10.1.2.3"]
    deploy:
      resources:
        limits: {pids: 50}
  chatty:
    image: busybox:test
    command: ["sh", "-c", "for i in $$(seq 1 100); do echo line $$i of a chatty service; done; echo last; exec sleep 1000"]
    stop_signal: KILL
    logging:
      driver: json-file
      options: {max-size: 1k, max-file: "2"}
`)
	b.must(nil, "compose", "up", "-d")
	script := `hostname; cat /proc/sys/kernel/domainname; id -u; pwd; echo $GREETING; ` +
		`(touch /x 2>/dev/null && echo writable) || echo read-only; touch /scratch/f && echo tmpfs ok; ` +
		`cat /proc/sys/net/ipv4/ip_unprivileged_port_start; ulimit -n; ulimit -Hn; ` +
		`grep CapEff /proc/self/status; grep db.example /etc/hosts | cut -f1`
	got := strings.Fields(b.must(nil, "compose", "exec", "-T", "box", "sh", "-c", script))
	want := []string{"box", "example.internal", "1000", "/tmp", "hello", "read-only", "tmpfs", "ok",
		"80", "123", "456", "CapEff:", "0000000000000000", "10.1.2.3"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("in the container:\n%v\nwant\n%v", got, want)
	}
	if out := b.must(nil, "inspect", "-f", "{{.HostConfig.PidsLimit}}", "proj-box-1"); strings.TrimSpace(out) != "50" {
		t.Errorf("PidsLimit = %q, want 50", out)
	}
	// The chatty service's log rotates at 1k into two files.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.must(nil, "compose", "logs", "--tail", "1", "chatty"), "last") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	logPath := strings.TrimSpace(b.must(nil, "inspect", "-f", "{{.LogPath}}", "proj-chatty-1"))
	for _, f := range []string{logPath, logPath + ".1"} {
		if fi, err := os.Stat(f); err != nil || fi.Size() > 1024 {
			t.Errorf("%s: %v, %v; want a file of at most 1k", f, fi, err)
		}
	}
	if _, err := os.Stat(logPath + ".2"); err == nil {
		t.Errorf("the log kept a third file, %s.2", logPath)
	}
	if out := b.must(nil, "compose", "logs", "--no-log-prefix", "chatty"); !strings.HasSuffix(out, "last\n") || strings.Contains(out, "line 1 of") {
		t.Errorf("compose logs chatty: the last lines across both files, without the rotated-out first ones; got\n%s", out)
	}
}

// TestUpAttachedInterrupt: up without -d prints each service's lines
// after its container's name, and an interrupt stops the project, as
// Ctrl-C does in Docker Compose.
func TestUpAttachedInterrupt(t *testing.T) {
	b := newBerth(t)
	b.write("compose.yaml", `
services:
  ticker:
    image: busybox:test
    command: ["sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.1; done"]
`)
	cmd := b.command(nil, "compose", "up", "--no-color")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "proj-ticker-1 | ready") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no prefixed line from ticker:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("up did not end after an interrupt:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "proj-ticker-1 | bye") {
		t.Errorf("the container's last line is missing:\n%s", out.String())
	}
	if st := strings.TrimSpace(b.must(nil, "compose", "ps", "-a", "--format", "{{.State}}")); st != "exited" {
		t.Errorf("after the interrupt ticker is %q, want exited", st)
	}
}

// syncBuffer is a buffer that a command writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestExternalNetworkAddress: a service joins an external network at the
// address it asks for, and down leaves the network, which is not the
// project's.
func TestExternalNetworkAddress(t *testing.T) {
	b := newBerth(t)
	subnet := fmt.Sprintf("10.%d.%d", 200+os.Getpid()%50, os.Getpid()%250)
	b.must(nil, "network", "create", "--subnet", subnet+".0/24", "shared")
	t.Cleanup(func() { b.run(nil, "network", "rm", "shared") })
	os.WriteFile(filepath.Join(b.dir, "compose.yaml"), []byte(`
services:
  box:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
    networks:
      shared:
        ipv4_address: `+subnet+`.42
networks:
  shared:
    external: true
`), 0o644)
	b.must(nil, "compose", "up", "-d")
	if out := b.must(nil, "compose", "exec", "-T", "box", "ip", "-4", "-o", "addr", "show", "eth0"); !strings.Contains(out, subnet+".42/24") {
		t.Errorf("box's address: %s, want %s.42", out, subnet)
	}
	b.must(nil, "compose", "down", "-t", "0")
	if nets := b.must(nil, "network", "ls", "--format", "{{.Name}}"); !strings.Contains(nets, "shared") {
		t.Errorf("down removed the external network: %s", nets)
	}
	b.write("compose.yaml", "services:\n  box:\n    image: busybox:test\n    networks: [gone]\nnetworks:\n  gone: {external: true}\n")
	if out, err := b.run(nil, "compose", "up", "-d"); err == nil || !strings.Contains(out, "gone") {
		t.Errorf("up with a missing external network: %v\n%s", err, out)
	}
}

// TestBuildRecreates: up builds a service's missing image, tagged
// PROJECT-SERVICE with the build's args; up --build after a change in
// the context rebuilds it and recreates the container, and an up with
// nothing changed leaves it alone.
func TestBuildRecreates(t *testing.T) {
	b := newBerth(t)
	b.write("web/Dockerfile", "FROM busybox:test\nARG GREETING=none\nCOPY msg /msg\nRUN echo $GREETING > /greeting\nCMD [\"sleep\", \"1000\"]\n")
	b.write("web/msg", "one\n")
	b.write("compose.yaml", `
services:
  web:
    build:
      context: ./web
      args: {GREETING: hello}
    stop_signal: KILL
`)
	b.must(nil, "compose", "up", "-d")
	id := func() string { return strings.TrimSpace(b.must(nil, "compose", "ps", "-q")) }
	first := id()
	if out := b.must(nil, "compose", "exec", "-T", "web", "cat", "/greeting", "/msg"); out != "hello\none\n" {
		t.Errorf("in the built image: %q, want hello, one", out)
	}
	if img := b.must(nil, "compose", "images", "--format", "{{.Repository}}"); strings.TrimSpace(img) != "proj-web" {
		t.Errorf("compose images: %q, want proj-web", img)
	}
	b.must(nil, "compose", "up", "-d")
	if id() != first {
		t.Errorf("up with nothing changed recreated web")
	}
	b.write("web/msg", "two\n")
	b.must(nil, "compose", "up", "-d", "--build")
	if id() == first {
		t.Errorf("up --build after a change left the container of the old image")
	}
	if out := b.must(nil, "compose", "exec", "-T", "web", "cat", "/msg"); out != "two\n" {
		t.Errorf("after the rebuild: %q, want two", out)
	}
	b.must(nil, "compose", "down", "--rmi", "local", "-t", "0")
	if out, _ := b.run(nil, "image", "inspect", "proj-web"); !strings.Contains(out, "No such image") {
		t.Errorf("down --rmi local left proj-web: %s", out)
	}
}
