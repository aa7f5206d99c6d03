package compose_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestUpBuildsInParallel: up builds two services' images side by side,
// each build's lines after its service's name, and a failed build stops
// up, naming its service, before any container is made.
func TestUpBuildsInParallel(t *testing.T) {
	b := newBerth(t)
	for _, svc := range []string{"api", "worker"} {
		b.write(svc+"/Dockerfile", "FROM busybox:test\nRUN sleep 2 && echo built-"+svc+" > /which\nCMD [\"sleep\", \"1000\"]\n")
	}
	b.write("compose.yaml", `
services:
  api: {build: ./api, stop_signal: KILL}
  worker: {build: ./worker, stop_signal: KILL}
`)
	out := b.must(nil, "compose", "up", "-d")
	// Both builds start before either ends.
	firstBuilt := min(strings.Index(out, "Service api  Built"), strings.Index(out, "Service worker  Built"))
	for _, svc := range []string{"api", "worker"} {
		if i := strings.Index(out, "Service "+svc+"  Building"); i < 0 || firstBuilt < 0 || i > firstBuilt {
			t.Errorf("%s's build did not start before the first one ended:\n%s", svc, out)
		}
		if !regexp.MustCompile(`(?m)^` + svc + ` +\| #2 .*RUN sleep 2`).MatchString(out) {
			t.Errorf("no line of %s's build after its name:\n%s", svc, out)
		}
		if got := b.must(nil, "compose", "exec", "-T", svc, "cat", "/which"); got != "built-"+svc+"\n" {
			t.Errorf("%s runs %q, want its own image", svc, got)
		}
	}
	b.must(nil, "compose", "down", "-t", "0")

	b.write("worker/Dockerfile", "FROM busybox:test\nRUN exit 3\n")
	out, err := b.run(nil, "compose", "up", "-d", "--build")
	if err == nil || !strings.Contains(out, `service "worker": build`) {
		t.Errorf("up with a failing build: %v, want an error naming worker\n%s", err, out)
	}
	if ps := b.must(nil, "compose", "ps", "-a", "-q"); strings.TrimSpace(ps) != "" {
		t.Errorf("a failed build left containers: %s", ps)
	}
	out, err = b.run(nil, "compose", "build")
	if err == nil || !strings.Contains(out, `service "worker": build`) || !strings.Contains(out, "Service api  Built") {
		t.Errorf("compose build with a failing build: %v, want api built and an error naming worker\n%s", err, out)
	}
}
