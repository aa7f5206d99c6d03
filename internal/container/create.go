package container

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/cgroup"
	"berth/internal/errdefs"
	"berth/internal/seccomp"
)

const execFifo = "exec.fifo"

// Runtime runs OCI bundles. Its Root holds one directory of state per
// container; nothing else is shared between calls, so several berth
// processes may use the same Root at once.
type Runtime struct {
	Root string
	// GoInit makes every container's init start Go, even where a create
	// plan could do without it; tests use it to cover both ways.
	GoInit bool
}

// CreateOptions are the caller's choices for Create that the bundle does
// not carry.
type CreateOptions struct {
	Bundle string
	// ConsoleSocket is the path of a unix socket that receives the pty
	// master when the process asks for a terminal (runc's --console-socket).
	ConsoleSocket string
	// PidFile, when set, receives the init's host pid.
	PidFile string
	// NoPivot uses MS_MOVE and chroot instead of pivot_root, for a root
	// on a ramfs where pivot_root cannot work.
	NoPivot bool
	// Stdio of the container's process. Nil means the caller's.
	Stdin, Stdout, Stderr *os.File
	// Spec is the bundle's config.json as the caller has it, parsed;
	// nil reads it from the bundle.
	Spec *specs.Spec
	// SpecJSON, when the caller has it, is Spec encoded, as in the
	// bundle's config.json; the container's record keeps it as it is.
	SpecJSON []byte
	// consoleConn replaces ConsoleSocket when berth itself takes the pty.
	consoleConn *os.File
	terminal    bool
	// cgroup is the container's cgroup, which the init is born in or
	// moves itself into before anything else.
	cgroup *cgroup.Join
	// Spawn, when set, starts the init in place of the caller, so that
	// it is the spawner's child (see CanSpawn for the specs it takes).
	Spawn Spawner
	// execPlan, for exec, is run by execplan.c instead of the Go init;
	// createPlan, for create, by createplan.c.
	execPlan   *os.File
	createPlan *os.File
}

// Create sets up container id from a bundle and leaves its init waiting
// for Start. On any error, nothing of the container is left behind.
func (r *Runtime) Create(id string, opts CreateOptions) (err error) {
	_, err = r.create(id, opts)
	return err
}

func (r *Runtime) create(id string, opts CreateOptions) (rec *record, err error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, err
	}
	opts.Bundle = bundle
	s := opts.Spec
	if s == nil {
		if s, opts.SpecJSON, err = loadSpec(bundle); err != nil {
			return nil, err
		}
	}
	if err := validate(s, false); err != nil {
		return nil, errdefs.Invalidf("config.json: %v", err)
	}
	prog, err := r.seccompProgram(s)
	if err != nil {
		return nil, errdefs.Invalidf("config.json: %v", err)
	}
	opts.terminal = s.Process.Terminal
	if opts.terminal && opts.ConsoleSocket == "" && opts.consoleConn == nil {
		return nil, errdefs.Invalidf("the process asks for a terminal but no --console-socket was given")
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if fi, err := os.Stat(rootfs); err != nil || !fi.IsDir() {
		return nil, errdefs.Invalidf("root filesystem %s is not a directory", rootfs)
	}

	if err := os.MkdirAll(r.Root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", r.Root, err)
	}
	dir := r.dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, errdefs.Conflictf("container with id %q already exists", id)
		}
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	var (
		cg  *cgroup.Manager
		pid int
	)
	defer func() {
		if err == nil {
			return
		}
		if pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
		}
		if cg != nil {
			cg.Destroy()
		}
		os.RemoveAll(dir)
	}()

	// Whatever user the process runs as must be able to open the fifo for
	// writing, so its mode is set past the umask.
	fifoPath := filepath.Join(dir, execFifo)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}

	owner := ""
	if u, err := user.Current(); err == nil {
		owner = u.Username
	}
	rec = &record{
		ID:          id,
		Bundle:      bundle,
		Rootfs:      rootfs,
		Created:     time.Now().UTC(),
		Owner:       owner,
		Annotations: s.Annotations,
		Spec:        s,
		specJSON:    opts.SpecJSON,
	}
	if s.Linux != nil {
		rec.CgroupsPath = s.Linux.CgroupsPath
	}

	if rec.CgroupsPath != "" && !filepath.IsAbs(rec.CgroupsPath) {
		if rec.CreatorCgroups, err = cgroup.OwnCgroups(); err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
	}
	newCg, err := r.cgroupOf(rec)
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	if pids, _ := newCg.Pids(); len(pids) > 0 {
		// Joining it would mix the container with strangers: their
		// limits, their freezing, and their killing on delete.
		return nil, errdefs.Conflictf("the cgroup of container %s (%s) already holds %d processes of another container; give it a cgroupsPath of its own", id, anyPath(newCg.Paths()), len(pids))
	}
	cg = newCg // from here on, a failed create removes it
	rec.Cgroup = cg.Save()
	if err := cg.Apply(0); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	join, err := cg.OpenJoin()
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	defer join.Close()
	opts.cgroup = join
	if opts.createPlan, err = r.createPlan(s, rootfs, prog, cg, opts); err != nil {
		return nil, err
	}
	if opts.createPlan != nil {
		defer opts.createPlan.Close()
	}
	// The limits are set while the kernel makes the init's namespaces;
	// the init waits for them before the container's process may run.
	limits := make(chan error, 1)
	go func() { limits <- cg.Set(cgroupResources(s)) }()
	p, err := r.startInit(rec.Spec.Linux.Namespaces, rec.Spec, fifoPath, opts)
	limitsErr := <-limits
	if err != nil {
		return nil, err
	}
	pid = p.pid
	rec.Pid = pid
	if rec.PidStart, _, err = procStart(pid); err != nil {
		return nil, fmt.Errorf("container init exited early: %w", err)
	}

	cfg := &initConfig{
		Seccomp:   prog,
		Spec:      s,
		Process:   s.Process,
		Rootfs:    rootfs,
		State:     rec.specState(specs.StateCreating),
		CgroupNS:  p.newNS[specs.CgroupNamespace],
		TimeNS:    p.newNS[specs.TimeNamespace],
		NewMount:  p.newNS[specs.MountNamespace],
		NewUTS:    p.newNS[specs.UTSNamespace],
		InUserNS:  hasNamespace(s, specs.UserNamespace),
		HasHooks:  hasRuntimeHooks(s),
		WaitStart: true,
		NoPivot:   opts.NoPivot,
	}
	if opts.createPlan == nil {
		if err := p.ch.sendConfig(cfg); err != nil {
			return nil, fmt.Errorf("send config to container init: %w", err)
		}
	}
	if limitsErr != nil {
		return nil, p.failure(fmt.Errorf("cgroup: %w", limitsErr))
	}
	// The init mounts its rootfs meanwhile.
	if err := setupProcess(pid, s); err != nil {
		return nil, p.failure(err)
	}
	if err := p.ch.send(&message{Type: msgCgroup}); err != nil {
		return nil, p.failure(fmt.Errorf("tell container init its cgroup is ready: %w", err))
	}
	// Saved while the init works. Until it is ready, start waits for it
	// on the exec fifo; if it fails, the state goes with the rest.
	if err := r.save(rec); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	if cfg.HasHooks {
		if _, err := p.ch.recv(msgHooks); err != nil {
			return nil, err
		}
		st := rec.specState(specs.StateCreating)
		//lint:ignore SA1019 prestart is deprecated, and configs still use it
		if err := runHooks(s.Hooks.Prestart, st); err != nil {
			return nil, fmt.Errorf("prestart hook: %w", err)
		}
		if err := runHooks(s.Hooks.CreateRuntime, st); err != nil {
			return nil, fmt.Errorf("createRuntime hook: %w", err)
		}
		if err := p.ch.send(&message{Type: msgHooksDone}); err != nil {
			return nil, err
		}
	}
	if _, err := p.ch.recv(msgReady); err != nil {
		return nil, err
	}
	p.sock.Close()

	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// setupProcess makes the process settings that the parent makes for the
// init. The init waits for them before it changes its uid.
func setupProcess(pid int, s *specs.Spec) error {
	if err := raiseHardLimits(pid, s.Process.Rlimits); err != nil {
		return err
	}
	if s.Process.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj",
			[]byte(strconv.Itoa(*s.Process.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("set oom_score_adj: %w", err)
		}
	}
	return nil
}

// hasRuntimeHooks: the config has hooks that run in the runtime's
// namespaces while the init waits.
func hasRuntimeHooks(s *specs.Spec) bool {
	if s.Hooks == nil {
		return false
	}
	//lint:ignore SA1019 prestart is deprecated, and configs still use it
	return len(s.Hooks.Prestart) > 0 || len(s.Hooks.CreateRuntime) > 0
}

// anyPath names a cgroup by one of its directories, for messages.
func anyPath(paths map[string]string) string {
	for _, k := range []string{"", "memory", "pids"} {
		if p, ok := paths[k]; ok {
			return p
		}
	}
	for _, p := range paths {
		return p
	}
	return "?"
}

func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// initProc is a started init, before it has its config.
type initProc struct {
	pid   int
	sock  *os.File
	ch    *channel
	newNS map[specs.LinuxNamespaceType]bool
}

// nsCloneFlag is each namespace type's CLONE_NEW* flag, which is also what
// NS_GET_NSTYPE returns for it.
var nsCloneFlag = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	// Cgroup and time namespaces are made by the init itself: the cgroup
	// one only after the parent has moved it into its cgroup, the time one
	// only after its offsets are written.
}

// startInit starts berth's init: namespaces without a path are made new by
// clone flags, those with a path are joined by the constructor in
// nsenter.c. fifo is the exec fifo to wait on, or "" for exec.
func (r *Runtime) startInit(namespaces []specs.LinuxNamespace, s *specs.Spec, fifoPath string, opts CreateOptions) (*initProc, error) {
	p := &initProc{newNS: map[specs.LinuxNamespaceType]bool{}}
	attr := &syscall.SysProcAttr{}
	var joins []*os.File
	defer func() {
		for _, f := range joins {
			f.Close()
		}
	}()
	// Join the user namespace first: entering the others may need the
	// capabilities it grants.
	for _, pass := range []bool{true, false} {
		for _, ns := range namespaces {
			if (ns.Type == specs.UserNamespace) != pass {
				continue
			}
			if ns.Path == "" {
				p.newNS[ns.Type] = true
				attr.Cloneflags |= cloneFlags[ns.Type]
				continue
			}
			f, err := openNamespace(ns)
			if err != nil {
				return nil, err
			}
			joins = append(joins, f)
		}
	}
	if p.newNS[specs.UserNamespace] {
		attr.UidMappings = idMaps(s.Linux.UIDMappings)
		attr.GidMappings = idMaps(s.Linux.GIDMappings)
		attr.GidMappingsEnableSetgroups = true
		// Become root of the new namespace before execve, or the kernel
		// computes the init's capabilities for an unmapped uid: none.
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}

	exe, err := selfExe()
	if err != nil {
		return nil, err
	}
	defer exe.Close()

	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	parentSock := os.NewFile(uintptr(pair[0]), "init-sync")
	childSock := os.NewFile(uintptr(pair[1]), "init-sync-child")
	defer childSock.Close()

	// syscall.ForkExec rather than os/exec: os.StartProcess probes once
	// per process whether pidfds work, with a child of its own.
	files := []*os.File{
		orStd(opts.Stdin, os.Stdin), orStd(opts.Stdout, os.Stdout), orStd(opts.Stderr, os.Stderr),
		exe, // fd 3: exeInChild
	}
	env := []string{}
	// addFiles passes files to the init and names their fds in env.
	addFiles := func(name string, add ...*os.File) {
		var fds []string
		for _, f := range add {
			fds = append(fds, strconv.Itoa(len(files)))
			files = append(files, f)
		}
		env = append(env, name+"="+strings.Join(fds, ","))
	}
	addFiles(envSyncFD, childSock)

	if fifoPath != "" {
		fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open exec fifo: %w", err)
		}
		defer fifo.Close()
		addFiles(envFifoFD, fifo)
	}

	if opts.terminal {
		conn := opts.consoleConn
		if conn == nil {
			if conn, err = dialConsole(opts.ConsoleSocket); err != nil {
				return nil, err
			}
			defer conn.Close()
		}
		addFiles(envConsoleFD, conn)
	}

	if j := opts.cgroup; j != nil {
		if j.Dir != nil {
			attr.UseCgroupFD = true
			attr.CgroupFD = int(j.Dir.Fd())
		}
		if len(j.Tasks) > 0 {
			addFiles(envCgroupTasks, j.Tasks...)
		}
		if j.Memory != nil {
			addFiles(envCgroupMemory, j.Memory)
		}
	}

	if opts.execPlan != nil {
		addFiles(envExecPlan, opts.execPlan)
	}
	if opts.createPlan != nil {
		addFiles(envCreatePlan, opts.createPlan)
	}
	var report *os.File
	if len(joins) > 0 {
		addFiles("_BERTH_SETNS", joins...)
		var w *os.File
		report, w, err = os.Pipe()
		if err != nil {
			return nil, err
		}
		defer report.Close()
		defer w.Close()
		addFiles("_BERTH_SETNS_REPORT", w)
	}
	// The init is short-lived and small: no garbage collection needed.
	env = append(env, "GOGC=off")
	var pid int
	if opts.Spawn != nil {
		pid, err = spawnInit(opts, s, env, files[3:], attr)
	} else {
		fds := make([]uintptr, len(files))
		for i, f := range files {
			fds[i] = f.Fd()
		}
		pid, err = syscall.ForkExec(exeInChild, []string{"berth", initArg}, &syscall.ProcAttr{
			// Relative paths in the config (bind sources) are the
			// bundle's, as with runc.
			Dir:   opts.Bundle,
			Env:   env,
			Files: fds,
			Sys:   attr,
		})
	}
	runtime.KeepAlive(files)
	if err != nil {
		parentSock.Close()
		return nil, fmt.Errorf("start container init: %w", err)
	}
	p.pid = pid
	if report != nil {
		files[len(files)-1].Close() // our copy of the report pipe's write end
		joined, err := readReport(report)
		if err != nil {
			unix.Kill(pid, unix.SIGKILL)
			reap(pid)
			parentSock.Close()
			return nil, err
		}
		if joined > 0 {
			// The constructor forked into a joined pid namespace: the
			// real init is a sibling, and the intermediate exits.
			reap(pid)
			p.pid = joined
		}
	}
	p.sock = parentSock
	p.ch = newChannel(parentSock)
	return p, nil
}

// spawnInit has opts.Spawn start the init that startInit would fork.
func spawnInit(opts CreateOptions, s *specs.Spec, env []string, files []*os.File, attr *syscall.SysProcAttr) (int, error) {
	if !CanSpawn(s) {
		return 0, errors.New("a spawned init can neither map ids nor join a pid namespace")
	}
	req := &SpawnRequest{
		Path: exeInChild, Args: []string{"berth", initArg}, Env: env, Dir: opts.Bundle,
		Files: files, Cloneflags: attr.Cloneflags,
	}
	if attr.UseCgroupFD {
		req.CgroupDir = opts.cgroup.Dir
	}
	return opts.Spawn(req)
}

// failure returns the init's own error when the init has already failed
// (its message waits in the socket), and err otherwise: a mount that
// failed explains more than the cgroup move that then found no process.
// A write that found the socket closed (EPIPE) means the init has ended,
// or is ending, whether or not it is a zombie yet.
func (p *initProc) failure(err error) error {
	if !errors.Is(err, unix.EPIPE) {
		if _, zombie, serr := procStart(p.pid); serr == nil && !zombie {
			return err
		}
	}
	var ie *InitError
	if _, rerr := p.ch.recv(msgReady); errors.As(rerr, &ie) {
		return ie
	}
	return err
}

// openNamespace opens a namespace to join and checks that it is of the
// type the config says: setns(2) with no type would join whatever it is.
func openNamespace(ns specs.LinuxNamespace) (*os.File, error) {
	f, err := os.Open(ns.Path)
	if err != nil {
		return nil, fmt.Errorf("open %s namespace %s: %w", ns.Type, ns.Path, err)
	}
	t, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || uintptr(t) != nsCloneFlag[ns.Type] {
		f.Close()
		return nil, errdefs.Invalidf("%s namespace path %s is not a %s namespace", ns.Type, ns.Path, ns.Type)
	}
	return f, nil
}

// reap waits for child pid to end.
func reap(pid int) {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return
		}
	}
}

func readReport(f *os.File) (int, error) {
	buf := make([]byte, 512)
	n, _ := f.Read(buf)
	line := strings.TrimSpace(string(buf[:n]))
	switch {
	case line == "ok":
		return 0, nil
	case strings.HasPrefix(line, "pid "):
		return strconv.Atoi(strings.TrimPrefix(line, "pid "))
	case strings.HasPrefix(line, "error "):
		return 0, fmt.Errorf("join namespaces: %s", strings.TrimPrefix(line, "error "))
	}
	return 0, errors.New("join namespaces: container init exited without a report")
}

func orStd(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

func hasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// dialConsole connects to the caller's console socket; the init sends the
// pty master over it.
func dialConsole(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("console socket %s: %w", path, err)
	}
	return f, nil
}

// seccompProgram compiles the spec's seccomp filter, once per profile for
// all the containers under r.Root, which the init installs as it is. A
// filter with notify rules is built by the init itself (nil).
func (r *Runtime) seccompProgram(s *specs.Spec) (*seccomp.Program, error) {
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return nil, nil
	}
	return seccomp.CompileCached(s.Linux.Seccomp, filepath.Join(r.Root, ".seccomp"))
}
