package dockertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Names that keep this test's objects apart from any other Docker's.
const (
	namespace = "berth-dockertest" // containerd namespace of the containers
	image     = "berth-test-busybox"
)

// daemon is a private containerd and dockerd, everything of theirs under
// dir.
type daemon struct {
	dir       string
	runtime   string // berth-runc registered as "berth"
	cgParent  string // cgroup parent of every container, "/berth-dockertest-..."
	env       []string
	ctdSock   string
	dockerLog string
	ctdLog    string

	containerd, dockerd *exec.Cmd
	ctdExited           chan struct{}
	dockerdExited       chan struct{}
}

// commandPath finds name on PATH or in the sbin directories, which a
// root shell has but go test's environment may lack.
func commandPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH: install docker.io with 'scripts/setup.sh --docker'", name)
}

// haveDocker reports whether the programs the tests drive are installed.
func haveDocker() error {
	for _, name := range []string{"dockerd", "docker", "containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := commandPath(name); err != nil {
			return err
		}
	}
	return nil
}

// testEnv is the environment for the daemons and the client: the test's,
// without DOCKER_* settings that would point the client elsewhere, with
// the sbin directories on PATH.
func testEnv(dir string) []string {
	var env []string
	path := ""
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "DOCKER_"):
		case strings.HasPrefix(kv, "PATH="):
			path = strings.TrimPrefix(kv, "PATH=")
		default:
			env = append(env, kv)
		}
	}
	parts := filepath.SplitList(path)
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		if !slices.Contains(parts, d) {
			parts = append(parts, d)
		}
	}
	return append(env,
		"PATH="+strings.Join(parts, string(filepath.ListSeparator)),
		"DOCKER_HOST=unix://"+filepath.Join(dir, "docker.sock"),
		"DOCKER_CONFIG="+filepath.Join(dir, "client"),
	)
}

// startDaemon starts containerd and dockerd in a new temp dir and waits
// until dockerd answers. On an error, what it started is already torn
// down; the error includes the daemons' log tails.
func startDaemon(t *testing.T, berthRunc string) (*daemon, error) {
	dir, err := os.MkdirTemp("", "berth-docker-")
	if err != nil {
		return nil, err
	}
	d := &daemon{
		dir:       dir,
		runtime:   berthRunc,
		cgParent:  "/" + filepath.Base(dir),
		env:       testEnv(dir),
		ctdSock:   filepath.Join(dir, "containerd", "containerd.sock"),
		dockerLog: filepath.Join(dir, "dockerd.log"),
		ctdLog:    filepath.Join(dir, "containerd.log"),
	}
	if err := d.start(); err != nil {
		err = fmt.Errorf("%w%s", err, d.logTails(0, 0))
		d.stop(t)
		return nil, err
	}
	return d, nil
}

func (d *daemon) start() error {
	// A unix socket path has room for 107 bytes.
	if n := len(d.ctdSock + ".ttrpc"); n > 100 {
		return fmt.Errorf("temp dir %s is too deep for containerd's sockets (%d bytes): set TMPDIR to a shorter one", d.dir, n)
	}
	ctdDir := filepath.Join(d.dir, "containerd")
	if err := os.MkdirAll(ctdDir, 0o700); err != nil {
		return err
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(ctdDir, "root"), filepath.Join(ctdDir, "state"), d.ctdSock, d.ctdSock+".ttrpc", filepath.Join(ctdDir, "opt"))
	ctdConfig := filepath.Join(ctdDir, "config.toml")
	if err := os.WriteFile(ctdConfig, []byte(config), 0o600); err != nil {
		return err
	}
	dockerd, err := commandPath("dockerd")
	if err != nil {
		return err
	}
	// A config of our own, so that the host's daemon.json is not read.
	// dockerd before 23 writes its identity to /etc/docker/key.json
	// unless told otherwise; later ones have no such key and reject it.
	daemonConfig := "{}\n"
	if major, err := dockerdMajor(dockerd); err != nil {
		return err
	} else if major < 23 {
		daemonConfig = fmt.Sprintf("{%q: %q}\n", "deprecated-key-path", filepath.Join(d.dir, "key.json"))
	}
	daemonJSON := filepath.Join(d.dir, "daemon.json")
	if err := os.WriteFile(daemonJSON, []byte(daemonConfig), 0o600); err != nil {
		return err
	}

	containerd, err := commandPath("containerd")
	if err != nil {
		return err
	}
	d.containerd, d.ctdExited, err = d.spawn(d.ctdLog, containerd, "--config", ctdConfig)
	if err != nil {
		return fmt.Errorf("starting containerd: %w", err)
	}
	if err := waitReady(30*time.Second, d.ctdExited, "containerd", func() error {
		c, err := net.Dial("unix", d.ctdSock)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		return err
	}

	d.dockerd, d.dockerdExited, err = d.spawn(d.dockerLog, dockerd,
		"--config-file", daemonJSON,
		"--data-root", filepath.Join(d.dir, "data"),
		"--exec-root", filepath.Join(d.dir, "exec"),
		"--pidfile", filepath.Join(d.dir, "docker.pid"),
		"-H", "unix://"+filepath.Join(d.dir, "docker.sock"),
		"--containerd", d.ctdSock,
		"--containerd-namespace", namespace,
		"--containerd-plugins-namespace", namespace+"-plugins",
		"--bridge=none", "--iptables=false", "--ip6tables=false",
		"--exec-opt", "native.cgroupdriver=cgroupfs",
		"--cgroup-parent", d.cgParent,
		"--add-runtime", "berth="+d.runtime,
	)
	if err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", filepath.Join(d.dir, "docker.sock"))
		}},
	}
	defer client.CloseIdleConnections()
	return waitReady(60*time.Second, d.dockerdExited, "dockerd", func() error {
		resp, err := client.Get("http://docker/_ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ping answered %s", resp.Status)
		}
		return nil
	})
}

// dockerdMajor returns the major version that `dockerd --version`
// prints, as in "Docker version 20.10.24+dfsg1, build 5d6db84".
func dockerdMajor(dockerd string) (int, error) {
	out, err := exec.Command(dockerd, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("dockerd --version: %w", err)
	}
	_, v, ok := strings.Cut(string(out), "version ")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if !ok || err != nil {
		return 0, fmt.Errorf("dockerd --version: no version in %q", out)
	}
	return n, nil
}

// spawn starts a daemon in its own process group, its output to logFile,
// and returns a channel closed when it exits.
func (d *daemon) spawn(logFile, name string, args ...string) (*exec.Cmd, chan struct{}, error) {
	f, err := os.Create(logFile)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Env = d.env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	return cmd, exited, nil
}

// waitReady polls ready until it succeeds, the daemon exits or timeout
// passes.
func waitReady(timeout time.Duration, exited <-chan struct{}, name string, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting", name)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v", name, timeout, err)
		}
	}
}

// stop removes every container, stops dockerd and containerd, kills the
// shims they left, unmounts what is left under the temp dir, removes the
// cgroups under the test's parent and then the temp dir. What it cannot
// clean fails the test.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if d.dockerd != nil {
		select {
		case <-d.dockerdExited:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if r := d.docker(ctx, nil, "ps", "-aq"); r.ok() {
				if ids := strings.Fields(r.stdout); len(ids) > 0 {
					if r := d.docker(ctx, nil, append([]string{"rm", "-f"}, ids...)...); !r.ok() {
						t.Errorf("teardown: %s", r)
					}
				}
			}
			cancel()
		}
		terminate(t, "dockerd", d.dockerd, d.dockerdExited, 20*time.Second)
	}
	if d.containerd != nil {
		terminate(t, "containerd", d.containerd, d.ctdExited, 10*time.Second)
	}
	d.killShims(t)
	if err := unmountUnder(d.dir); err != nil {
		t.Errorf("teardown: %v", err)
	}
	if err := removeCgroups(d.cgParent); err != nil {
		t.Errorf("teardown: %v", err)
	}
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("teardown: %v", err)
	}
}

func terminate(t *testing.T, name string, cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration) {
	t.Helper()
	select {
	case <-exited:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(grace):
	}
	t.Errorf("teardown: %s did not exit %s after SIGTERM; killing it", name, grace)
	cmd.Process.Kill()
	<-exited
}

// killShims kills the containerd shims that the test's containerd
// started: the processes whose command line names its socket.
func (d *daemon) killShims(t *testing.T) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte(d.ctdSock)) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/cmdline", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		t.Logf("teardown: killing leftover process %d: %s", pid, bytes.ReplaceAll(data, []byte{0}, []byte{' '}))
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// mountPoints returns the mount points in /proc/self/mountinfo.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			mps = append(mps, unescapeMount(fields[4]))
		}
	}
	return mps, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mps, err := mountPoints()
	if err != nil {
		return err
	}
	var under []string
	for _, mp := range mps {
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			under = append(under, mp)
		}
	}
	sort.Slice(under, func(i, j int) bool { return len(under[i]) > len(under[j]) })
	var errs []error
	for _, mp := range under {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// cgroupMounts returns the mount point of each cgroup v1 controller (and
// named hierarchy, as "name=systemd") and of cgroup v2, "" when absent.
func cgroupMounts() (v1 map[string]string, v2 string, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	v1 = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		mp := unescapeMount(fields[4])
		switch tail[0] {
		case "cgroup2":
			if v2 == "" {
				v2 = mp
			}
		case "cgroup":
			for _, opt := range strings.Split(tail[2], ",") {
				if _, dup := v1[opt]; !dup && opt != "rw" && opt != "ro" {
					v1[opt] = mp
				}
			}
		}
	}
	return v1, v2, sc.Err()
}

// removeCgroups removes the cgroup parent, and anything below it, from
// every hierarchy.
func removeCgroups(parent string) error {
	v1, v2, err := cgroupMounts()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var errs []error
	for _, mp := range append(mapValues(v1), v2) {
		if mp == "" || seen[mp] {
			continue
		}
		seen[mp] = true
		root := filepath.Join(mp, parent)
		var dirs []string
		filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

func mapValues(m map[string]string) []string {
	var vs []string
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

// memoryLimit returns the memory limit of the cgroup that pid is in:
// memory.limit_in_bytes on cgroup v1, memory.max on v2.
func memoryLimit(pid int) (string, error) {
	v1, v2, err := cgroupMounts()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case slices.Contains(strings.Split(parts[1], ","), "memory") && v1["memory"] != "":
			file = filepath.Join(v1["memory"], parts[2], "memory.limit_in_bytes")
		case parts[0] == "0" && parts[1] == "" && v2 != "" && v1["memory"] == "":
			file = filepath.Join(v2, parts[2], "memory.max")
		default:
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", fmt.Errorf("no memory cgroup for pid %d in /proc/%d/cgroup:\n%s", pid, pid, data)
}

// memoryCgroupDir is where the memory cgroup of container id lives, under
// the test's cgroup parent.
func (d *daemon) memoryCgroupDir(id string) (string, error) {
	v1, v2, err := cgroupMounts()
	if err != nil {
		return "", err
	}
	mp := v1["memory"]
	if mp == "" {
		mp = v2
	}
	if mp == "" {
		return "", fmt.Errorf("no memory cgroup hierarchy is mounted")
	}
	return filepath.Join(mp, d.cgParent, id), nil
}

// result is what one docker command did.
type result struct {
	args           []string
	stdout, stderr string
	code           int   // exit code; -1 when it did not exit
	err            error // it did not start, or ran out of time
	elapsed        time.Duration
}

func (r result) ok() bool { return r.err == nil && r.code == 0 }

func (r result) String() string {
	var b strings.Builder
	b.WriteString("docker")
	for _, a := range r.args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'$|;&()<>*?") {
			a = strconv.Quote(a)
		}
		b.WriteString(" " + a)
	}
	b.WriteString(": ")
	if r.err != nil {
		fmt.Fprintf(&b, "%v", r.err)
	} else {
		fmt.Fprintf(&b, "exit %d", r.code)
	}
	fmt.Fprintf(&b, " after %s", r.elapsed.Round(time.Millisecond))
	if s := strings.TrimSpace(r.stdout); s != "" {
		fmt.Fprintf(&b, "\nstdout: %s", s)
	}
	if s := strings.TrimSpace(r.stderr); s != "" {
		fmt.Fprintf(&b, "\nstderr: %s", s)
	}
	return b.String()
}

// docker runs the docker client against the test's dockerd.
func (d *daemon) docker(ctx context.Context, stdin io.Reader, args ...string) result {
	r := result{args: args, code: -1}
	docker, err := commandPath("docker")
	if err != nil {
		r.err = err
		return r
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, docker, args...)
	cmd.Env = d.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err = cmd.Run()
	r.elapsed = time.Since(start)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.err = fmt.Errorf("no answer within the step's time limit: %w", ctx.Err())
	case err == nil:
		r.code = 0
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		r.err = err
	}
	return r
}

// logTails returns the last lines that dockerd and containerd logged
// after the given offsets: dockerd's last 20, and containerd's last 10
// warnings and errors (its info lines are one per shim plugin).
func (d *daemon) logTails(dockerOff, ctdOff int64) string {
	var b strings.Builder
	for _, l := range []struct {
		name, file string
		off        int64
		max        int
		filter     func(string) bool
	}{
		{"dockerd", d.dockerLog, dockerOff, 20, nil},
		{"containerd", d.ctdLog, ctdOff, 10, func(s string) bool {
			return strings.Contains(s, "level=warning") || strings.Contains(s, "level=error") || !strings.Contains(s, "level=")
		}},
	} {
		data, err := os.ReadFile(l.file)
		if err != nil || int64(len(data)) <= l.off {
			continue
		}
		var lines []string
		for _, line := range strings.Split(strings.TrimRight(string(data[l.off:]), "\n"), "\n") {
			if l.filter == nil || l.filter(line) {
				lines = append(lines, line)
			}
		}
		if len(lines) == 0 {
			continue
		}
		if len(lines) > l.max {
			lines = lines[len(lines)-l.max:]
		}
		fmt.Fprintf(&b, "\n--- %s log, last %d lines ---\n%s", l.name, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// watchLogs makes t log the daemons' lines written during t, if t fails.
func (d *daemon) watchLogs(t *testing.T) {
	t.Helper()
	size := func(f string) int64 {
		fi, err := os.Stat(f)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	dockerOff, ctdOff := size(d.dockerLog), size(d.ctdLog)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(d.logTails(dockerOff, ctdOff))
		}
	})
}
