package build

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary Dockerfiles: it must return a
// Dockerfile or an error, never panic.
func FuzzParse(f *testing.F) {
	cases, _ := filepath.Glob("testdata/golden/*/Dockerfile")
	for _, c := range cases {
		if b, err := os.ReadFile(c); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := Parse("Dockerfile", data)
		if err == nil && len(df.Stages) == 0 {
			t.Fatalf("Parse(%q) = no stages and no error", data)
		}
	})
}
