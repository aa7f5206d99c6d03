package compose_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunFlags runs one-off containers with compose run's flags: volumes
// added with -v, name, working directory, user, entrypoint, variables
// from flags and files, labels, capabilities, detach, the service's
// aliases only when asked, no dependencies, and orphans.
func TestRunFlags(t *testing.T) {
	b := newBerth(t)
	host := filepath.Join(b.dir, "hostdir")
	b.write("hostdir/in", "from the host\n")
	b.write("vars.env", "# a comment\nFROMFILE=filed\nFOO=overridden\n")
	b.write("compose.yaml", `
services:
  db:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
  app:
    image: busybox:test
    command: sleep 1000
    stop_signal: KILL
    depends_on: [db]
    volumes: [/cache, data:/data]
    cap_drop: [ALL]
volumes:
  data: {}
`)

	// --no-deps leaves db alone; -v adds a relative host path, the
	// project's volume under its key, a volume of its own name, and
	// replaces the service's anonymous /cache.
	out := b.stdout("compose", "run", "--rm", "-T", "--no-deps", "-v", "./hostdir:/host:ro", "-v", "data:/more",
		"-v", "loose:/loose", "-v", host+":/cache", "app", "sh", "-c",
		"cat /host/in /cache/in; echo x > /more/f && echo x > /loose/f && echo volumes ok; (echo x > /host/f) 2>/dev/null || echo host read-only")
	if out != "from the host\nfrom the host\nvolumes ok\nhost read-only\n" {
		t.Errorf("run -v: %q", out)
	}
	if ps := b.must(nil, "compose", "ps", "-a", "--services"); strings.Contains(ps, "db") {
		t.Errorf("run --no-deps started db: %s", ps)
	}
	if vols := b.must(nil, "volume", "ls", "-q"); !strings.Contains(vols, "proj_data") || !strings.Contains(vols, "loose") {
		t.Errorf("volumes after run -v data:/more -v loose:/loose: %s, want proj_data and loose", vols)
	}
	if out, err := b.run(nil, "compose", "run", "--rm", "-T", "-v", "relative", "app", "true"); err == nil || !strings.Contains(out, "--volume") {
		t.Errorf("run -v relative: %v, want an error naming --volume\n%s", err, out)
	}

	// The other flags, and db started first.
	out = b.stdout("compose", "run", "-T", "--name", "custom", "-w", "/tmp", "-u", "1000:1000", "-e", "FOO=bar",
		"--env-from-file", "vars.env", "-l", "com.example.who=me", "--cap-add", "NET_BIND_SERVICE",
		"--entrypoint", "sh -c", "app", `echo $(pwd) $(id -u) $FOO $FROMFILE; grep CapBnd /proc/self/status`)
	if want := "/tmp 1000 bar filed\nCapBnd:\t0000000000000400\n"; out != want {
		t.Errorf("run with flags: %q, want %q", out, want)
	}
	if got := b.must(nil, "inspect", "-f", `{{index .Config.Labels "com.example.who"}} {{.HostConfig.CapAdd}} {{.Config.Entrypoint}}`, "custom"); got != "me [CAP_NET_BIND_SERVICE] [sh -c]\n" {
		t.Errorf("custom: %q", got)
	}
	if st := strings.TrimSpace(b.must(nil, "compose", "ps", "--format", "{{.Service}} {{.State}}", "db")); st != "db running" {
		t.Errorf("run without --no-deps: db is %q", st)
	}

	// -d prints the name; the one-off answers to the service's name only
	// with --use-aliases.
	plain := strings.TrimSpace(b.stdout("compose", "run", "-d", "--name", "plain", "app"))
	aliased := strings.TrimSpace(b.stdout("compose", "run", "-d", "--name", "aliased", "--use-aliases", "app"))
	if plain != "plain" || aliased != "aliased" {
		t.Errorf("run -d printed %q and %q, want the names", plain, aliased)
	}
	ip := func(name string) string {
		return strings.TrimSpace(b.must(nil, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name))
	}
	lookup := b.must(nil, "compose", "exec", "-T", "db", "nslookup", "app")
	if !strings.Contains(lookup, ip("aliased")) || strings.Contains(lookup, ip("plain")) {
		t.Errorf("db looks up app: %s; want aliased's address %s, not plain's %s", lookup, ip("aliased"), ip("plain"))
	}

	// An orphan is warned about, and removed with --remove-orphans.
	b.write("old.yaml", "services:\n  old:\n    image: busybox:test\n    command: sleep 1000\n    stop_signal: KILL\n")
	b.must(nil, "compose", "-f", "old.yaml", "-p", "proj", "up", "-d")
	if out := b.must(nil, "compose", "run", "--rm", "-T", "--no-deps", "app", "true"); !strings.Contains(out, "orphan containers") {
		t.Errorf("run with an orphan: no warning\n%s", out)
	}
	out = b.must(nil, "compose", "run", "--rm", "-T", "-q", "--remove-orphans", "app", "echo", "quiet")
	if out != "quiet\n" {
		t.Errorf("run -q --remove-orphans printed %q, want the container's output alone", out)
	}
	if ps := b.must(nil, "compose", "-p", "proj", "ps", "-a", "--services"); strings.Contains(ps, "old") {
		t.Errorf("run --remove-orphans left old: %s", ps)
	}
}

// stdout runs berth and returns what it wrote to stdout alone.
func (b *berth) stdout(args ...string) string {
	b.t.Helper()
	cmd := b.command(nil, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("berth %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}
