package registry

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"berth/internal/reference"
	"berth/internal/registrytest"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testHost is a host name that the tests' dialer sends to 127.0.0.1, for
// a registry that is not on this machine as far as berth can tell. The
// registrytest certificate covers it.
const testHost = registrytest.Hostname

// newClient returns a client with fast retries and its own, empty Docker
// config, that reaches testHost on 127.0.0.1.
func newClient(t *testing.T, cfg *Config, opts ...Option) *Client {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.DockerConfig == "" {
		cfg.DockerConfig = t.TempDir()
	}
	opts = append([]Option{WithRetry(3, 10*time.Millisecond), WithDialer(loopbackDialer), WithVersion("test")}, opts...)
	c := NewClient(cfg, opts...)
	t.Cleanup(c.Close)
	return c
}

// loopbackDialer dials testHost, any other *.test name, localhost and
// example.com (which httptest's certificate names) on 127.0.0.1, and
// refuses every address that is not on this machine.
func loopbackDialer(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(host, ".test") || host == "localhost" || host == "example.com" {
		host = "127.0.0.1"
	}
	if !isLoopback(host) {
		return nil, &net.AddrError{Err: "tests reach only 127.0.0.1", Addr: addr}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort(host, port))
}

func mustParse(t *testing.T, s string) reference.Ref {
	t.Helper()
	r, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randomImage(t *testing.T, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(2048, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushWithGGCR pushes img with go-containerregistry alone, so that tests
// of berth's pulls do not rest on berth's pushes.
func pushWithGGCR(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	n, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(n, img); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

func pushIndexWithGGCR(t *testing.T, ref string, idx v1.ImageIndex) {
	t.Helper()
	n, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(n, idx); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// twoPlatformIndex is an index of two random images, for linux/amd64 and
// linux/arm64/v8.
func twoPlatformIndex(t *testing.T) (idx v1.ImageIndex, amd64, arm64 v1.Image) {
	t.Helper()
	amd64, arm64 = randomImage(t, 2), randomImage(t, 1)
	idx = mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	return idx, amd64, arm64
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func compressed(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder collects progress updates.
type recorder struct {
	mu      sync.Mutex
	updates []Update
}

func (r *recorder) progress(u Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, u)
}

// last returns the last update of each blob by digest.
func (r *recorder) last() map[string]Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]Update{}
	for _, u := range r.updates {
		m[string(u.Descriptor.Digest)] = u
	}
	return m
}

// countRequests counts the registry's requests with method whose path
// contains part.
func countRequests(r *registrytest.Registry, method, part string) int {
	n := 0
	for _, req := range r.Requests() {
		if req.Method == method && strings.Contains(req.Path, part) {
			n++
		}
	}
	return n
}

// withConfigMediaType returns img as an OCI manifest whose config has the
// media type mt, as artifacts such as Helm charts have.
func withConfigMediaType(t *testing.T, img v1.Image, mt string) v1.Image {
	t.Helper()
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.MediaType(mt))
}

func mustLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}
