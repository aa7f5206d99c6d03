package engine

import (
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/container"
	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/spec"
)

// ExecOptions are exec's flags.
type ExecOptions struct {
	Args       []string
	Env        []string
	WorkingDir string
	User       string
	Tty        bool
	Detach     bool
	Privileged bool
	Stdio      Stdio
	// PidFile, if set, is where the process's pid is written.
	PidFile string
}

// Exec runs a new process in running container c and returns its exit
// code (0 at once when detached). The process gets the container's
// environment, user and capabilities unless the options say otherwise.
func (e *Engine) Exec(c *metadata.Container, opts ExecOptions) (int, error) {
	if st := e.status(c); st != StatusRunning {
		if st == StatusPaused {
			return -1, errdefs.Conflictf("container %s is paused, unpause the container before exec", shortID(c.ID))
		}
		return -1, errdefs.Conflictf("container %s is not running", shortID(c.ID))
	}
	build := func(p specs.Process) (*specs.Process, error) {
		p.Args = opts.Args
		p.Terminal = opts.Tty
		p.Env = spec.MergeEnv(p.Env, mergeEnv(nil, opts.Env))
		if opts.WorkingDir != "" {
			p.Cwd = opts.WorkingDir
		}
		if opts.User != "" {
			u, err := resolveUser(filepath.Join(e.dir(c.ID), "rootfs"), opts.User)
			if err != nil {
				return nil, err
			}
			p.User = u
		}
		if opts.Privileged {
			all := spec.AllCapabilities()
			caps := specs.LinuxCapabilities{}
			if p.Capabilities != nil {
				caps = *p.Capabilities
			}
			caps.Bounding, caps.Effective, caps.Permitted = all, all, all
			p.Capabilities = &caps
		}
		return &p, nil
	}
	var err error
	in := opts.Stdio.In
	if in == nil {
		if in, err = os.Open(os.DevNull); err != nil {
			return -1, err
		}
		defer in.Close()
	}
	return e.Runtime.Exec(c.ID, container.ExecOptions{
		Build: build, Detach: opts.Detach, PidFile: opts.PidFile, Stdin: in, Stdout: opts.Stdio.Out, Stderr: opts.Stdio.Err,
	})
}
