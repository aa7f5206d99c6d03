package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"berth/internal/errdefs"
	"berth/internal/registrytest"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestCanonicalHostAndAuthKey(t *testing.T) {
	for _, tc := range []struct{ in, host, key string }{
		{"docker.io", "docker.io", "https://index.docker.io/v1/"},
		{"index.docker.io", "docker.io", "https://index.docker.io/v1/"},
		{"https://index.docker.io/v1/", "docker.io", "https://index.docker.io/v1/"},
		{"myhost:5000", "myhost:5000", "myhost:5000"},
		{"https://myhost:5000/v2/", "myhost:5000", "myhost:5000"},
		{"http://MyHost", "myhost", "myhost"},
		{"127.0.0.1:5000", "127.0.0.1:5000", "127.0.0.1:5000"},
	} {
		if got := CanonicalHost(tc.in); got != tc.host {
			t.Errorf("CanonicalHost(%q) = %q, want %q", tc.in, got, tc.host)
		}
		if got := AuthKey(tc.in); got != tc.key {
			t.Errorf("AuthKey(%q) = %q, want %q", tc.in, got, tc.key)
		}
	}
}

func writeDockerConfig(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

func TestKeychainReadsDockerConfig(t *testing.T) {
	dir := t.TempDir()
	writeDockerConfig(t, dir, `{"auths": {
		"https://index.docker.io/v1/": {"auth": "`+basicAuth("hubuser", "hubpass")+`"},
		"myhost:5000": {"auth": "`+basicAuth("me", "pw")+`"}
	}}`)
	c := NewClient(&Config{DockerConfig: dir})
	for _, tc := range []struct{ registry, user, password string }{
		{"index.docker.io", "hubuser", "hubpass"},
		{"myhost:5000", "me", "pw"},
		{"other:5000", "", ""},
	} {
		reg, err := name.NewRegistry(tc.registry)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := c.keychain().Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		ac, err := auth.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if tc.user == "" {
			if auth != authn.Anonymous {
				t.Errorf("%s: credentials %+v, want anonymous", tc.registry, ac)
			}
			continue
		}
		if ac.Username != tc.user || ac.Password != tc.password {
			t.Errorf("%s: credentials %s/%s, want %s/%s", tc.registry, ac.Username, ac.Password, tc.user, tc.password)
		}
	}

	// Without a configured directory, $DOCKER_CONFIG names it.
	t.Setenv(config.EnvOverrideConfigDir, dir)
	if got := NewClient(nil).dockerConfigDir(); got != dir {
		t.Errorf("dockerConfigDir() = %q, want $DOCKER_CONFIG %q", got, dir)
	}
}

func readDockerConfig(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

func TestLoginBasicAuth(t *testing.T) {
	reg := registrytest.Start(t, registrytest.WithBasicAuth("alice", "s3cret"))
	dir := t.TempDir()
	c := newClient(t, &Config{DockerConfig: dir})
	ctx := context.Background()

	err := c.Login(ctx, reg.Host, "alice", "wrong")
	var rerr *Error
	if !errors.As(err, &rerr) || rerr.Status != 401 || err.Error() != "login "+reg.Host+": authentication required (401)" {
		t.Fatalf("Login with a wrong password = %v, want a 401 error", err)
	}
	if s := readDockerConfig(t, dir); s != "" {
		t.Errorf("a failed login wrote config.json: %s", s)
	}

	// Without credentials the registry refuses, and says so.
	ref := mustParse(t, reg.Ref("private:v1"))
	if _, err := c.Push(ctx, ref, randomImage(t, 1), PushOptions{}); !errors.As(err, &rerr) || rerr.Status != 401 {
		t.Errorf("Push without credentials = %v, want a 401 error", err)
	}

	if err := c.Login(ctx, reg.Host, "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if s := readDockerConfig(t, dir); !strings.Contains(s, `"`+reg.Host+`"`) || !strings.Contains(s, basicAuth("alice", "s3cret")) {
		t.Errorf("config.json after login = %s", s)
	}
	if _, err := c.Push(ctx, ref, randomImage(t, 1), PushOptions{}); err != nil {
		t.Fatalf("Push after login: %v", err)
	}
	if _, err := c.Resolve(ctx, ref, ResolveOptions{}); err != nil {
		t.Fatalf("Resolve after login: %v", err)
	}

	if err := c.Logout(reg.Host); err != nil {
		t.Fatal(err)
	}
	if s := readDockerConfig(t, dir); strings.Contains(s, reg.Host) {
		t.Errorf("config.json after logout = %s", s)
	}
	if err := c.Logout(reg.Host); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a second Logout = %v, want errdefs.ErrNotFound", err)
	}
	_, err = c.Resolve(ctx, ref, ResolveOptions{})
	if !errors.As(err, &rerr) || rerr.Status != 401 {
		t.Errorf("Resolve after logout = %v, want a 401 error", err)
	}
}

func TestLoginCredentialHelper(t *testing.T) {
	reg := registrytest.Start(t, registrytest.WithBasicAuth("bob", "pa55"))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, store := t.TempDir(), t.TempDir()
	if err := os.Symlink(exe, filepath.Join(bin, "docker-credential-berthtest")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(helperEnv, store)

	dir := t.TempDir()
	writeDockerConfig(t, dir, `{"credsStore": "berthtest"}`)
	c := newClient(t, &Config{DockerConfig: dir})
	ctx := context.Background()
	if err := c.Login(ctx, reg.Host, "bob", "pa55"); err != nil {
		t.Fatal(err)
	}
	stored, err := fileHelper(store).load()
	if err != nil {
		t.Fatal(err)
	}
	if got := stored[reg.Host]; got.Username != "bob" || got.Secret != "pa55" {
		t.Errorf("the helper holds %+v for %s", stored, reg.Host)
	}
	if s := readDockerConfig(t, dir); strings.Contains(s, basicAuth("bob", "pa55")) {
		t.Errorf("config.json holds the password although a credsStore is set: %s", s)
	}

	ref := mustParse(t, reg.Ref("app:v1"))
	if _, err := c.Push(ctx, ref, randomImage(t, 1), PushOptions{}); err != nil {
		t.Fatalf("Push with credentials from the helper: %v", err)
	}
	if err := c.Logout(reg.Host); err != nil {
		t.Fatal(err)
	}
	if stored, _ := fileHelper(store).load(); len(stored) != 0 {
		t.Errorf("the helper still holds %+v after logout", stored)
	}
}

func TestLoginRequiresCredentials(t *testing.T) {
	c := newClient(t, nil)
	if err := c.Login(context.Background(), "127.0.0.1:1", "", "x"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Login without a user = %v", err)
	}
}
