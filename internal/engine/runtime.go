package engine

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/container"
)

var deleteForce = container.DeleteOptions{Force: true}

// bundle is a container's OCI bundle, written for a start: its directory
// and the config.json in it, still parsed, so that the runtime need not
// read it back.
type bundle struct {
	dir  string
	spec *specs.Spec
	json []byte // the config.json written
}

func (b *bundle) runOpts(in, out, errf *os.File) container.CreateOptions {
	return container.CreateOptions{Bundle: b.dir, Spec: b.spec, SpecJSON: b.json, Stdin: in, Stdout: out, Stderr: errf}
}
