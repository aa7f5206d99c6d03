package registry

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLimitedBody(t *testing.T) {
	exact := &limitedBody{rc: io.NopCloser(bytes.NewReader(make([]byte, 100))), left: 100}
	if b, err := io.ReadAll(exact); err != nil || len(b) != 100 {
		t.Errorf("a body of exactly the limit: %d bytes, %v", len(b), err)
	}
	over := &limitedBody{rc: io.NopCloser(bytes.NewReader(make([]byte, 101))), left: 100}
	if _, err := io.ReadAll(over); err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("a body over the limit: %v", err)
	}
}

func TestGuardMayAuthorize(t *testing.T) {
	g := NewClient(nil).newGuard("registry.example:5000")
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{}}
	resp.Header.Add("WWW-Authenticate", `Bearer realm="https://auth.example/token",service="registry"`)
	g.learnRealm(mustURL(t, "https://registry.example:5000/v2/"), resp)
	// A realm named by another host is not learned.
	other := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{}}
	other.Header.Add("WWW-Authenticate", `Bearer realm="https://evil.example/token"`)
	g.learnRealm(mustURL(t, "https://storage.example/blob"), other)

	for u, want := range map[string]bool{
		"https://registry.example:5000/v2/x/manifests/y": true,
		"http://registry.example:5000/v2/":               true,
		"https://REGISTRY.example:5000/v2/":              true,
		"https://registry.example/v2/":                   false,
		"https://auth.example/token":                     true,
		"https://auth.example:443/token":                 true,
		"http://auth.example/token":                      false,
		"https://evil.example/token":                     false,
		"https://storage.example/blob":                   false,
	} {
		if got := g.mayAuthorize(mustURL(t, u)); got != want {
			t.Errorf("mayAuthorize(%s) = %v, want %v", u, got, want)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
