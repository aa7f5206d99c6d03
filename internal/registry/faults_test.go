package registry

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"berth/internal/errdefs"
)

func isManifest(r *http.Request) bool { return strings.Contains(r.URL.Path, "/manifests/") }

func TestRetriesThenRegistryError(t *testing.T) {
	f := newFakeRegistry(t, randomImage(t, 1))
	f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !isManifest(r) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"errors":[{"code":"UNKNOWN","message":"storage is down"}]}`))
		return true
	})
	_, err := newClient(t, nil).Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{})
	if want := "pull " + f.host + "/x:y: storage is down (500)"; err == nil || err.Error() != want {
		t.Errorf("Resolve = %v, want %q", err, want)
	}
	if n := f.count("/manifests/"); n != 3 {
		t.Errorf("the manifest was asked for %d times, want 3 tries", n)
	}

	f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !isManifest(r) {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	_, err = newClient(t, nil).Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{})
	if want := "pull " + f.host + "/x:y: service unavailable (503)"; err == nil || err.Error() != want {
		t.Errorf("Resolve = %v, want %q", err, want)
	}
}

func TestRetrySucceeds(t *testing.T) {
	f := newFakeRegistry(t, randomImage(t, 1))
	var failures atomic.Int32
	f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !isManifest(r) || failures.Add(1) > 2 {
			return false
		}
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	if _, err := newClient(t, nil).Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{}); err != nil {
		t.Fatalf("Resolve after two 502s: %v", err)
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	f := newFakeRegistry(t, randomImage(t, 1))
	f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !isManifest(r) {
			return false
		}
		w.WriteHeader(http.StatusForbidden)
		return true
	})
	_, err := newClient(t, nil).Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{})
	if want := "pull " + f.host + "/x:y: forbidden (403)"; err == nil || err.Error() != want {
		t.Errorf("Resolve = %v, want %q", err, want)
	}
	if n := f.count("/manifests/"); n != 1 {
		t.Errorf("a 403 was tried %d times, want once", n)
	}
}

func TestConnectionClosed(t *testing.T) {
	f := newFakeRegistry(t, randomImage(t, 1))
	f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if !isManifest(r) {
			return false
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	})
	_, err := newClient(t, nil).Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{})
	if err == nil || !strings.Contains(err.Error(), "pull "+f.host+"/x:y: the registry closed the connection") {
		t.Errorf("Resolve = %v, want an error that says the registry closed the connection", err)
	}
	if n := f.count("/manifests/"); n < 3 {
		t.Errorf("the manifest was asked for %d times, want at least 3 tries", n)
	}
}

func TestManifestTooLarge(t *testing.T) {
	f := newFakeRegistry(t, randomImage(t, 1))
	big := append(bytes.Repeat([]byte(" "), MaxManifestSize), f.manifest...)
	for _, chunked := range []bool{false, true} {
		f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
			if !isManifest(r) {
				return false
			}
			w.Header().Set("Content-Type", f.mt)
			if !chunked {
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			}
			for b := big; len(b) > 0; b = b[min(len(b), 64<<10):] {
				if _, err := w.Write(b[:min(len(b), 64<<10)]); err != nil {
					break
				}
				http.NewResponseController(w).Flush()
			}
			return true
		})
		_, err := newClient(t, nil).Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{})
		if err == nil || !strings.Contains(err.Error(), "larger than the limit of 4194304 bytes") {
			t.Errorf("chunked %v: Resolve = %v, want an error about the size", chunked, err)
		}
		if !chunked && !strings.Contains(err.Error(), strconv.Itoa(len(big))+" bytes") {
			t.Errorf("Resolve = %v, want it to name the Content-Length", err)
		}
	}
}

func TestManifestMediaTypes(t *testing.T) {
	f := newFakeRegistry(t, randomImage(t, 1))
	serve := func(contentType, body string) {
		f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
			if !isManifest(r) {
				return false
			}
			if contentType != "" {
				w.Header().Set("Content-Type", contentType)
			}
			w.Write([]byte(body))
			return true
		})
	}
	resolve := func() error {
		_, err := newClient(t, nil).Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{})
		return err
	}

	serve("application/vnd.example.thing.v1+json", `{"schemaVersion":2,"mediaType":"application/vnd.example.thing.v1+json"}`)
	if err := resolve(); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), `unsupported manifest media type "application/vnd.example.thing.v1+json"`) {
		t.Errorf("an unknown media type: %v", err)
	}

	// A registry that sends plain JSON gets the manifest's own word.
	serve("application/json", string(f.manifest))
	if err := resolve(); err != nil {
		t.Errorf("a manifest sent as application/json: %v", err)
	}
	serve("text/plain; charset=utf-8", `{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}`)
	if err := resolve(); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "schema 1") {
		t.Errorf("a schema 1 manifest sent as text/plain: %v", err)
	}

	// A manifest that contradicts the registry's Content-Type is refused.
	serve("application/vnd.oci.image.index.v1+json", string(f.manifest))
	if err := resolve(); err == nil || !strings.Contains(err.Error(), "that says it is") {
		t.Errorf("a manifest that contradicts its Content-Type: %v", err)
	}
	serve("application/vnd.oci.image.manifest.v1+json", `not json`)
	if err := resolve(); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("a manifest that is not JSON: %v", err)
	}
}
