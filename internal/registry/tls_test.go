package registry

import (
	"context"
	"net"
	"strings"
	"testing"

	"berth/internal/registrytest"
)

// byName returns the registry's host:port with testHost for 127.0.0.1:
// the same registry, under a name that is not this machine's.
func byName(t *testing.T, reg *registrytest.Registry) string {
	t.Helper()
	_, port, err := net.SplitHostPort(reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(testHost, port)
}

func TestTLSVerification(t *testing.T) {
	reg := registrytest.Start(t, registrytest.WithTLS())
	host := byName(t, reg)
	ctx := context.Background()
	img := randomImage(t, 1)

	_, err := newClient(t, nil).Push(ctx, mustParse(t, host+"/app:v1"), img, PushOptions{})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Push to a registry with an unknown CA = %v, want a certificate error", err)
	}

	trusted := newClient(t, &Config{Registries: map[string]HostConfig{host: {CA: reg.CAFile}}})
	if _, err := trusted.Push(ctx, mustParse(t, host+"/app:v1"), img, PushOptions{}); err != nil {
		t.Fatalf("Push with the registry's CA configured: %v", err)
	}
	if _, err := trusted.Resolve(ctx, mustParse(t, host+"/app:v1"), ResolveOptions{}); err != nil {
		t.Fatalf("Resolve with the registry's CA configured: %v", err)
	}

	insecure := newClient(t, &Config{Registries: map[string]HostConfig{host: {Insecure: true}}})
	if _, err := insecure.Resolve(ctx, mustParse(t, host+"/app:v1"), ResolveOptions{}); err != nil {
		t.Errorf("Resolve from a registry configured insecure: %v", err)
	}
	// On 127.0.0.1 the registry is insecure without configuration.
	if _, err := newClient(t, nil).Resolve(ctx, mustParse(t, reg.Ref("app:v1")), ResolveOptions{}); err != nil {
		t.Errorf("Resolve from 127.0.0.1 over TLS without its CA: %v", err)
	}
}

func TestTLSWithBasicAuth(t *testing.T) {
	reg := registrytest.Start(t, registrytest.WithTLS(), registrytest.WithBasicAuth("carol", "pw"))
	host := byName(t, reg)
	c := newClient(t, &Config{Registries: map[string]HostConfig{host: {CA: reg.CAFile}}})
	ctx := context.Background()
	if err := c.Login(ctx, host, "carol", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(ctx, mustParse(t, host+"/app:v1"), randomImage(t, 1), PushOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPlainHTTPNeedsInsecure(t *testing.T) {
	reg := registrytest.Start(t)
	host := byName(t, reg)
	pushWithGGCR(t, reg.Ref("app:v1"), randomImage(t, 1))
	ctx := context.Background()
	before := countRequests(reg, "GET", "/v2/")

	_, err := newClient(t, nil).Resolve(ctx, mustParse(t, host+"/app:v1"), ResolveOptions{})
	if err == nil {
		t.Fatal("Resolve over plain HTTP from a host that is not configured insecure succeeded")
	}
	if n := countRequests(reg, "GET", "/v2/") - before; n != 0 {
		t.Errorf("the registry answered %d plain HTTP requests from a client that should have used HTTPS only", n)
	}

	insecure := newClient(t, &Config{Registries: map[string]HostConfig{host: {Insecure: true}}})
	if _, err := insecure.Resolve(ctx, mustParse(t, host+"/app:v1"), ResolveOptions{}); err != nil {
		t.Errorf("Resolve over plain HTTP from a registry configured insecure: %v", err)
	}
	if _, err := newClient(t, nil).Resolve(ctx, mustParse(t, reg.Ref("app:v1")), ResolveOptions{}); err != nil {
		t.Errorf("Resolve over plain HTTP from 127.0.0.1: %v", err)
	}
}
