package compose

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds compose files to the loader and the conversion to
// create options: a file is untrusted input, and whatever it holds must
// give an error, never a panic.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"services:\n  a:\n    image: busybox\n",
		"services:\n  a:\n    image: busybox\n    deploy: {resources: {limits: {memory: 1x}}}\n",
		"services:\n  a:\n    image: busybox\n    volumes: [\"/a:/b:ro\", {type: tmpfs, target: /t, tmpfs: {size: 1}}]\n",
		"services:\n  a:\n    image: busybox\n    depends_on: {a: {condition: service_healthy}}\n",
		"services:\n  a:\n    image: busybox\n    ulimits: {nofile: {soft: 2, hard: 1}}\n    sysctls: [net.a=1]\n",
		"services:\n  a:\n    image: ${X:?need X}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(body), 0o644)
		p, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environ: []string{}, Name: "fuzz"})
		if err != nil {
			return
		}
		for _, name := range p.ServiceNames() {
			CreateOptions(p, p.Services[name], 1, false)
		}
	})
}
