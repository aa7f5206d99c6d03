package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/container"
	"berth/internal/logs"
	"berth/internal/metadata"
	"berth/internal/spec"
)

// bundle mounts the container's root filesystem and writes its OCI
// spec, built from its record, as the bundle's config.json.
func (e *Engine) bundle(c *metadata.Container) (*bundle, error) {
	cfg, err := configOf(c)
	if err != nil {
		return nil, err
	}
	nsPath, hostNet, err := e.netUp(c, cfg)
	if err != nil {
		return nil, err
	}
	rootfs, err := e.mountRootfs(c)
	if err != nil {
		e.netDown(c)
		return nil, err
	}
	user, err := resolveUser(rootfs, cfg.User)
	if err != nil {
		e.unmountRootfs(c.ID)
		e.netDown(c)
		return nil, err
	}
	dir := e.dir(c.ID)
	env := spec.MergeEnv(cfg.Env, []string{"HOSTNAME=" + cfg.Hostname})
	if cfg.Tty {
		env = spec.MergeEnv(env, []string{"TERM=xterm"})
	}
	opts := spec.Options{
		Args: cfg.Args(), Env: env, Cwd: cfg.WorkingDir, User: user, Hostname: cfg.Hostname,
		Tty: cfg.Tty, ReadOnly: cfg.ReadOnly, ShmSize: cfg.ShmSize, Resources: cfg.Resources,
		Mounts: []specs.Mount{
			bindFile(dir, "hostname", "/etc/hostname"),
			bindFile(dir, "hosts", "/etc/hosts"),
			bindFile(dir, "resolv.conf", "/etc/resolv.conf"),
		},
		NetNS: nsPath,
	}
	if err := e.applyHostOptions(dir, &cfg.HostOptions, &opts); err != nil {
		e.unmountRootfs(c.ID)
		e.netDown(c)
		return nil, err
	}
	binds, err := e.volumeMounts(cfg.Binds, rootfs, user)
	if err != nil {
		e.unmountRootfs(c.ID)
		e.netDown(c)
		return nil, err
	}
	opts.Mounts = append(opts.Mounts, binds...)
	s := spec.ForContainer(opts)
	cfg.HostOptions.applySpec(s)
	if hostNet {
		dropNetNS(s)
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(dir, "config.json"), b); err != nil {
		return nil, err
	}
	return &bundle{dir: dir, spec: s, json: b}, nil
}

func bindFile(dir, name, dest string) specs.Mount {
	return specs.Mount{Destination: dest, Type: "bind", Source: filepath.Join(dir, name),
		Options: []string{"rbind", "rprivate", "nosuid", "nodev", "noexec"}}
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Stdio is where an attached container's streams go.
type Stdio struct {
	In       *os.File // nil: /dev/null
	Out, Err *os.File
}

// RunAttached starts container c in the foreground, its process on the
// caller's stdio (a terminal when the container has one), forwards
// signals to it, waits for it and records its exit. It returns the
// container's exit code.
func (e *Engine) RunAttached(c *metadata.Container, stdio Stdio) (int, error) {
	if st := e.status(c); st == StatusRunning || st == StatusPaused {
		return -1, fmt.Errorf("container %s is already %s", c.Name, st)
	}
	e.Runtime.Delete(c.ID, deleteForce)
	b, err := e.bundle(c)
	if err != nil {
		return -1, err
	}
	in := stdio.In
	if in == nil {
		if in, err = os.Open(os.DevNull); err != nil {
			e.unmountRootfs(c.ID)
			e.netDown(c)
			return -1, err
		}
		defer in.Close()
	}
	cfg, _ := configOf(c)
	// A --rm container created by run with its start time (Starting) is
	// removed when it ends: while it runs, its status comes from the
	// runtime, and its record needs no change.
	if cfg == nil || !cfg.AutoRemove || c.State.Status != StatusCreated || c.State.StartedAt.IsZero() {
		started := time.Now().UTC()
		err = e.update(c.ID, func(c *metadata.Container) error {
			c.State = metadata.ContainerState{Status: StatusRunning, StartedAt: started, Restarts: c.State.Restarts}
			return nil
		})
		if err != nil {
			return -1, err
		}
	}
	e.emit(c, "start", nil)
	out, errf := stdio.Out, stdio.Err
	var wait func()
	if cfg != nil && !cfg.Tty {
		// The container writes into pipes; what comes out goes to the
		// caller and, line by line, into the container's log.
		if out, errf, wait, err = e.teeLogs(c, stdio); err != nil {
			return -1, err
		}
	}
	e.resetHealth(c.ID)
	stopHealth := e.healthLoop(c.ID, cfg)
	// Run deletes the runtime's container itself, with what it has in
	// hand; the Delete below only clears what a failed create left.
	code, runErr := e.Runtime.Run(c.ID, b.runOpts(in, out, errf), false, false)
	stopHealth()
	if wait != nil {
		wait()
	}
	var ie *container.InitError
	if errors.As(runErr, &ie) && ie.ExitCode != 0 {
		code = ie.ExitCode
	}
	e.Runtime.Delete(c.ID, deleteForce)
	e.unmountRootfs(c.ID)
	e.netDown(c)
	e.emit(c, "die", map[string]string{"exitCode": strconv.Itoa(code)})
	if cfg == nil || !cfg.AutoRemove {
		// A --rm container is removed next: its exit needs no record,
		// and the write would wait for the disk.
		err = e.update(c.ID, func(c *metadata.Container) error {
			c.State.Status = StatusExited
			c.State.ExitCode = code
			c.State.FinishedAt = time.Now().UTC()
			return nil
		})
	}
	if runErr != nil {
		return code, runErr
	}
	return code, err
}

// LogPath is where container id's log lives.
func (e *Engine) LogPath(id string) string { return filepath.Join(e.dir(id), "json.log") }

// teeLogs returns pipes for the container's stdout and stderr whose
// contents go to the caller's and into the log; wait, called after the
// container exits, closes berth's ends and waits for the copies.
func (e *Engine) teeLogs(c *metadata.Container, stdio Stdio) (out, errf *os.File, wait func(), err error) {
	var size int64
	var files int
	if cfg, cerr := configOf(c); cerr == nil && cfg.Log != nil {
		size, files = cfg.Log.MaxSize, cfg.Log.MaxFiles
	}
	lw, err := logs.NewWriter(e.LogPath(c.ID), size, files)
	if err != nil {
		return nil, nil, nil, err
	}
	var wg sync.WaitGroup
	var writeEnds []*os.File
	pipe := func(stream string, mirror *os.File) (*os.File, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		writeEnds = append(writeEnds, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			line := lw.Stream(stream, mirror)
			io.Copy(line, r)
			line.Flush()
		}()
		return w, nil
	}
	if out, err = pipe("stdout", stdio.Out); err != nil {
		return nil, nil, nil, err
	}
	if errf, err = pipe("stderr", stdio.Err); err != nil {
		out.Close()
		return nil, nil, nil, err
	}
	wait = func() {
		for _, w := range writeEnds {
			w.Close()
		}
		wg.Wait()
		lw.Close()
	}
	return out, errf, wait, nil
}
