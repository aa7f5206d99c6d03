package compose_test

import (
	"io"
	"log"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// TestPullInParallel: compose pull fetches the services' images from a
// registry side by side, each line after its service's name, reports a
// missing one naming its service, and with --ignore-pull-failures pulls
// the rest.
func TestPullInParallel(t *testing.T) {
	b := newBerth(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	for _, tag := range []string{"one", "two"} {
		name := host + "/bb:" + tag
		b.must(nil, "tag", "busybox:test", name)
		b.must(nil, "push", name)
		b.must(nil, "rmi", name)
	}
	b.write("compose.yaml", `
services:
  first: {image: `+host+`/bb:one}
  second: {image: `+host+`/bb:two}
  again: {image: `+host+`/bb:two}
  gone: {image: `+host+`/bb:missing}
`)
	out, err := b.run(nil, "compose", "pull")
	if err == nil || !strings.Contains(out, `service "gone"`) {
		t.Errorf("compose pull with a missing image: %v, want an error naming gone\n%s", err, out)
	}
	out = b.must(nil, "compose", "pull", "--ignore-pull-failures")
	if !strings.Contains(out, "bb:missing  Error") {
		t.Errorf("compose pull --ignore-pull-failures does not report the missing image:\n%s", out)
	}
	if n := strings.Count(out, "/bb:two  Pulled"); n != 1 {
		t.Errorf("bb:two, the image of two services, pulled %d times, want once:\n%s", n, out)
	}
	for _, svc := range []string{"first", "again|second"} {
		if !regexp.MustCompile(`(?m)^(` + svc + `) +\| `).MatchString(out) {
			t.Errorf("no line of %s's pull after its name:\n%s", svc, out)
		}
	}
	for _, tag := range []string{"one", "two"} {
		b.must(nil, "image", "inspect", host+"/bb:"+tag)
	}
	if out := b.must(nil, "compose", "run", "--rm", "-T", "--pull", "always", "first", "echo", "ran"); !strings.Contains(out, "Pulling from") {
		t.Errorf("run --pull always shows no pull:\n%s", out)
	}
	if out := b.must(nil, "compose", "run", "--rm", "-T", "--pull", "always", "--quiet-pull", "first", "echo", "ran"); strings.Contains(out, "Pulling from") || !strings.Contains(out, "ran") {
		t.Errorf("run --quiet-pull printed the pull's progress:\n%s", out)
	}
}
