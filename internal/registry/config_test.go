package registry

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"berth/internal/errdefs"
	"berth/internal/registrytest"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig(filepath.Join(dir, "missing.json"))
	if err != nil || len(c.Registries) != 0 {
		t.Fatalf("LoadConfig of a missing file = %+v, %v; want an empty config", c, err)
	}

	path := filepath.Join(dir, "registries.json")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"registries": {
		"https://index.docker.io/v1/": {"mirrors": ["https://mirror.local:5000", "http://plain.local"]},
		"MyHost:5000": {"insecure": true},
		"corp.example": {"ca": "corp.pem"}
	}}`)
	c, err = LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Registries["docker.io"].Mirrors; len(got) != 2 {
		t.Errorf("docker.io mirrors = %v", got)
	}
	if ms := c.mirrors("index.docker.io"); len(ms) != 2 || ms[0].host != "mirror.local:5000" || ms[0].insecure || !ms[1].insecure {
		t.Errorf("mirrors(index.docker.io) = %+v", ms)
	}
	if !c.Registries["myhost:5000"].Insecure {
		t.Errorf("myhost:5000 is not insecure: %+v", c.Registries)
	}
	if got := c.Registries["corp.example"].CA; got != filepath.Join(dir, "corp.pem") {
		t.Errorf("a relative CA path became %q, want it next to the config", got)
	}

	for _, bad := range []string{
		`{"registries": {"x": {"mirrors": ["ftp://m"]}}}`,
		`{"registries": {"x": {"mirrors": ["https://m/path"]}}}`,
		`{"registries": {"x": {"insecur": true}}}`,
		`{"registries": {"docker.io": {}, "index.docker.io": {}}}`,
		`{"registries": `,
	} {
		write(bad)
		if _, err := LoadConfig(path); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadConfig(%s) = %v, want an ErrInvalid naming the file", bad, err)
		}
	}
}

func TestIsInsecure(t *testing.T) {
	c := &Config{Registries: map[string]HostConfig{
		"myhost:5000": {Insecure: true},
		"docker.io":   {Mirrors: []string{"http://mirror.local:5000", "https://secure.local"}},
	}}
	for host, want := range map[string]bool{
		"localhost":            true,
		"localhost:5000":       true,
		"LOCALHOST:5000":       true,
		"127.0.0.1":            true,
		"127.0.0.1:5000":       true,
		"127.1.2.3:443":        true,
		"[::1]:5000":           true,
		"::1":                  true,
		"myhost:5000":          true,
		"myhost:5001":          false,
		"myhost":               false,
		"mirror.local:5000":    true,
		"secure.local":         false,
		"10.0.0.1:5000":        false,
		"192.168.1.1":          false,
		"example.com":          false,
		"localhost.example":    false,
		"128.0.0.1":            false,
		"registry.test:5000":   false,
		"[::ffff:127.0.0.1]:1": true,
	} {
		if got := c.IsInsecure(host); got != want {
			t.Errorf("IsInsecure(%q) = %v, want %v", host, got, want)
		}
	}
	var none *Config
	if none.IsInsecure("example.com") || !none.IsInsecure("localhost") {
		t.Error("a nil Config does not follow the defaults")
	}
}

func TestMirrors(t *testing.T) {
	reg := registrytest.Start(t)
	img := randomImage(t, 1)
	pushWithGGCR(t, reg.Ref("lib/app:v1"), img)
	// The registry itself is a name that leads nowhere: a closed port.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, deadPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	origin := testHost + ":" + deadPort
	ref := mustParse(t, origin+"/lib/app:v1")
	ctx := context.Background()

	c := newClient(t, &Config{Registries: map[string]HostConfig{
		origin: {Mirrors: []string{"http://127.0.0.1:" + deadPort, "http://" + reg.Host}},
	}})
	r, err := c.Resolve(ctx, ref, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Endpoint != reg.Host {
		t.Errorf("resolved from %q, want the second mirror %q", r.Endpoint, reg.Host)
	}
	rc, err := r.Open(ctx, r.Image.Layers[0], nil)
	if err != nil {
		t.Fatalf("opening a layer from the mirror: %v", err)
	}
	rc.Close()

	// When every mirror fails, the registry's own error says so.
	c = newClient(t, &Config{Registries: map[string]HostConfig{
		origin: {Mirrors: []string{"http://127.0.0.1:" + deadPort}},
	}})
	_, err = c.Resolve(ctx, ref, ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "after its mirrors failed: mirror 127.0.0.1:"+deadPort) {
		t.Errorf("Resolve with dead mirror and registry = %v", err)
	}

	// The registry answers when its mirror does not have the image.
	empty := registrytest.Start(t)
	c = newClient(t, &Config{Registries: map[string]HostConfig{
		reg.Host: {Mirrors: []string{"http://" + empty.Host}},
	}})
	r, err = c.Resolve(ctx, mustParse(t, reg.Ref("lib/app:v1")), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Endpoint != reg.Host {
		t.Errorf("resolved from %q, want the registry %q", r.Endpoint, reg.Host)
	}
	if countRequests(empty, "GET", "/v2/lib/app/manifests/v1") == 0 {
		t.Error("the mirror was not asked first")
	}
}
