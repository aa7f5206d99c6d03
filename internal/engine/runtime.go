package engine

import (
	"os"

	"berth/internal/container"
)

var deleteForce = container.DeleteOptions{Force: true}

func runOpts(bundle string, in, out, errf *os.File) container.CreateOptions {
	return container.CreateOptions{Bundle: bundle, Stdin: in, Stdout: out, Stderr: errf}
}
