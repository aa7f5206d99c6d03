package netdns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Files a server keeps in its network's directory, next to records.json.
const (
	pidFile  = "dns.pid"  // "PID ADDR\n"; locked by the server for its whole life
	lockFile = "dns.lock" // serializes EnsureRunning and Stop
	logFile  = "dns.log"  // the server's stderr
)

const (
	// Command is the hidden berth command that runs a server:
	// berth __dns NETWORK_DIR ADDR.
	Command = "__dns"
	// readyEnv names the descriptor on which the server reports that it
	// listens ("ok") or why it cannot.
	readyEnv = "BERTH_DNS_READY_FD"
	// socketsEnv names the descriptors of the UDP and TCP sockets that
	// the starting command bound for the server: "UDP,TCP".
	socketsEnv = "BERTH_DNS_SOCKET_FDS"

	readyTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
	maxLogSize   = 1 << 20
)

// EnsureRunning starts the resolver of the network whose directory is dir,
// listening at listen, port 53, unless it already runs there; a server
// that runs at another address is stopped and replaced. It returns once
// the server answers queries, or with the reason it cannot, such as an
// address it cannot bind. dir must hold a valid records.json.
func EnsureRunning(dir string, listen net.IP) error {
	ip, ok := netip.AddrFromSlice(listen)
	if !ok {
		return fmt.Errorf("dns server for %s: no listen address", dir)
	}
	return ensureRunning("/proc/self/exe", dir, netip.AddrPortFrom(ip.Unmap(), 53))
}

// ensureRunning is EnsureRunning with the berth binary to run and the
// port given.
func ensureRunning(exe, dir string, addr netip.AddrPort) error {
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	pid, at, err := running(dir)
	if err != nil {
		return err
	}
	if pid != 0 {
		if at == addr.String() {
			return nil
		}
		if err := stop(dir, pid); err != nil {
			return err
		}
	}
	return start(exe, dir, addr)
}

// Stop stops the resolver of the network whose directory is dir, if it
// runs, and waits for it to exit.
func Stop(dir string) error {
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	pid, _, err := running(dir)
	if err != nil || pid == 0 {
		return err
	}
	return stop(dir, pid)
}

func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dns server: %w", err)
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("dns server: lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// running reports the server that holds the pid file's lock, and the
// address it wrote there; pid 0 when none does. A pid file that nobody
// locks is stale: left by a server killed, or from before a reboot.
func running(dir string) (pid int, addr string, err error) {
	f, err := os.Open(filepath.Join(dir, pidFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("dns server: %w", err)
	}
	defer f.Close()
	switch err := flock(f, unix.LOCK_SH|unix.LOCK_NB); err {
	case nil:
		return 0, "", nil
	case unix.EWOULDBLOCK:
	default:
		return 0, "", fmt.Errorf("dns server: lock %s: %w", f.Name(), err)
	}
	data, _ := io.ReadAll(io.LimitReader(f, 256))
	fields := strings.Fields(string(data))
	if len(fields) == 2 {
		pid, _ = strconv.Atoi(fields[0])
	}
	if pid <= 0 {
		return 0, "", fmt.Errorf("dns server: %s: a server holds it but it says %q", f.Name(), data)
	}
	return pid, fields[1], nil
}

// stop sends SIGTERM to the server and waits until its lock on the pid
// file is gone, which the kernel drops when the process exits; SIGKILL
// after stopTimeout. The lock, not the pid, is what tells the server
// apart from a process that reused its pid.
func stop(dir string, pid int) error {
	f, err := os.Open(filepath.Join(dir, pidFile))
	if err != nil {
		return fmt.Errorf("dns server: %w", err)
	}
	defer f.Close()
	unix.Kill(pid, unix.SIGTERM)
	for _, sig := range []unix.Signal{unix.SIGKILL, 0} {
		deadline := time.Now().Add(stopTimeout)
		for time.Now().Before(deadline) {
			if flock(f, unix.LOCK_SH|unix.LOCK_NB) == nil {
				return nil
			}
			time.Sleep(5 * time.Millisecond)
		}
		if sig != 0 {
			unix.Kill(pid, sig)
		}
	}
	return fmt.Errorf("dns server (pid %d) of %s did not exit", pid, dir)
}

// start binds the server's sockets at addr and runs exe __dns DIR ADDR
// with them, without privileges (see startUnprivileged), in a session of
// its own, with stdout and stderr on dns.log, and waits for its report.
func start(exe, dir string, addr netip.AddrPort) error {
	if err := truncateLog(filepath.Join(dir, logFile)); err != nil {
		return fmt.Errorf("dns server: %w", err)
	}
	socks, err := bindFiles(addr)
	if errors.Is(err, unix.EADDRINUSE) && stopOrphans(dir, addr) {
		socks, err = bindFiles(addr)
	}
	if err != nil {
		return fmt.Errorf("dns server on %s: %w", addr, err)
	}
	defer socks[0].Close()
	defer socks[1].Close()
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("dns server: %w", err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("dns server: %w", err)
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{"berth", Command, dir, addr.String()},
		Env:         append(childEnv(), readyEnv+"=3", socketsEnv+"=4,5"),
		Dir:         "/",
		Stdout:      logf,
		Stderr:      logf,
		ExtraFiles:  []*os.File{w, socks[0], socks[1]},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = startUnprivileged(cmd)
	w.Close()
	if err != nil {
		return fmt.Errorf("dns server on %s: %w", addr, err)
	}
	// The server outlives this call; waiting in the background reaps it
	// if it exits while this process still runs.
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	r.SetReadDeadline(time.Now().Add(readyTimeout))
	msg, rerr := io.ReadAll(io.LimitReader(r, 4096))
	msg = bytes.TrimSpace(msg)
	switch {
	case string(msg) == "ok":
		return nil
	case len(msg) > 0:
		<-exited
		return fmt.Errorf("dns server on %s: %s", addr, bytes.TrimPrefix(msg, []byte("dns server: ")))
	case errors.Is(rerr, os.ErrDeadlineExceeded):
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("dns server on %s: not listening after %v; see %s", addr, readyTimeout, logf.Name())
	}
	<-exited
	return fmt.Errorf("dns server on %s: %v before it listened; see %s", addr, cmd.ProcessState, logf.Name())
}

// stopOrphans stops the servers of other network directories than dir
// that hold addr in this network namespace, when no other interface
// than dir's bridge has the address: such a server's bridge is gone, and
// it belongs to a root abandoned with its networks running (a killed
// test's, say), whose records it still finds. A network of another root
// that is up, with the same subnet, has the address on its bridge too,
// and keeps its server. It reports whether it stopped any.
func stopOrphans(dir string, addr netip.AddrPort) bool {
	if holders, err := addressHolders(addr.Addr()); err != nil || holders > 1 {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	ours, err := os.Stat("/proc/thread-self/ns/net")
	if err != nil {
		return false
	}
	// isOrphan says whether pid is a server at addr of another directory,
	// in this namespace.
	isOrphan := func(pid int) bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if err != nil || len(args) != 4 || args[1] != Command || args[3] != addr.String() ||
			filepath.Clean(args[2]) == filepath.Clean(dir) {
			return false
		}
		theirs, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
		return err == nil && os.SameFile(ours, theirs)
	}
	stopped := false
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !isOrphan(pid) {
			continue
		}
		// The process, not whatever has its pid next: checked again once
		// it is held.
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		if isOrphan(pid) {
			for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGKILL} {
				unix.PidfdSendSignal(fd, sig, nil, 0)
				// A pidfd polls readable once the process has exited.
				if n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(stopTimeout.Milliseconds())); n > 0 {
					break
				}
			}
			stopped = true
		}
		unix.Close(fd)
	}
	return stopped
}

// addressHolders counts the interfaces of this network namespace that
// have address a.
func addressHolders(a netip.Addr) (int, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range addrs {
		if p, ok := x.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(p.IP); ok && b.Unmap() == a.Unmap() {
				n++
			}
		}
	}
	return n, nil
}

// bindFiles binds UDP and TCP sockets at addr, as files to hand over.
func bindFiles(addr netip.AddrPort) ([2]*os.File, error) {
	var files [2]*os.File
	pc, l, err := listenUDPTCP(addr)
	if err != nil {
		return files, err
	}
	defer pc.Close()
	defer l.Close()
	if files[0], err = pc.(*net.UDPConn).File(); err != nil {
		return files, err
	}
	if files[1], err = l.(*net.TCPListener).File(); err != nil {
		files[0].Close()
		return files, err
	}
	return files, nil
}

// inheritedSockets makes the sockets that socketsEnv names into
// connections, or returns nils when it names none.
func inheritedSockets() (net.PacketConn, net.Listener, error) {
	v := os.Getenv(socketsEnv)
	if v == "" {
		return nil, nil, nil
	}
	os.Unsetenv(socketsEnv)
	u, t, ok := strings.Cut(v, ",")
	ufd, err1 := strconv.Atoi(u)
	tfd, err2 := strconv.Atoi(t)
	if !ok || err1 != nil || err2 != nil || ufd < 3 || tfd < 3 {
		return nil, nil, fmt.Errorf("dns server: %s=%q: want two descriptors", socketsEnv, v)
	}
	uf, tf := os.NewFile(uintptr(ufd), "udp"), os.NewFile(uintptr(tfd), "tcp")
	defer uf.Close()
	defer tf.Close()
	pc, err := net.FilePacketConn(uf)
	if err != nil {
		return nil, nil, fmt.Errorf("dns server: inherited UDP socket: %w", err)
	}
	l, err := net.FileListener(tf)
	if err != nil {
		pc.Close()
		return nil, nil, fmt.Errorf("dns server: inherited TCP socket: %w", err)
	}
	return pc, l, nil
}

// childEnv is this process's environment without the variables that make
// a berth process something else before main runs (the namespace joiner,
// the monitor).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "_BERTH_") && !strings.HasPrefix(kv, readyEnv+"=") && !strings.HasPrefix(kv, socketsEnv+"=") {
			env = append(env, kv)
		}
	}
	return env
}

func truncateLog(path string) error {
	st, err := os.Stat(path)
	if err == nil && st.Size() > maxLogSize {
		return os.Truncate(path, 0)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// ServerMain is the hidden command berth __dns NETWORK_DIR ADDR: it runs
// the network's server in this process until the network's records.json
// is removed or SIGTERM comes. ADDR is IP or IP:PORT. When started by
// EnsureRunning, it serves the sockets that BERTH_DNS_SOCKET_FDS names,
// bound at ADDR, and reports on the descriptor that BERTH_DNS_READY_FD
// names; otherwise it binds ADDR itself.
func ServerMain(dir, addr string) error {
	// A server idles almost always and answers small queries; keep its
	// heap near what it holds rather than letting it double.
	debug.SetGCPercent(25)
	debug.SetMemoryLimit(8 << 20)
	runtime.GOMAXPROCS(2)
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE)
	var ready *os.File
	readyFd := -1
	if fd, err := strconv.Atoi(os.Getenv(readyEnv)); err == nil && fd > 2 {
		readyFd = fd
		ready = os.NewFile(uintptr(fd), "ready")
		unix.CloseOnExec(fd)
		os.Unsetenv(readyEnv)
	}
	// The sockets' descriptors are made again with close-on-exec, and
	// those inherited closed, before the others inherited are.
	pc, l, err := inheritedSockets()
	closeInherited(readyFd)
	logger := log.New(os.Stderr, "", log.LstdFlags)
	var s *Server
	var lock *os.File
	if err == nil {
		s, lock, err = listenLocked(dir, addr, pc, l, logger)
	}
	if err != nil {
		if ready != nil {
			fmt.Fprintf(ready, "%v\n", err)
		}
		return err
	}
	defer lock.Close()
	stopping := make(chan os.Signal, 1)
	signal.Notify(stopping, unix.SIGTERM, unix.SIGINT)
	go func() { <-stopping; s.Close() }()
	if ready != nil {
		fmt.Fprintln(ready, "ok")
		ready.Close()
	}
	logger.Printf("listening on %s (pid %d)", s.Addr(), os.Getpid())
	err = s.Serve()
	switch _, serr := os.Stat(filepath.Join(dir, RecordsFile)); {
	case err != nil:
		logger.Printf("exiting: %v", err)
	case errors.Is(serr, os.ErrNotExist):
		logger.Printf("exiting: %s is gone", RecordsFile)
	default:
		logger.Printf("exiting: stopped")
	}
	return err
}

// closeInherited closes the descriptors this process inherited, other
// than stdio and keep: a long-lived server must not hold open the pipes
// of whoever started it, such as a shell's or a test runner's, which wait
// for every writer to close. Those are the descriptors without
// close-on-exec, since they survived the exec, while the Go runtime opens
// all of its own with it.
func closeInherited(keep int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 || fd == keep {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

// listenLocked takes the pid file's lock, makes the server of sockets pc
// and l (binds its own at addr when they are nil) and writes the pid
// file. The caller holds the lock, the pid file open, until the server is
// done.
func listenLocked(dir, addr string, pc net.PacketConn, l net.Listener, logger *log.Logger) (*Server, *os.File, error) {
	closeSockets := func() {
		if pc != nil {
			pc.Close()
			l.Close()
		}
	}
	ap, err := ParseUpstream(addr)
	if err != nil {
		closeSockets()
		return nil, nil, fmt.Errorf("dns server: listen address %q: want IP or IP:PORT", addr)
	}
	f, err := os.OpenFile(filepath.Join(dir, pidFile), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		closeSockets()
		return nil, nil, fmt.Errorf("dns server: %w", err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		closeSockets()
		f.Close()
		return nil, nil, fmt.Errorf("dns server: another server of %s holds %s", dir, f.Name())
	}
	var s *Server
	if pc != nil {
		if s, err = newServer(dir, pc, l, logger); err != nil {
			closeSockets()
		}
	} else {
		s, err = Listen(dir, ap, logger)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := writePid(f, s.Addr()); err != nil {
		s.Close()
		f.Close()
		return nil, nil, fmt.Errorf("dns server: %s: %w", f.Name(), err)
	}
	return s, f, nil
}

func writePid(f *os.File, addr netip.AddrPort) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), addr)), 0)
	return err
}
