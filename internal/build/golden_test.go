package build

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeBackend runs no process: Run records what it was asked to run.
// Layers are plain directories copied from the one below, so that COPY
// and ADD can be checked by what the final tree holds.
type fakeBackend struct {
	t      *testing.T
	db     *metadata.DB
	dirs   map[digest.Digest]string
	n      int
	runs   []Process
	config []byte
	top    digest.Digest
}

type fakeLayer struct{ dir string }

func (l *fakeLayer) Root() string { return l.dir }

func newFake(t *testing.T) *fakeBackend {
	f := &fakeBackend{t: t, db: metadata.Open(filepath.Join(t.TempDir(), "metadata.db")), dirs: map[digest.Digest]string{}}
	base := t.TempDir()
	os.MkdirAll(filepath.Join(base, "etc"), 0o755)
	os.WriteFile(filepath.Join(base, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(base, "etc/group"), []byte("root:x:0:\napp:x:1000:\nstaff:x:50:\n"), 0o644)
	f.dirs["sha256:base"] = base
	return f
}

func (f *fakeBackend) Image(ref string) (*BaseImage, error) {
	cfg := imageConfig{Architecture: "amd64", OS: "linux"}
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cfg.Config.Cmd = []string{"sh"}
	switch ref {
	case "base", "debian:bookworm", "golang:1.22", "busybox":
	case "onbuild-base":
		cfg.Config.OnBuild = []string{"ENV TRIGGERED=yes", "LABEL from=onbuild"}
	default:
		return nil, errdefs.NotFoundf("No such image: %s", ref)
	}
	raw, _ := json.Marshal(cfg)
	return &BaseImage{ID: digest.FromString(ref), Config: raw, Chain: []digest.Digest{"sha256:base"},
		Layers: []metadata.BuildLayer{{Blob: "sha256:base", DiffID: "sha256:base"}}}, nil
}

func (f *fakeBackend) Prepare(chain []digest.Digest) (Layer, error) {
	dir := f.t.TempDir()
	if len(chain) > 0 {
		src := f.dirs[chain[len(chain)-1]]
		if out, err := exec.Command("cp", "-a", src+"/.", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cp: %v: %s", err, out)
		}
	}
	return &fakeLayer{dir: dir}, nil
}

func (f *fakeBackend) Run(_ context.Context, l Layer, p Process) (int, error) {
	p.Stdout = nil
	f.runs = append(f.runs, p)
	if len(p.Args) > 0 && strings.Contains(p.Args[len(p.Args)-1], "exit 3") {
		return 3, nil
	}
	return 0, nil
}

func (f *fakeBackend) Commit(_ context.Context, l Layer, parent digest.Digest, _ []string, _ int64) (metadata.BuildLayer, digest.Digest, int64, bool, error) {
	f.n++
	d := digest.FromString(fmt.Sprint(f.n))
	f.dirs[d] = l.Root()
	return metadata.BuildLayer{Blob: d, DiffID: d}, d, 1, true, nil
}

func (f *fakeBackend) Discard(Layer) {}

func (f *fakeBackend) Store(_ context.Context, config []byte, layers []digest.Digest, _ []string) (digest.Digest, error) {
	f.config = config
	if len(layers) > 0 {
		f.top = layers[len(layers)-1]
	}
	return digest.FromBytes(config), nil
}

func (f *fakeBackend) DB() *metadata.DB { return f.db }
func (f *fakeBackend) CacheDir() string { return f.t.TempDir() }

// golden is what a case checks: the image config, its history, the
// processes RUN steps ran and the final tree.
type golden struct {
	Config  json.RawMessage `json:"config"`
	History []string        `json:"history"`
	Runs    []goldenRun     `json:"runs,omitempty"`
	Files   []string        `json:"files,omitempty"`
}

type goldenRun struct {
	Args    []string `json:"args"`
	Env     []string `json:"env"`
	Cwd     string   `json:"cwd,omitempty"`
	User    string   `json:"user,omitempty"`
	Network string   `json:"network"`
	Mounts  []string `json:"mounts,omitempty"`
}

// TestGolden builds every folder of testdata/golden (its Dockerfile,
// the folder as context) with a backend that runs nothing, and compares
// the result with the folder's want.json, or the error with error.txt.
// Optional files: build-args (KEY=VALUE lines) and target.
func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/golden", c.Name())
			got, err := runGolden(t, dir)
			wantErr, hasErr := os.ReadFile(filepath.Join(dir, "error.txt"))
			if hasErr == nil {
				w := strings.TrimSpace(string(wantErr))
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("build error = %v, want one containing %q", err, w)
				}
				return
			}
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			b, _ := json.MarshalIndent(got, "", "  ")
			b = append(b, '\n')
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				os.WriteFile(wantPath, b, 0o644)
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if string(want) != string(b) {
				t.Errorf("result differs from %s:\ngot:\n%s\nwant:\n%s", wantPath, b, want)
			}
		})
	}
}

func runGolden(t *testing.T, dir string) (*golden, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := Parse("Dockerfile", data)
	if err != nil {
		return nil, err
	}
	bctx, err := OpenContext(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		return nil, err
	}
	opts := Options{BuildArgs: map[string]string{}, Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Epoch: time.Unix(0, 0).UTC(), Network: NetworkHost}
	if b, err := os.ReadFile(filepath.Join(dir, "build-args")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			k, v, _ := strings.Cut(l, "=")
			opts.BuildArgs[k] = v
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "target")); err == nil {
		opts.Target = strings.TrimSpace(string(b))
	}
	f := newFake(t)
	if _, err := Build(context.Background(), f, df, bctx, opts); err != nil {
		return nil, err
	}
	var cfg imageConfig
	if err := json.Unmarshal(f.config, &cfg); err != nil {
		t.Fatal(err)
	}
	g := &golden{}
	g.Config, _ = json.Marshal(cfg.Config)
	for _, h := range cfg.History {
		g.History = append(g.History, h.CreatedBy)
	}
	for _, r := range f.runs {
		gr := goldenRun{Args: r.Args, Env: r.Env, Cwd: r.Cwd, User: r.User, Network: string(r.Network)}
		for _, m := range r.Mounts {
			gr.Mounts = append(gr.Mounts, m.Type+":"+m.Destination+":"+strings.Join(m.Options, ","))
		}
		g.Runs = append(g.Runs, gr)
	}
	if top, ok := f.dirs[f.top]; ok && f.top != "sha256:base" {
		filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == top {
				return err
			}
			rel, _ := filepath.Rel(top, p)
			if strings.HasPrefix(rel, "etc") {
				return nil
			}
			fi, _ := d.Info()
			line := fmt.Sprintf("%s %v", rel, fi.Mode())
			if fi.Mode().IsRegular() {
				b, _ := os.ReadFile(p)
				line += fmt.Sprintf(" %q", b)
			}
			g.Files = append(g.Files, line)
			return nil
		})
		sort.Strings(g.Files)
	}
	return g, nil
}
