package dockertest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"berth/internal/engine"
)

// buildDockerfile uses most of the instructions that shape an image's
// config, so that berth's and Docker's builds of it can be compared.
const buildDockerfile = `FROM ` + image + `
ENV APP=/srv PATH=/srv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR $APP
COPY hello.txt .
RUN echo built > built.txt && chmod 640 built.txt
EXPOSE 8080 53/udp
VOLUME /data
LABEL org.example.name="built by both" version=1
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
ONBUILD RUN echo triggered
USER 1000
ENTRYPOINT ["sh", "-c"]
CMD ["cat hello.txt; ls -l built.txt | cut -c1-10; id -u; pwd"]
`

// testBuild builds one Dockerfile with berth and with Docker's classic
// builder: `berth save | docker load` then `docker run` prints what
// `berth run` prints, and both images have the same run configuration.
func (e *env) testBuild(t *testing.T) {
	e.d.watchLogs(t)
	root := t.TempDir()
	// The build's RUN steps and run use the root's default bridge, which
	// would outlive the temp root.
	t.Cleanup(func() {
		if en, err := engine.Open(root, filepath.Join(root, "runtime")); err == nil {
			en.ReleaseNetworks()
		}
	})
	berthCmd(t, root, []byte(e.mustDocker(t, "save", image).stdout), "load")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(buildDockerfile), 0o644)
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644)
	iid := filepath.Join(t.TempDir(), "iid")
	id := strings.TrimSpace(berthCmd(t, root, nil, "build", "-q", "--iidfile", iid, "-t", "built-by-berth:1", dir))
	if b, err := os.ReadFile(iid); err != nil || string(b) != id || !strings.HasPrefix(id, "sha256:") {
		t.Errorf("build -q printed %q, --iidfile holds %q (%v)", id, b, err)
	}
	want := "hello\n-rw-r-----\n1000\n/srv\n"
	if out := berthCmd(t, root, nil, "run", "--rm", "built-by-berth:1"); out != want {
		t.Errorf("berth run = %q, want %q", out, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	saved := berthCmd(t, root, nil, "save", "built-by-berth:1")
	if r := e.d.docker(ctx, strings.NewReader(saved), "load"); !r.ok() {
		t.Fatalf("docker load of berth's build: %s", r)
	}
	if r := e.docker("run", "--rm", "--network", "none", "built-by-berth:1"); !r.ok() || r.stdout != want {
		t.Errorf("docker run of berth's build = %s, want %q", r, want)
	}

	classic := *e.d
	classic.env = append(slices.Clone(e.d.env), "DOCKER_BUILDKIT=0")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*stepTimeout)
	defer cancel2()
	if r := classic.docker(ctx2, nil, "build", "-q", "-t", "built-by-docker:1", dir); !r.ok() {
		t.Fatalf("docker build: %s", r)
	}
	if r := e.docker("run", "--rm", "--network", "none", "built-by-docker:1"); !r.ok() || r.stdout != want {
		t.Errorf("docker run of Docker's build = %s, want %q", r, want)
	}
	cfg := func(name string) map[string]any {
		var c map[string]any
		json.Unmarshal([]byte(e.inspect(t, name, "{{json .Config}}")), &c)
		out := map[string]any{}
		for _, k := range []string{"Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
			"Labels", "StopSignal", "Healthcheck", "OnBuild"} {
			out[k] = c[k]
		}
		return out
	}
	b, d := cfg("built-by-berth:1"), cfg("built-by-docker:1")
	for k := range d {
		if !reflect.DeepEqual(b[k], d[k]) {
			t.Errorf("config %s: berth %v, Docker %v", k, b[k], d[k])
		}
	}
	e.docker("rmi", "built-by-berth:1", "built-by-docker:1")
}
