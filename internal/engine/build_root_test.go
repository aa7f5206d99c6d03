package engine

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"berth/internal/build"
	"berth/internal/image"
	"berth/internal/metadata"
	"berth/internal/reference"
	"berth/internal/registry"
	"berth/internal/registrytest"
)

// stepLog records what a build printed, step by step.
type stepLog struct {
	steps []*loggedStep
}

type loggedStep struct {
	name   string
	cached bool
	out    bytes.Buffer
	err    error
}

func (l *stepLog) Step(_, name string) build.Step {
	s := &loggedStep{name: name}
	l.steps = append(l.steps, s)
	return s
}
func (l *stepLog) Warn(string)          {}
func (s *loggedStep) Cached()           { s.cached = true }
func (s *loggedStep) Output() io.Writer { return &s.out }
func (s *loggedStep) Done(err error)    { s.err = err }

// cached lists, for each step that could come from the cache (RUN,
// COPY, ADD, WORKDIR), whether it did.
func (l *stepLog) cached() string {
	var b strings.Builder
	for _, s := range l.steps {
		for _, p := range []string{"RUN", "COPY", "ADD", "WORKDIR"} {
			if strings.HasPrefix(s.name, p) {
				if s.cached {
					b.WriteString("H")
				} else {
					b.WriteString("M")
				}
			}
		}
	}
	return b.String()
}

func buildIn(t *testing.T, e *Engine, dir string, opts build.Options) (digest.Digest, *stepLog, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := build.Parse("Dockerfile", data)
	if err != nil {
		return "", nil, err
	}
	bctx, err := build.OpenContext(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	log := &stepLog{}
	opts.Progress = log
	opts.Platform = *image.HostPlatform()
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Unix(0, 0).UTC()
	}
	b, release, err := e.BuildBackend()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	id, err := build.Build(context.Background(), b, df, bctx, opts)
	return id, log, err
}

func writeTestFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const cacheDockerfile = `FROM busybox:test
RUN echo one > /one
COPY a.txt /app/a.txt
RUN cat /app/a.txt > /app/copy
COPY b.txt /app/b.txt
RUN ls /app > /app/list
CMD ["cat", "/app/copy", "/app/list"]
`

// TestBuildCache builds on busybox, runs the image, and checks the
// cache: an unchanged rebuild hits every step, touching a file hits,
// changing one misses from its COPY on; the same inputs give the same
// digest, with and without the cache.
func TestBuildCache(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	writeTestFiles(t, dir, map[string]string{"Dockerfile": cacheDockerfile, "a.txt": "A\n", "b.txt": "B\n"})
	id1, log, err := buildIn(t, e, dir, build.Options{Names: []string{"docker.io/library/built:test"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := log.cached(); got != "MMMMM" {
		t.Errorf("first build: cache %s, want MMMMM", got)
	}
	code, out := run(t, e, CreateOptions{Image: "built:test"})
	if code != 0 || out != "A\na.txt\nb.txt\ncopy\nlist\n" {
		t.Errorf("run built:test = %d %q", code, out)
	}

	id2, log, err := buildIn(t, e, dir, build.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := log.cached(); got != "HHHHH" || id2 != id1 {
		t.Errorf("unchanged rebuild: cache %s id %s, want HHHHH and %s", got, id2, id1)
	}

	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "a.txt"), later, later)
	if _, log, err = buildIn(t, e, dir, build.Options{}); err != nil || log.cached() != "HHHHH" {
		t.Errorf("rebuild after touch: cache %s (%v), want HHHHH", log.cached(), err)
	}

	writeTestFiles(t, dir, map[string]string{"b.txt": "B2\n"})
	id3, log, err := buildIn(t, e, dir, build.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := log.cached(); got != "HHHMM" || id3 == id1 {
		t.Errorf("rebuild after changing b.txt: cache %s, want HHHMM and a new image", got)
	}

	id4, log, err := buildIn(t, e, dir, build.Options{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := log.cached(); got != "MMMMM" || id4 != id3 {
		t.Errorf("--no-cache: cache %s, id %s, want MMMMM and the same id %s", got, id4, id3)
	}
	id5, _, err := buildIn(t, e, dir, build.Options{NoCache: true, Epoch: time.Unix(1700000000, 0)})
	if err != nil || id5 == id4 {
		t.Errorf("another SOURCE_DATE_EPOCH gave %s (%v), want another digest than %s", id5, err, id4)
	}
}

// TestBuildMultiStage builds a two-stage Dockerfile whose final image
// copies from the first, with .dockerignore, USER and a failing step.
func TestBuildMultiStage(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	writeTestFiles(t, dir, map[string]string{
		"Dockerfile": `FROM busybox:test AS build
WORKDIR /src
COPY . .
RUN cat *.txt > /out.txt && ls -a > /listing

FROM busybox:test
COPY --from=build --chown=app:app /out.txt /listing /srv/
USER app
ENV GREETING=hi
HEALTHCHECK CMD true
CMD ["sh", "-c", "id -u; echo $GREETING; stat -c %U /srv/out.txt; cat /srv/out.txt /srv/listing"]
`,
		"a.txt": "one\n", "b.txt": "two\n", "skip.log": "no\n", ".dockerignore": "*.log\n",
	})
	if _, _, err := buildIn(t, e, dir, build.Options{Names: []string{"docker.io/library/multi:test"}}); err != nil {
		t.Fatal(err)
	}
	code, out := run(t, e, CreateOptions{Image: "multi:test"})
	want := "1000\nhi\napp\none\ntwo\n.\n..\n.dockerignore\nDockerfile\na.txt\nb.txt\n"
	if code != 0 || out != want {
		t.Errorf("run multi:test = %d %q, want %q", code, out, want)
	}
	img, _ := e.Images.Lookup("multi:test")
	ic, _ := e.Images.DockerConfig(img)
	if ic.Config.Healthcheck == nil || ic.Config.User != "app" {
		t.Errorf("config: healthcheck %v user %q", ic.Config.Healthcheck, ic.Config.User)
	}

	writeTestFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox:test\nRUN echo before; exit 7\n"})
	_, log, err := buildIn(t, e, dir, build.Options{})
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:2: RUN:") || !strings.Contains(err.Error(), "exit code: 7") {
		t.Fatalf("failing RUN: %v", err)
	}
	if s := log.steps[len(log.steps)-1]; !strings.Contains(s.out.String(), "before") {
		t.Errorf("the failing step's output %q lacks what it printed", s.out.String())
	}
	// Nothing of the failed step is left mounted or in the snapshot store.
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), e.root) {
		t.Errorf("a mount under the engine's root is left after a failed build")
	}
	entries, _ := os.ReadDir(filepath.Join(e.root, "snapshots"))
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), "tmp-") {
			t.Errorf("temporary snapshot %s left after a failed build", en.Name())
		}
	}

	// system df counts the cache; pruning it forgets every record.
	cacheRow := func() DiskUsage {
		rows, err := e.DiskUsage()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Type == "Build Cache" {
				return r
			}
		}
		t.Fatal("system df has no Build Cache line")
		return DiskUsage{}
	}
	if r := cacheRow(); r.Total == 0 || r.Size == 0 {
		t.Errorf("system df's build cache: %+v, want records and their size", r)
	}
	if n, _, err := e.Images.PruneBuildCache(0); err != nil || n == 0 {
		t.Errorf("PruneBuildCache = %d, %v", n, err)
	}
	if r := cacheRow(); r.Total != 0 || r.Size != 0 {
		t.Errorf("system df's build cache after prune: %+v", r)
	}
	e.DB.View(func(tx *metadata.Tx) error {
		return tx.BuildSteps(func(s *metadata.BuildStep) error {
			t.Errorf("record %s left after prune", s.Key)
			return nil
		})
	})
}

// TestBuildParallelStages builds two independent stages that each take
// a second: they run at once, and the stage the target does not need
// is skipped.
func TestBuildParallelStages(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	writeTestFiles(t, dir, map[string]string{"Dockerfile": `FROM busybox:test AS a
RUN sleep 1 && echo a > /a
FROM busybox:test AS b
RUN sleep 1 && echo b > /b
FROM busybox:test AS unused
RUN exit 9
FROM busybox:test
COPY --from=a /a /a
COPY --from=b /b /b
CMD ["cat", "/a", "/b"]
`})
	start := time.Now()
	if _, _, err := buildIn(t, e, dir, build.Options{Names: []string{"docker.io/library/par:test"}, NoCache: true}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 1900*time.Millisecond {
		t.Errorf("two one-second stages took %s: they did not run at once", d)
	}
	if code, out := run(t, e, CreateOptions{Image: "par:test"}); code != 0 || out != "a\nb\n" {
		t.Errorf("run par:test = %d %q", code, out)
	}
}

// TestBuildRunMounts checks RUN --mount: a cache directory outlives its
// build, a secret is readable but stays out of the layer, a bind of the
// context is read-only, a tmpfs is empty; and --network=none has
// loopback alone.
func TestBuildRunMounts(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "token")
	os.WriteFile(secret, []byte("s3cret"), 0o600)
	writeTestFiles(t, dir, map[string]string{
		"in.txt": "from context\n",
		"Dockerfile": `FROM busybox:test
RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/log; wc -l < /cache/log > /count'
RUN --mount=type=secret,id=tok sh -c 'cat /run/secrets/tok || echo none' > /seen
RUN --mount=type=bind,source=in.txt,target=/in.txt cp /in.txt /copied && ! touch /in.txt 2>/dev/null
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /tmpfs-list
RUN --network=none sh -c 'ls /sys/class/net > /nets'
CMD ["sh", "-c", "cat /count /seen /copied /tmpfs-list /nets; ls /run/secrets 2>&1; ls /scratch 2>&1"]
`})
	opts := build.Options{Names: []string{"docker.io/library/mounts:test"}, Secrets: map[string]string{"tok": secret}, NoCache: true}
	for i := 0; i < 2; i++ {
		if _, _, err := buildIn(t, e, dir, opts); err != nil {
			t.Fatal(err)
		}
	}
	code, out := run(t, e, CreateOptions{Image: "mounts:test"})
	want := "2\ns3cretfrom context\nx\nlo\nls: /run/secrets: No such file or directory\nls: /scratch: No such file or directory\n"
	if code == 0 || out != want {
		t.Errorf("run mounts:test = %d %q, want %q", code, out, want)
	}
	delete(opts.Secrets, "tok")
	if _, _, err := buildIn(t, e, dir, opts); err != nil {
		t.Errorf("a secret that is not given is skipped unless required: %v", err)
	}
}

// TestBuildPushPull pushes a built image to a registry and pulls it into
// another store, where it runs and keeps its ID.
func TestBuildPushPull(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	writeTestFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox:test\nRUN echo pushed > /p\nCMD [\"cat\", \"/p\"]\n"})
	id, _, err := buildIn(t, e, dir, build.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.Start(t)
	ref, err := reference.Parse(reg.Ref("built/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Images.Tag(id.String(), ref.String()); err != nil {
		t.Fatal(err)
	}
	c := registry.NewClient(nil)
	defer c.Close()
	if _, err := e.Images.Push(context.Background(), c, ref, nil); err != nil {
		t.Fatal(err)
	}
	e2 := newEngine(t)
	res, err := e2.Images.Pull(context.Background(), c, ref, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.ID != id {
		t.Errorf("pulled image %s, want %s", res.Image.ID, id)
	}
	if code, out := run(t, e2, CreateOptions{Image: ref.String()}); code != 0 || out != "pushed\n" {
		t.Errorf("run of the pulled image = %d %q", code, out)
	}
}

// TestBuildCancel cancels a build while a RUN's shell, which ignores
// SIGINT as a PID 1 does, sleeps: the step's processes are killed and
// nothing stays mounted.
func TestBuildCancel(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	writeTestFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox:test\nRUN sleep 30\n"})
	df, err := build.Parse("Dockerfile", []byte("FROM busybox:test\nRUN sleep 30\n"))
	if err != nil {
		t.Fatal(err)
	}
	bctx, _ := build.OpenContext(dir, "")
	b, release, err := e.BuildBackend()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = build.Build(ctx, b, df, bctx, build.Options{Platform: *image.HostPlatform(), Epoch: time.Unix(0, 0)})
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("cancelled build: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the cancelled build took %s", d)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), e.root) {
		t.Errorf("a mount under the engine's root is left after a cancelled build")
	}
}
