package registrytest

import (
	"crypto/tls"
	"net/http"
	"testing"
)

func get(t *testing.T, r *Registry, user, password string) int {
	t.Helper()
	client := &http.Client{}
	if r.CAPool != nil {
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.CAPool}}
	}
	req, err := http.NewRequest("GET", r.URL+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestStart(t *testing.T) {
	r := Start(t)
	if got := get(t, r, "", ""); got != http.StatusOK {
		t.Errorf("GET /v2/ = %d, want 200", got)
	}
	if r.URL != "http://"+r.Host {
		t.Errorf("URL = %q", r.URL)
	}
	want := Request{Method: "GET", Path: "/v2/", Status: 200}
	if reqs := r.Requests(); len(reqs) == 0 || reqs[len(reqs)-1] != want {
		t.Errorf("Requests() = %v, want it to end with %v", reqs, want)
	}
}

func TestStartTLSAuth(t *testing.T) {
	r := Start(t, WithTLS(), WithBasicAuth("alice", "s3cret"))
	if r.CAFile == "" || r.URL != "https://"+r.Host {
		t.Fatalf("CAFile %q URL %q", r.CAFile, r.URL)
	}
	if got := get(t, r, "", ""); got != http.StatusUnauthorized {
		t.Errorf("GET /v2/ without credentials = %d, want 401", got)
	}
	if got := get(t, r, "alice", "wrong"); got != http.StatusUnauthorized {
		t.Errorf("GET /v2/ with a wrong password = %d, want 401", got)
	}
	if got := get(t, r, "alice", "s3cret"); got != http.StatusOK {
		t.Errorf("GET /v2/ with credentials = %d, want 200", got)
	}
}

func TestPutManifestSchema1(t *testing.T) {
	r := Start(t)
	dgst := r.PutManifest(t, "old/image", "v1", Schema1Manifest("old/image", "v1"))
	req, err := http.NewRequest("GET", r.URL+"/v2/old/image/manifests/v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v1+prettyjws")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the stored schema 1 manifest: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.docker.distribution.manifest.v1+prettyjws" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != dgst {
		t.Errorf("Docker-Content-Digest = %q, want %q", got, dgst)
	}
}
