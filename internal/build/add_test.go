package build

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestAddURL downloads ADD's URL from a server on loopback: the file
// lands with mode 0600, a wrong --checksum fails the step, and a
// changed download misses the cache.
func TestAddURL(t *testing.T) {
	body := "payload\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/tool.sh" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	sum := digest.FromString(body)
	build := func(f *fakeBackend, df string) error {
		d, err := Parse("Dockerfile", []byte(df))
		if err != nil {
			return err
		}
		_, err = Build(context.Background(), f, d, nil, Options{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
			Epoch: time.Unix(0, 0), Network: NetworkHost, Progress: noProgress{}})
		return err
	}
	f := newFake(t)
	if err := build(f, "FROM base\nADD --checksum="+sum.String()+" "+srv.URL+"/files/tool.sh /opt/\n"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(f.dirs[f.top], "opt/tool.sh")
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ADD of a URL: %v, mode %v, want a file of mode 0600", err, fi)
	}
	if b, _ := os.ReadFile(p); string(b) != body {
		t.Errorf("downloaded %q, want %q", b, body)
	}
	err = build(newFake(t), "FROM base\nADD --checksum=sha256:"+strings.Repeat("0", 64)+" "+srv.URL+"/files/tool.sh /opt/\n")
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:2: ADD:") || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("a wrong checksum gave %v", err)
	}
	if err := build(newFake(t), "FROM base\nADD "+srv.URL+"/missing /x\n"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a missing URL gave %v", err)
	}
	// The same content hits the cache, with or without --checksum; a
	// changed download does not.
	before := f.n
	if err := build(f, "FROM base\nADD "+srv.URL+"/files/tool.sh /opt/\n"); err != nil || f.n != before {
		t.Fatalf("unchanged download: %v, %d layers made, want the cached one", err, f.n-before)
	}
	body = "changed\n"
	if err := build(f, "FROM base\nADD "+srv.URL+"/files/tool.sh /opt/\n"); err != nil || f.n != before+1 {
		t.Errorf("changed download: %v, no new layer", err)
	}
}

// TestLabelsAndTarget: --label adds to the labels the Dockerfile sets,
// and only the stages the target needs run.
func TestLabelsAndTarget(t *testing.T) {
	df, err := Parse("Dockerfile", []byte("FROM base AS a\nLABEL from=file keep=1\nRUN exit 3\nFROM base AS b\nLABEL from=file keep=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t)
	_, err = Build(context.Background(), f, df, nil, Options{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Target: "b", Labels: map[string]string{"from": "flag", "extra": "x"}, Network: NetworkHost})
	if err != nil {
		t.Fatal(err)
	}
	var cfg imageConfig
	json.Unmarshal(f.config, &cfg)
	want := map[string]string{"from": "flag", "keep": "1", "extra": "x"}
	if !reflect.DeepEqual(cfg.Config.Labels, want) {
		t.Errorf("labels = %v, want %v", cfg.Config.Labels, want)
	}
	if len(f.runs) != 0 {
		t.Errorf("stage a ran %d steps though target b does not need it", len(f.runs))
	}
}

// A COPY whose source is a symlink copies what it points to, so a
// change there must miss the cache.
func TestCopySymlinkSourceKey(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "real.txt"), []byte("one\n"), 0o644)
	os.Symlink("real.txt", filepath.Join(dir, "link.txt"))
	df, err := Parse("Dockerfile", []byte("FROM base\nCOPY link.txt /copied\n"))
	if err != nil {
		t.Fatal(err)
	}
	bctx, err := OpenContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t)
	build := func() {
		t.Helper()
		if _, err := Build(context.Background(), f, df, bctx, Options{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, Network: NetworkHost}); err != nil {
			t.Fatal(err)
		}
	}
	build()
	if b, _ := os.ReadFile(filepath.Join(f.dirs[f.top], "copied")); string(b) != "one\n" {
		t.Fatalf("COPY of a symlink copied %q, want its target's content", b)
	}
	os.WriteFile(filepath.Join(dir, "real.txt"), []byte("two\n"), 0o644)
	build()
	if b, _ := os.ReadFile(filepath.Join(f.dirs[f.top], "copied")); string(b) != "two\n" {
		t.Errorf("after the target changed, the image holds %q: the cache hid the change", b)
	}
}
