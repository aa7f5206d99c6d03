package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"berth/internal/container"
	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/monitor"
)

// AttachPath is the unix socket on which container id's monitor takes
// attach clients.
func (e *Engine) AttachPath(id string) string { return filepath.Join(e.dir(id), "attach.sock") }

// consolePath is the unix socket to which the init of container id, when
// it has a terminal, sends the pty master for its monitor.
func (e *Engine) consolePath(id string) string { return filepath.Join(e.dir(id), "console.sock") }

// envConsoleSize carries the terminal size (ROWSxCOLS) that an attached
// start gives a container's terminal before its process runs, from the
// command that attaches through the monitor to the start command.
const envConsoleSize = "BERTH_CONSOLE_SIZE"

// AttachStdio is an attached client's end.
type AttachStdio struct {
	In       io.Reader // nil: none
	Out, Err io.Writer
}

// AttachOptions say how a client attaches.
type AttachOptions struct {
	// DetachKeys is Docker's --detach-keys ("ctrl-p,ctrl-q" when empty).
	// They detach a client whose stdin goes to a container with a
	// terminal.
	DetachKeys string
	// NoStdin keeps stdin from the container.
	NoStdin bool
	// SigProxy forwards the signals the client receives to a container
	// without a terminal.
	SigProxy bool
	// CloseStdin closes the container's stdin when the client's ends, as
	// an attached docker run -i does.
	CloseStdin bool
}

// AttachResult says how an attachment ended: the container exited with
// ExitCode, or the client detached and it runs on.
type AttachResult = monitor.AttachResult

// Attach attaches stdio to running container c through its monitor, until
// the container exits or the client detaches.
func (e *Engine) Attach(c *metadata.Container, stdio AttachStdio, opts AttachOptions) (AttachResult, error) {
	cfg, err := configOf(c)
	if err != nil {
		return AttachResult{}, err
	}
	mo, err := sessionOptions(cfg, stdio, opts)
	if err != nil {
		return AttachResult{}, err
	}
	switch e.status(c) {
	case StatusRunning:
	case StatusPaused:
		return AttachResult{}, errdefs.Conflictf("You cannot attach to a paused container, unpause it first")
	case StatusRestarting:
		return AttachResult{}, errdefs.Conflictf("You cannot attach to a restarting container, wait until it is running")
	default:
		return AttachResult{}, errdefs.Conflictf("You cannot attach to a stopped container, start it first")
	}
	noMonitor := errdefs.Conflictf("container %s has no monitor to attach to: it runs in the foreground of the berth command that started it", c.Name)
	if !monitor.Running(c.State.Monitor, c.ID) {
		return AttachResult{}, noMonitor
	}
	res, err := monitor.Attach(e.AttachPath(c.ID), monitor.Stdio{In: stdio.In, Out: stdio.Out, Err: stdio.Err}, mo)
	if errors.Is(err, monitor.ErrNoMonitor) {
		return res, noMonitor
	}
	return res, err
}

// StartAttached starts container c under a monitor, as StartDetached
// does, with stdio attached from before the container's first output,
// and stays attached until the container exits or the client detaches.
// A container that runs already is attached to.
func (e *Engine) StartAttached(c *metadata.Container, stdio AttachStdio, opts AttachOptions) (AttachResult, error) {
	switch e.status(c) {
	case StatusRunning, StatusPaused, StatusRestarting:
		return e.Attach(c, stdio, opts)
	}
	cfg, err := configOf(c)
	if err != nil {
		return AttachResult{}, err
	}
	mo, err := sessionOptions(cfg, stdio, opts)
	if err != nil {
		return AttachResult{}, err
	}
	var env []string
	if cfg.Tty {
		// The container's process sees the client's size from its start.
		for _, v := range []any{stdio.Out, stdio.In} {
			if f, ok := v.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
				if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Row > 0 && ws.Col > 0 {
					env = append(env, fmt.Sprintf("%s=%dx%d", envConsoleSize, ws.Row, ws.Col))
					break
				}
			}
		}
	}
	p, err := e.startMonitor(c, cfg, true, env)
	if err != nil {
		return AttachResult{}, err
	}
	return monitor.Session(p.Attached, monitor.Stdio{In: stdio.In, Out: stdio.Out, Err: stdio.Err}, mo)
}

func sessionOptions(cfg *Config, stdio AttachStdio, opts AttachOptions) (monitor.AttachOptions, error) {
	keys, err := monitor.ParseDetachKeys(opts.DetachKeys)
	if err != nil {
		return monitor.AttachOptions{}, err
	}
	return monitor.AttachOptions{
		Tty:        cfg.Tty,
		Stdin:      cfg.OpenStdin && !opts.NoStdin && stdio.In != nil,
		CloseStdin: opts.CloseStdin,
		DetachKeys: keys,
		SigProxy:   opts.SigProxy,
	}, nil
}

// startMonitor starts container c under a monitor (see StartDetached),
// with an attached client when attach is set, and extraEnv in the
// monitor's environment, which its start command inherits.
func (e *Engine) startMonitor(c *metadata.Container, cfg *Config, attach bool, extraEnv []string) (monitor.Process, error) {
	p, err := e.monitorStart(c, cfg, attach, extraEnv)
	if err != nil {
		e.recordFailedStart(c.ID, c.State, err)
	}
	return p, err
}

// recordFailedStart records that a start of container id failed with
// err, once its monitor has cleaned up, as Docker does: the container
// keeps the status it had before (created, or exited after an earlier
// run), with the failure's exit code (126 or 127 when its command cannot
// run, 128 otherwise) and message. A container run with --rm is gone by
// then.
func (e *Engine) recordFailedStart(id string, prev metadata.ContainerState, err error) {
	code := 128
	var ie *container.InitError
	if errors.As(err, &ie) && ie.ExitCode != 0 {
		code = ie.ExitCode
	}
	_ = e.update(id, func(rec *metadata.Container) error {
		st := prev
		st.Status = StatusExited
		if prev.StartedAt.IsZero() {
			st.Status = StatusCreated
		}
		st.Pid, st.Monitor, st.ExitCode, st.Error = 0, 0, code, err.Error()
		rec.State = st
		return nil
	})
}

// monitorStart is startMonitor without the record of a failure.
func (e *Engine) monitorStart(c *metadata.Container, cfg *Config, attach bool, extraEnv []string) (monitor.Process, error) {
	policy, err := ParseRestart(cfg.Restart)
	if err != nil {
		return monitor.Process{}, err
	}
	os.Remove(e.ExitPath(c.ID))
	// The monitor's commands (start, cleanup, health) are short-lived
	// berth processes with small heaps: garbage collection would only
	// cost them time.
	env := append(os.Environ(), "BERTH_ROOT="+e.root, "BERTH_RUNTIME_DIR="+e.Runtime.Root, "GOGC=off")
	o := monitor.Options{
		ID: c.ID, LogPath: e.LogPath(c.ID), ExitFile: e.ExitPath(c.ID),
		Start:     []string{"/proc/self/exe", "__start", c.ID},
		Cleanup:   []string{"/proc/self/exe", "__cleanup", c.ID},
		OpenStdin: cfg.OpenStdin, Restart: policy, Env: append(env, extraEnv...),
		AttachSocket: e.AttachPath(c.ID), Attach: attach,
	}
	if cfg.Tty {
		o.ConsoleSocket = e.consolePath(c.ID)
	}
	if cfg.Log != nil {
		o.LogMaxSize, o.LogMaxFiles = cfg.Log.MaxSize, cfg.Log.MaxFiles
	}
	if hc := healthcheck(cfg); hc != nil {
		o.Health = []string{"/proc/self/exe", "__health", c.ID}
		o.HealthInterval = hc.Interval
	}
	if !attach && !cfg.Tty {
		return e.startSpawned(c.ID, o)
	}
	p, err := monitor.Start(o)
	if err != nil {
		// berth __start exits 126 or 127 when the command cannot run,
		// and so does run, as Docker's does.
		var se *monitor.StartError
		if errors.As(err, &se) && (se.ExitStatus == 126 || se.ExitStatus == 127) {
			return p, &container.InitError{Msg: se.Msg, ExitCode: se.ExitStatus}
		}
		return p, err
	}
	// The start command, the monitor's child, has recorded the monitor
	// as the container's (StartChild): one write to the database less.
	return p, nil
}

// startSpawned starts container id as its monitor's start command would,
// but in this process: the monitor's first start command is the spawn
// agent (internal/container/spawn.c), which clones the init on this
// process's request, so that the init is the monitor's. That spares each
// start a berth process of its own. Restarts run the start command as
// usual. A terminal's console socket is the monitor's to listen on before
// the start command runs, so a container with one starts the usual way.
func (e *Engine) startSpawned(id string, o monitor.Options) (monitor.Process, error) {
	// The record as it is now, as `berth __start` would read it: the
	// caller's may predate a change, such as a network connected since.
	c, err := e.Lookup(id)
	if err != nil {
		return monitor.Process{}, err
	}
	cfg, err := configOf(c)
	if err != nil {
		return monitor.Process{}, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return monitor.Process{}, fmt.Errorf("spawn socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "spawn"), os.NewFile(uintptr(fds[1]), "spawn-agent")
	defer ours.Close()
	o.Spawn = theirs
	type started struct {
		p   monitor.Process
		err error
	}
	done := make(chan started, 1)
	go func() {
		// Start closes theirs: a monitor that failed first reads as EOF.
		p, err := monitor.Start(o)
		done <- started{p, err}
	}()
	agent := container.NewSpawnAgent(ours)
	// The start is recorded while the container's init gets ready: should
	// the start fail, the monitor's cleanup records the end, and the
	// runtime's state has the last word meanwhile.
	var recorded chan error
	spawn := func(req *container.SpawnRequest) (int, error) {
		pid, err := agent.Spawn(req)
		if err == nil {
			recorded = make(chan error, 1)
			go func() { recorded <- e.recordStart(c.ID, pid, agent.Monitor) }()
		}
		return pid, err
	}
	_, err = e.startChild(c, cfg, spawn)
	agent.Verdict(err)
	var recErr error
	if recorded != nil {
		recErr = <-recorded
	}
	r := <-done
	if err != nil {
		return r.p, err // the monitor has given up and cleaned up
	}
	if r.err != nil {
		return r.p, r.err
	}
	if recErr != nil {
		return r.p, recErr
	}
	e.emit(c, "start", nil)
	return r.p, nil
}

// prepareConsole makes the start command's create of container id give
// its terminal to the monitor's console socket, with the size an attached
// start asked for. The socket's path may be too long for a unix socket
// address, so it is reached through the container's directory, opened;
// release closes that.
func (e *Engine) prepareConsole(id string, bundle *bundle, opts *container.CreateOptions) (release func(), err error) {
	dir, err := os.OpenFile(e.dir(id), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	opts.ConsoleSocket = "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + filepath.Base(e.consolePath(id))
	release = func() { dir.Close() }
	rows, cols, ok := strings.Cut(os.Getenv(envConsoleSize), "x")
	if !ok {
		return release, nil
	}
	h, err1 := strconv.ParseUint(rows, 10, 16)
	w, err2 := strconv.ParseUint(cols, 10, 16)
	if err1 != nil || err2 != nil {
		return release, nil
	}
	s := bundle.spec
	if s.Process == nil {
		return release, nil
	}
	s.Process.ConsoleSize = &specs.Box{Height: uint(h), Width: uint(w)}
	b, err := json.MarshalIndent(s, "", "\t")
	if err == nil {
		err = writeAtomic(filepath.Join(bundle.dir, "config.json"), b)
		bundle.json, opts.SpecJSON = b, b
	}
	if err != nil {
		release()
		return nil, err
	}
	return release, nil
}
