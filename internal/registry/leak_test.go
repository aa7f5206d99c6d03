package registry

import (
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// authLog records the Authorization headers a server saw.
type authLog struct {
	mu   sync.Mutex
	seen []string
}

func (a *authLog) add(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
}

func (a *authLog) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// loginTo stores credentials for host in the client's Docker config.
func loginTo(t *testing.T, c *Client, host, user, password string) {
	t.Helper()
	writeDockerConfig(t, c.dockerConfigDir(), `{"auths": {"`+host+`": {"auth": "`+basicAuth(user, password)+`"}}}`)
}

// portOf returns the port of an httptest server.
func portOf(t *testing.T, s *httptest.Server) string {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// A registry that sends its blobs elsewhere, as to cloud storage, must not
// hand that host the credentials.
func TestRedirectCarriesNoCredentials(t *testing.T) {
	img := randomImage(t, 1)
	f := newFakeRegistry(t, img)
	layer := digestOf(t, mustLayers(t, img)[0])
	var storage authLog
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		storage.add(r)
		w.Write(f.blobs[layer])
	}))
	t.Cleanup(store.Close)
	want := "Basic " + basicAuth("dave", "pw")
	f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		if strings.HasSuffix(r.URL.Path, "/blobs/"+layer) {
			http.Redirect(w, r, "http://localhost:"+portOf(t, store)+"/blob", http.StatusTemporaryRedirect)
			return true
		}
		return false
	})

	c := newClient(t, nil)
	loginTo(t, c, f.host, "dave", "pw")
	ctx := context.Background()
	r, err := c.Resolve(ctx, mustParse(t, f.host+"/x:y"), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.Open(ctx, r.Image.Layers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if got := storage.all(); len(got) != 1 || got[0] != "" {
		t.Errorf("the storage host saw Authorization %q, want one request without", got)
	}
	if f.count("/blobs/"+layer) == 0 {
		t.Errorf("the registry was never asked for the layer")
	}
}

// go-containerregistry sends the credentials to the token realm the
// registry names, over plain HTTP when the registry is insecure; berth
// does not, when the realm is on another host.
func TestPlainHTTPTokenRealmOnAnotherHostGetsNoCredentials(t *testing.T) {
	var tokens authLog
	tokenServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens.add(r)
		w.Write([]byte(`{"token":"anonymous-token"}`))
	}))
	t.Cleanup(tokenServer.Close)

	f := newFakeRegistry(t, randomImage(t, 1))
	realm := "http://localhost:" + portOf(t, tokenServer) + "/token"
	f.setHandler(bearerOnly(realm, "anonymous-token"))

	c := newClient(t, nil)
	loginTo(t, c, f.host, "erin", "secret")
	if _, err := c.Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{}); err != nil {
		t.Fatal(err)
	}
	got := tokens.all()
	if len(got) == 0 {
		t.Fatal("the token server was never asked")
	}
	for _, a := range got {
		if a != "" {
			t.Errorf("the plain HTTP token server on another host got Authorization %q", a)
		}
	}
}

// A token realm that the registry names over HTTPS gets the credentials
// to exchange, as Docker Hub's auth.docker.io does.
func TestHTTPSTokenRealmGetsCredentials(t *testing.T) {
	var tokens authLog
	tokenServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokens.add(r)
		w.Write([]byte(`{"token":"user-token"}`))
	}))
	t.Cleanup(tokenServer.Close)
	// httptest's certificate names example.com; the tests' dialer sends
	// that name to 127.0.0.1.
	tokenHost := "example.com:" + portOf(t, tokenServer)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tokenServer.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	f := newFakeRegistry(t, randomImage(t, 1))
	f.setHandler(bearerOnly("https://"+tokenHost+"/token", "user-token"))
	c := newClient(t, &Config{Registries: map[string]HostConfig{tokenHost: {CA: ca}}})
	loginTo(t, c, f.host, "frank", "secret")
	if _, err := c.Resolve(context.Background(), mustParse(t, f.host+"/x:y"), ResolveOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "Basic " + basicAuth("frank", "secret")
	for _, a := range tokens.all() {
		if a != want {
			t.Errorf("the HTTPS token server got Authorization %q, want %q", a, want)
		}
	}
}

// A redirect to plain HTTP on a host that is not insecure is refused.
func TestRedirectToPlainHTTPIsRefused(t *testing.T) {
	img := randomImage(t, 1)
	f := newFakeRegistry(t, img)
	layer := digestOf(t, mustLayers(t, img)[0])
	var storage authLog
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { storage.add(r) }))
	t.Cleanup(store.Close)
	f.setHandler(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/blobs/"+layer) {
			http.Redirect(w, r, "http://"+testHost+":"+portOf(t, store)+"/blob", http.StatusTemporaryRedirect)
			return true
		}
		return false
	})
	c := newClient(t, nil)
	ctx := context.Background()
	r, err := c.Resolve(ctx, mustParse(t, f.host+"/x:y"), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Open(ctx, r.Image.Layers[0], nil)
	if err == nil || !strings.Contains(err.Error(), "refusing plain HTTP to "+testHost) {
		t.Errorf("Open = %v, want a refusal of plain HTTP", err)
	}
	if n := len(storage.all()); n != 0 {
		t.Errorf("the storage host got %d requests", n)
	}
}

// bearerOnly answers 401 with a Bearer challenge naming realm to every
// request without the token.
func bearerOnly(realm, token string) func(w http.ResponseWriter, r *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") == "Bearer "+token {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="fake",scope="repository:x:pull"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
}
