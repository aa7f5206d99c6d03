package engine

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"berth/internal/build"
	"berth/internal/image"
	"berth/internal/testfixture"
)

const debianMirror = "http://deb.debian.org/debian"

// debianRootfs returns a tar of a Debian bookworm root filesystem made
// with debootstrap. It is cached between test runs on one machine, in
// $BERTH_TEST_CACHE (default /var/cache/berth-test), since making it
// takes minutes.
func debianRootfs(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("BERTH_TEST_CACHE")
	if cache == "" {
		cache = "/var/cache/berth-test"
	}
	arch := map[string]string{"amd64": "amd64", "arm64": "arm64", "386": "i386", "ppc64le": "ppc64el", "s390x": "s390x"}[runtime.GOARCH]
	tarball := filepath.Join(cache, "debian-bookworm-minbase-"+arch+".tar")
	if _, err := os.Stat(tarball); err == nil {
		return tarball
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("needs debootstrap to make a Debian root filesystem (apt-get install debootstrap), or " + tarball)
	}
	dir := filepath.Join(t.TempDir(), "rootfs")
	out, err := exec.Command("debootstrap", "--variant=minbase", "--arch="+arch, "bookworm", dir, debianMirror).CombinedOutput()
	if err != nil {
		t.Fatalf("debootstrap: %v\n%s", err, out)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := tarball + ".tmp"
	if out, err := exec.Command("tar", "--numeric-owner", "-C", dir, "-cf", tmp, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, tarball); err != nil {
		t.Fatal(err)
	}
	return tarball
}

// mirrorReachable says why the Debian mirror cannot be reached, or nil.
func mirrorReachable() error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(debianMirror + "/dists/bookworm/Release")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}

// TestBuildDebian builds on a debootstrapped Debian the way real
// projects do: apt-get installs a package over the network, and the
// image runs it; then a multi-stage build compiles a C program with
// Debian's gcc into an image that holds the binary alone.
func TestBuildDebian(t *testing.T) {
	testfixture.RequireRoot(t)
	testfixture.RequireFeature(t, "the Debian mirror "+debianMirror, mirrorReachable)
	tarball := debianRootfs(t)
	root := t.TempDir()
	e, err := Open(root, filepath.Join(root, "runtime"))
	if err != nil {
		t.Fatal(err)
	}
	// The RUN steps' bridge would outlive the temp root.
	t.Cleanup(func() { e.ReleaseNetworks() })
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := image.ContainerConfig{Cmd: []string{"bash"}}
	if _, err := e.Images.Import(context.Background(), f, image.ImportOptions{Names: []string{"docker.io/library/debian:test"}, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTestFiles(t, dir, map[string]string{"Dockerfile": `FROM debian:test
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends hello \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home app
USER app
WORKDIR /home/app
CMD ["sh", "-c", "hello; id -un; pwd"]
`})
	if _, log, err := buildIn(t, e, dir, build.Options{Names: []string{"docker.io/library/hello:test"}}); err != nil {
		for _, s := range log.steps {
			t.Logf("%s:\n%s", s.name, s.out.String())
		}
		t.Fatal(err)
	}
	if code, out := run(t, e, CreateOptions{Image: "hello:test"}); code != 0 || out != "Hello, world!\napp\n/home/app\n" {
		t.Errorf("run hello:test = %d %q", code, out)
	}

	// A C program built with Debian's gcc into an image of its own.
	writeTestFiles(t, dir, map[string]string{
		"hello.c": "#include <stdio.h>\nint main(void) { puts(\"hello from C\"); return 0; }\n",
		"Dockerfile": `FROM debian:test AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev
WORKDIR /src
COPY hello.c .
RUN gcc -static -O2 -o /hello hello.c

FROM scratch
COPY --from=build /hello /hello
USER 65534
ENTRYPOINT ["/hello"]
`})
	if _, log, err := buildIn(t, e, dir, build.Options{Names: []string{"docker.io/library/hello-c:test"}}); err != nil {
		for _, s := range log.steps {
			t.Logf("%s:\n%s", s.name, s.out.String())
		}
		t.Fatal(err)
	}
	if code, out := run(t, e, CreateOptions{Image: "hello-c:test"}); code != 0 || out != "hello from C\n" {
		t.Errorf("run hello-c:test = %d %q", code, out)
	}
	img, err := e.Images.Lookup("hello-c:test")
	if err != nil || len(img.Chain) != 1 {
		t.Errorf("hello-c:test: %v, %d layers, want the binary's alone", err, len(img.Chain))
	}
}
