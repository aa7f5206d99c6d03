package dockertest

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"berth/internal/registrytest"
	"berth/internal/testfixture"
)

// berthCmd runs the berth binary with its own root and returns stdout.
func berthCmd(t *testing.T, root string, stdin []byte, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, testfixture.BuildBerth(t), append([]string{"--root", root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// testImageArchives moves the busybox image from Docker to berth and
// back: `docker save | berth load` keeps the image ID, and
// `berth save | docker load` gives Docker an image it runs.
func (e *env) testImageArchives(t *testing.T) {
	e.d.watchLogs(t)
	root := t.TempDir()
	saved := e.mustDocker(t, "save", image).stdout
	out := berthCmd(t, root, []byte(saved), "load")
	if !strings.Contains(out, "Loaded image: "+image+":latest") {
		t.Fatalf("berth load said %q", out)
	}
	dockerID := e.inspect(t, image, "{{.Id}}")
	berthID := strings.TrimSpace(berthCmd(t, root, nil, "image", "inspect", "-f", "{{.Id}}", image))
	if dockerID != berthID {
		t.Errorf("image ID: docker %s, berth %s", dockerID, berthID)
	}

	berthCmd(t, root, nil, "tag", image, "from-berth:1")
	archive := berthCmd(t, root, nil, "save", "from-berth:1")
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	if r := e.d.docker(ctx, strings.NewReader(archive), "load"); !r.ok() || !strings.Contains(r.stdout, "from-berth:1") {
		t.Fatalf("docker load of berth save: %s", r)
	}
	if got := e.inspect(t, "from-berth:1", "{{.Id}}"); got != dockerID {
		t.Errorf("docker sees ID %s, want %s", got, dockerID)
	}
	r := e.docker("run", "--runtime", "berth", "--rm", "--network", "none", "from-berth:1", "echo", "round trip")
	if !r.ok() || r.stdout != "round trip\n" {
		t.Errorf("running the image berth saved: %s", r)
	}
	e.docker("rmi", "from-berth:1")
}

// testImageRegistry pushes with berth and pulls with Docker, and back:
// both see the same manifest digest, and Docker runs what berth pushed.
func (e *env) testImageRegistry(t *testing.T) {
	e.d.watchLogs(t)
	reg := registrytest.Start(t)
	root := t.TempDir()
	saved := e.mustDocker(t, "save", image).stdout
	berthCmd(t, root, []byte(saved), "load")
	pushed := reg.Ref("berth/busybox:1")
	berthCmd(t, root, nil, "tag", image, pushed)
	out := berthCmd(t, root, nil, "push", pushed)
	i := strings.Index(out, "digest: ")
	if i < 0 {
		t.Fatalf("berth push said %q", out)
	}
	digest := strings.Fields(out[i+len("digest: "):])[0]
	r := e.mustDocker(t, "pull", pushed)
	if !strings.Contains(r.stdout, digest) {
		t.Errorf("docker pull of what berth pushed: %q, want digest %s", r.stdout, digest)
	}
	if r := e.docker("run", "--runtime", "berth", "--rm", "--network", "none", pushed, "echo", "pulled"); !r.ok() || r.stdout != "pulled\n" {
		t.Errorf("running what docker pulled: %s", r)
	}

	// Docker pushes; berth pulls the same digest.
	fromDocker := reg.Ref("docker/busybox:1")
	e.mustDocker(t, "tag", image, fromDocker)
	r = e.mustDocker(t, "push", fromDocker)
	i = strings.Index(r.stdout, "digest: ")
	if i < 0 {
		t.Fatalf("docker push said %q", r.stdout)
	}
	digest = strings.Fields(r.stdout[i+len("digest: "):])[0]
	out = berthCmd(t, t.TempDir(), nil, "pull", fromDocker)
	if !strings.Contains(out, "Digest: "+digest) {
		t.Errorf("berth pull of what docker pushed: %q, want digest %s", out, digest)
	}
	e.docker("rmi", pushed, fromDocker)
}
