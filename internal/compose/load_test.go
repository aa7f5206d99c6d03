package compose

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// loadCase loads the project in dir, with the files, environment and
// profiles its args file names ("files: a b", "env: K=V", "profiles: p").
func loadCase(t *testing.T, dir string) (*types.Project, error) {
	t.Helper()
	o := LoadOptions{WorkingDir: dir, Environ: []string{}}
	if b, err := os.ReadFile(filepath.Join(dir, "args")); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "files":
				for _, f := range strings.Fields(v) {
					o.Files = append(o.Files, filepath.Join(dir, f))
				}
			case "env":
				o.Environ = strings.Fields(v)
			case "profiles":
				o.Profiles = strings.Fields(v)
			}
		}
	}
	return Load(context.Background(), o)
}

// TestGolden loads each project under testdata/golden and compares what
// each service becomes, the engine's create options, with the case's
// golden file. A new case is a new folder; -update writes its golden.
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/golden/*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			abs, _ := filepath.Abs(dir)
			p, err := loadCase(t, abs)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var b strings.Builder
			b.WriteString("project: " + p.Name + "\n")
			for _, name := range p.ServiceNames() {
				s := p.Services[name]
				o, err := CreateOptions(p, s, 1, false)
				if err != nil {
					t.Fatalf("CreateOptions(%s): %v", name, err)
				}
				o.Labels[LabelConfigHash] = "HASH"
				j, _ := json.MarshalIndent(map[string]any{"scale": s.GetScale(), "create": o}, "", "  ")
				b.WriteString("service " + name + ":\n" + string(j) + "\n")
			}
			got := strings.ReplaceAll(b.String(), abs, "$DIR")
			golden := filepath.Join(dir, "golden.txt")
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from what loads now:\n%s", golden, got)
			}
		})
	}
}

// TestInvalid checks that each project under testdata/invalid is
// refused at load time with an error naming the file, the service and
// the field (the case's error file holds the part to find).
func TestInvalid(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/invalid/*")
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			abs, _ := filepath.Abs(dir)
			want, _ := os.ReadFile(filepath.Join(dir, "error"))
			p, err := loadCase(t, abs)
			if err == nil {
				_, err = CreateOptions(p, p.Services["a"], 1, false)
			}
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want an error", dir)
			}
			if !strings.Contains(err.Error(), strings.TrimSpace(string(want))) {
				t.Errorf("Load(%s) = %v, want it to say %q", dir, err, strings.TrimSpace(string(want)))
			}
			if !strings.Contains(err.Error(), filepath.Join(abs, "compose.yaml")) {
				t.Errorf("Load(%s) = %v, want it to name the file", dir, err)
			}
		})
	}
}

func TestProjectName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My_App")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  a:\n    image: busybox\n"), 0o644)
	for _, tc := range []struct {
		name    string
		environ []string
		want    string
	}{
		{"", nil, "my_app"},
		{"", []string{"COMPOSE_PROJECT_NAME=fromenv"}, "fromenv"},
		{"flag", []string{"COMPOSE_PROJECT_NAME=fromenv"}, "flag"},
	} {
		env := append([]string{}, tc.environ...)
		p, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Name: tc.name, Environ: env})
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != tc.want {
			t.Errorf("Load(-p %q, env %v).Name = %q, want %q", tc.name, tc.environ, p.Name, tc.want)
		}
	}
	if _, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Name: "Bad Name", Environ: []string{}}); err == nil {
		t.Errorf("Load(-p %q) succeeded, want an error", "Bad Name")
	}
}

func TestServiceHash(t *testing.T) {
	s := types.ServiceConfig{Name: "a"}
	s.Image = "busybox"
	h1, _ := ServiceHash(s)
	n := 3
	s.Scale = &n
	s.DependsOn = types.DependsOnConfig{"b": {Condition: "service_started"}}
	if h2, _ := ServiceHash(s); h2 != h1 {
		t.Errorf("ServiceHash changed with scale and depends_on only: %s, %s", h1, h2)
	}
	s.Environment = types.NewMappingWithEquals([]string{"A=1"})
	if h3, _ := ServiceHash(s); h3 == h1 {
		t.Errorf("ServiceHash did not change with the environment")
	}
}
