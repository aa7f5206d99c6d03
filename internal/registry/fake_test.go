package registry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fakeRegistry is an httptest server that serves one image as x:y, for
// faults that a real registry does not make. A test changes its answers
// with handle.
type fakeRegistry struct {
	*httptest.Server
	host     string // 127.0.0.1:port
	manifest []byte
	mt       string
	blobs    map[string][]byte // config and layers by digest

	mu       sync.Mutex
	requests []seenRequest
	// handle, when set, answers the requests it returns true for.
	handle func(w http.ResponseWriter, r *http.Request) bool
}

type seenRequest struct {
	method, path, authorization string
}

func newFakeRegistry(t *testing.T, img v1.Image) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{blobs: map[string][]byte{}}
	var err error
	if f.manifest, err = img.RawManifest(); err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	f.mt = string(mt)
	config, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	f.blobs[cfgName.String()] = config
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		f.blobs[digestOf(t, l)] = compressed(t, l)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	f.host = strings.TrimPrefix(f.URL, "http://")
	return f
}

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, seenRequest{r.Method, r.URL.Path, r.Header.Get("Authorization")})
	handle := f.handle
	f.mu.Unlock()
	if handle != nil && handle(w, r) {
		return
	}
	switch {
	case r.URL.Path == "/v2/":
		w.WriteHeader(http.StatusOK)
	case strings.HasPrefix(r.URL.Path, "/v2/x/manifests/"):
		w.Header().Set("Content-Type", f.mt)
		w.Write(f.manifest)
	case strings.HasPrefix(r.URL.Path, "/v2/x/blobs/"):
		blob, ok := f.blobs[strings.TrimPrefix(r.URL.Path, "/v2/x/blobs/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(blob)
	default:
		http.NotFound(w, r)
	}
}

// count counts the requests whose path contains part.
func (f *fakeRegistry) count(part string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.Contains(r.path, part) {
			n++
		}
	}
	return n
}

func (f *fakeRegistry) setHandler(h func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handle = h
}
