package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/cgroup"
	"berth/internal/rootfs"
	"berth/internal/seccomp"
)

// InitMain is the whole life of berth's init: it receives its config from
// the parent, turns itself into the container's process and execs it. It
// never returns. The caller must have locked the main goroutine to the
// main thread: namespaces made by unshare(2) belong to the calling thread.
func InitMain() {
	runtime.LockOSThread()
	if name, err := unix.BytePtrFromString("berth-init"); err == nil {
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
	}
	sock := os.NewFile(uintptr(envFD(envSyncFD)), "init-sync")
	ch := newChannel(sock)
	err := initRun(ch)
	var ie *InitError
	if !errors.As(err, &ie) {
		ie = &InitError{Msg: err.Error()}
	}
	if ch.readySent {
		// The caller of create is gone: the container's stderr is the
		// only place left to tell.
		fmt.Fprintf(os.Stderr, "berth: %s\n", ie.Msg)
	} else {
		ch.send(&message{Type: msgError, Error: ie.Msg, ExitCode: ie.ExitCode})
	}
	if ie.ExitCode != 0 {
		os.Exit(ie.ExitCode)
	}
	os.Exit(1)
}

func envFD(name string) int {
	fd, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		return -1
	}
	return fd
}

// initRun returns only on error.
func initRun(ch *channel) error {
	m, err := ch.recv(msgConfig)
	if err != nil {
		return err
	}
	cfg := &initConfig{}
	if err := json.Unmarshal(m.Config, cfg); err != nil {
		return fmt.Errorf("read config from the parent: %w", err)
	}
	s, p := cfg.Spec, cfg.Process
	consoleFD := envFD(envConsoleFD)
	fifoFD := envFD(envFifoFD)
	if err := closeExtraFDs(); err != nil {
		return err
	}

	// The init has been in its cgroup since before its Go runtime started
	// (nsenter.c); the parent sets the limits meanwhile and says
	// msgCgroup when they are set. waitLimits waits for that, once, before
	// anything of the container's runs and before the uid changes.
	limitsSet := false
	waitLimits := func() error {
		if limitsSet {
			return nil
		}
		limitsSet = true
		_, err := ch.recv(msgCgroup)
		return err
	}
	// joinCgroup makes the cgroup namespace, if the config asks for one,
	// and returns the init's cgroups as the container sees them. Only the
	// first call does anything.
	joined := false
	var cgPaths map[string]string
	joinCgroup := func() (map[string]string, error) {
		if joined {
			return cgPaths, nil
		}
		joined = true
		// Before the cgroup namespace, whose root is the calling
		// thread's cgroups.
		if err := joinMemory(); err != nil {
			return nil, err
		}
		if cfg.CgroupNS {
			if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
				return nil, fmt.Errorf("create cgroup namespace: %w", err)
			}
		}
		var err error
		cgPaths, err = ownCgroupPaths()
		return cgPaths, err
	}
	if !cfg.NewMount && !cfg.Exec {
		if _, err := joinCgroup(); err != nil {
			return err
		}
	}
	if cfg.TimeNS {
		if err := newTimeNS(s.Linux.TimeOffsets); err != nil {
			return err
		}
	}

	listener := -1
	if s.Linux != nil && s.Linux.Seccomp != nil && s.Linux.Seccomp.ListenerPath != "" {
		if listener, err = dialListener(s.Linux.Seccomp.ListenerPath); err != nil {
			return err
		}
	}

	if !cfg.Exec {
		if err := setupRootfs(ch, cfg, joinCgroup, waitLimits); err != nil {
			return err
		}
	}

	if p.Terminal {
		if err := setupConsole(consoleFD, p.ConsoleSize); err != nil {
			return err
		}
	}
	if s.Linux != nil && s.Linux.Personality != nil {
		if err := setPersonality(s.Linux.Personality); err != nil {
			return err
		}
	}
	if p.IOPriority != nil {
		if err := setIOPriority(p.IOPriority); err != nil {
			return err
		}
	}
	if err := setExecLabels(p); err != nil {
		return err
	}

	// Without a mount namespace there is no /proc of the container's to
	// reopen the exec fifo through, so the chroot into its root waits
	// until after the fifo, and so do the checks made inside that root.
	lateRoot := !cfg.Exec && !cfg.NewMount
	var name string
	if !lateRoot {
		if name, err = lookPath(p); err != nil {
			return err
		}
	}

	var sc *specs.LinuxSeccomp
	if s.Linux != nil {
		sc = s.Linux.Seccomp
	}
	if sc != nil && !p.NoNewPrivileges {
		// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so
		// it goes in before capabilities are dropped.
		if err := loadSeccomp(sc, cfg.Seccomp, cfg.State, listener); err != nil {
			return err
		}
	}
	if err := waitLimits(); err != nil {
		return err
	}
	if err := dropBounding(p.Capabilities); err != nil {
		return err
	}
	if err := setUser(p); err != nil {
		return err
	}
	if err := applyCaps(p.Capabilities); err != nil {
		return err
	}
	// Changing uid made the process non-dumpable, which puts /proc/self
	// out of its reach; waitStart opens the exec fifo through it. The
	// process has nothing more than the one it becomes at execve, and
	// execve sets the flag again from the new program.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set dumpable: %w", err)
	}
	if !lateRoot {
		if err := enterCwd(p.Cwd); err != nil {
			return err
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}

	if err := ch.send(&message{Type: msgReady}); err != nil {
		return err
	}
	if cfg.WaitStart {
		if err := waitStart(fifoFD); err != nil {
			return err
		}
	}
	if lateRoot {
		if err := unix.Chroot(cfg.Rootfs); err != nil {
			return fmt.Errorf("chroot %s: %w", cfg.Rootfs, err)
		}
		if name, err = lookPath(p); err != nil {
			return err
		}
		if err := enterCwd(p.Cwd); err != nil {
			return err
		}
	}
	if sc != nil && p.NoNewPrivileges {
		if err := loadSeccomp(sc, cfg.Seccomp, cfg.State, listener); err != nil {
			return err
		}
	}
	if !cfg.Exec && s.Hooks != nil {
		st := *cfg.State
		st.Status = specs.StateCreated
		if err := runHooks(s.Hooks.StartContainer, &st); err != nil {
			return fmt.Errorf("startContainer hook: %w", err)
		}
	}
	// Limits come last: an RLIMIT_AS below what the Go runtime has mapped
	// would make every later allocation of the init fail. The parent has
	// already raised hard limits that a user namespace could not.
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	unix.Umask(umaskOf(p))
	// An exec'd process joins the memory cgroup last, so that what its
	// init allocated is not charged to the container (cgroup.Join).
	if err := joinMemory(); err != nil {
		return err
	}
	err = unix.Exec(name, p.Args, p.Env)
	return execError(p.Args[0], err)
}

func setupRootfs(ch *channel, cfg *initConfig, joinCgroup func() (map[string]string, error), waitLimits func() error) error {
	s := cfg.Spec
	if cfg.NewMount {
		opts := rootfs.Options{
			InUserNS:   cfg.InUserNS,
			CgroupNS:   cfg.CgroupNS,
			Unified:    cgroup.Detect() == cgroup.Unified,
			JoinCgroup: joinCgroup,
		}
		if err := rootfs.Prepare(s, cfg.Rootfs, opts); err != nil {
			return err
		}
	}
	// With no cgroup mount in the spec, the cgroup namespace is made
	// here, before hooks or anything of the container's runs.
	if _, err := joinCgroup(); err != nil {
		return err
	}
	if err := waitLimits(); err != nil {
		return err
	}
	if cfg.HasHooks {
		if err := ch.send(&message{Type: msgHooks}); err != nil {
			return err
		}
		if _, err := ch.recv(msgHooksDone); err != nil {
			return err
		}
	}
	if s.Hooks != nil {
		if err := runHooks(s.Hooks.CreateContainer, cfg.State); err != nil {
			return fmt.Errorf("createContainer hook: %w", err)
		}
	}
	if cfg.NewMount {
		if err := rootfs.Pivot(cfg.Rootfs, cfg.NoPivot); err != nil {
			return err
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
	}
	if cfg.NewUTS {
		if s.Hostname != "" {
			if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
				return fmt.Errorf("set hostname %q: %w", s.Hostname, err)
			}
		}
		if s.Domainname != "" {
			if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
				return fmt.Errorf("set domainname %q: %w", s.Domainname, err)
			}
		}
	}
	if s.Linux != nil {
		for k, v := range s.Linux.Sysctl {
			p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
			if err := os.WriteFile(p, []byte(v), 0); err != nil {
				return fmt.Errorf("set sysctl %s=%s: %w", k, v, err)
			}
		}
	}
	if cfg.NewMount {
		return rootfs.Finalize(s)
	}
	return nil
}

func ownCgroupPaths() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return cgroup.ParseProcCgroup(f)
}

// closeExtraFDs marks every descriptor but stdio as close-on-exec, so
// nothing the caller of berth left open, and none of berth's own, reaches
// the container's process or a hook.
func closeExtraFDs() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list open files: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		unix.CloseOnExec(fd)
	}
	return nil
}

// waitStart blocks until `berth start` opens the exec fifo for reading.
// The fifo stays open, close-on-exec, so that start reads EOF only once
// the process has been executed (or the init has died): poststart hooks
// run after the process starts, as the spec says.
func waitStart(fifoFD int) error {
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fifoFD), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	unix.Close(fifoFD)
	if _, err := unix.Write(fd, []byte("0")); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	return nil
}

// lookPath finds the process's executable with the container's own PATH,
// so a missing one is reported by create, with exit code 127.
func lookPath(p *specs.Process) (string, error) {
	if len(p.Args) == 0 {
		return "", &InitError{Msg: "process args are empty", ExitCode: 127}
	}
	name := p.Args[0]
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", execError(name, err)
		}
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		full := filepath.Join(dir, name)
		err := checkExecutable(full)
		if err == nil {
			return full, nil
		}
		if errors.Is(err, unix.EACCES) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", execError(name, denied)
	}
	return "", &InitError{Msg: fmt.Sprintf("exec: %q: executable file not found in $PATH", name), ExitCode: 127}
}

func checkExecutable(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EISDIR
	}
	if st.Mode&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}

func execError(name string, err error) error {
	code := 126
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		code = 127
		return &InitError{Msg: fmt.Sprintf("exec: %q: no such file or directory", name), ExitCode: code}
	}
	return &InitError{Msg: fmt.Sprintf("exec: %q: %v", name, err), ExitCode: code}
}

// enterCwd changes to the process's working directory and checks that it
// lies inside the container's root: a directory reached through a leaked
// descriptor would not (CVE-2024-21626).
func enterCwd(cwd string) error {
	if cwd == "" {
		cwd = "/"
	}
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir to the process's cwd (%q): %w", cwd, err)
	}
	wd, err := os.Getwd()
	if err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("cwd %q is outside the container's root", cwd)
	}
	return nil
}

func umaskOf(p *specs.Process) int {
	if p.User.Umask != nil {
		return int(*p.User.Umask)
	}
	return 0o022
}

// setUser switches to the process's uid, gid and groups, keeping the
// capabilities that applyCaps will then trim.
func setUser(p *specs.Process) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	gids := make([]int, len(p.User.AdditionalGids))
	for i, g := range p.User.AdditionalGids {
		gids[i] = int(g)
	}
	if err := syscall.Setgroups(gids); err != nil && !(len(gids) == 0 && errors.Is(err, unix.EPERM)) {
		return fmt.Errorf("setgroups %v: %w", gids, err)
	}
	if err := syscall.Setgid(int(p.User.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", p.User.GID, err)
	}
	if err := syscall.Setuid(int(p.User.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", p.User.UID, err)
	}
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
}

func loadSeccomp(sc *specs.LinuxSeccomp, prog *seccomp.Program, st *specs.State, listener int) error {
	if prog != nil {
		return prog.Install()
	}
	fd, err := seccomp.Load(sc)
	if err != nil {
		return err
	}
	if fd >= 0 {
		defer unix.Close(fd)
		if listener < 0 {
			return fmt.Errorf("seccomp: a rule uses SCMP_ACT_NOTIFY but listenerPath is empty")
		}
		defer unix.Close(listener)
		return sendListener(listener, sc, st, fd)
	}
	return nil
}

// setExecLabels asks the kernel to apply the process's AppArmor profile
// and SELinux label at execve. On a host without that LSM the setting is
// ignored, as runc does: there is nothing to confine with.
func setExecLabels(p *specs.Process) error {
	if p.ApparmorProfile != "" && lsmEnabled("/sys/module/apparmor/parameters/enabled", "Y") {
		if err := writeAttr("apparmor/exec", "exec "+p.ApparmorProfile); err != nil {
			return fmt.Errorf("apparmor profile %q: %w", p.ApparmorProfile, err)
		}
	}
	if p.SelinuxLabel != "" && lsmEnabled("/sys/fs/selinux/enforce", "") {
		if err := writeAttr("exec", p.SelinuxLabel); err != nil {
			return fmt.Errorf("selinux label %q: %w", p.SelinuxLabel, err)
		}
	}
	return nil
}

func lsmEnabled(path, want string) bool {
	b, err := os.ReadFile(path)
	return err == nil && (want == "" || strings.TrimSpace(string(b)) == want)
}

func writeAttr(name, value string) error {
	return os.WriteFile("/proc/thread-self/attr/"+name, []byte(value), 0)
}

// joinMemory moves this thread, the one that goes on to execve, into the
// container's v1 memory cgroup, once; see cgroup.Join.Memory. After
// execve this thread is the whole process.
func joinMemory() error {
	fd := envFD(envCgroupMemory)
	if fd < 0 {
		return nil
	}
	os.Unsetenv(envCgroupMemory)
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte("0")); err != nil {
		return fmt.Errorf("join the container's memory cgroup: %w", err)
	}
	return nil
}
