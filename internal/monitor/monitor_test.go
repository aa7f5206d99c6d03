package monitor

// The test binary links this package, so its C constructor runs the
// monitor when Start executes /proc/self/exe. Start commands are shell
// scripts in which a background process stands in for the container.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// opts returns Options for a container whose start command is script,
// run by sh with the container's temp dir as $0. The script may call
// gate CMD..., which runs CMD as the container once the start command has
// exited: a shell reaps a background child that ends before it does, and
// the monitor would never see that child's exit.
func opts(t *testing.T, script string) Options {
	t.Helper()
	dir := t.TempDir()
	const gate = `gate() { mkfifo "$0/gate"; exec 7<&0; (read x < "$0/gate"; exec "$@" <&7 7<&-) & ` +
		`exec 6> "$0/gate" 7<&-; echo $! >&3; }; `
	return Options{
		ID:       "c1",
		LogPath:  filepath.Join(dir, "log"),
		ExitFile: filepath.Join(dir, "exit"),
		Start:    []string{"/bin/sh", "-c", gate + script, dir},
	}
}

func dirOf(o Options) string { return filepath.Dir(o.LogPath) }

// start starts a monitor and arranges that it and its container are gone
// when the test ends.
func start(t *testing.T, o Options) Process {
	t.Helper()
	p, err := Start(o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		// a pid is killed only while it is known: the container while it
		// is the monitor's child, the monitor while it runs
		if parent(p.ContainerPID) == p.PID {
			syscall.Kill(p.ContainerPID, syscall.SIGKILL)
		}
		if Running(p.PID, o.ID) {
			syscall.Kill(p.PID, syscall.SIGKILL)
		}
	})
	return p
}

// parent returns the parent of pid, or 0.
func parent(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// waitGone waits until the process pid has exited.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(time.Until(deadline).Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		if n == 0 {
			t.Fatalf("process %d still runs after 10s", pid)
		}
		return
	}
}

// finish waits for the monitor to exit and returns its final exit record.
func finish(t *testing.T, o Options, p Process) Exit {
	t.Helper()
	waitGone(t, p.PID)
	e, err := ReadExit(o.ExitFile)
	if err != nil {
		t.Fatalf("ReadExit: %v", err)
	}
	if e.Restarting {
		t.Errorf("final exit file says restarting: %+v", e)
	}
	return e
}

type entry struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
	raw    string
}

func readLog(t *testing.T, path string) []entry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	for line := range strings.SplitSeq(string(b), "\n") {
		if line == "" {
			continue
		}
		var e entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		e.raw = line
		out = append(out, e)
	}
	return out
}

func byStream(es []entry, stream string) []string {
	var out []string
	for _, e := range es {
		if e.Stream == stream {
			out = append(out, e.Log)
		}
	}
	return out
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestLog(t *testing.T) {
	t.Parallel()
	before := time.Now()
	o := opts(t, `printf 'a\nb'; echo err >&2; sleep 0.1 & echo $! >&3`)
	p := start(t, o)
	e := finish(t, o, p)
	if e.Code != 0 || e.Restarts != 0 || e.Stopped || e.Error != "" {
		t.Errorf("exit = %+v", e)
	}
	if e.FinishedAt.Before(before) || e.FinishedAt.After(time.Now()) {
		t.Errorf("finished at %v, not during the test", e.FinishedAt)
	}
	es := readLog(t, o.LogPath)
	if got, want := byStream(es, "stdout"), []string{"a\n", "b"}; !slices.Equal(got, want) {
		t.Errorf("stdout entries = %q, want %q (the last one partial)", got, want)
	}
	if got, want := byStream(es, "stderr"), []string{"err\n"}; !slices.Equal(got, want) {
		t.Errorf("stderr entries = %q, want %q", got, want)
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$`)
	for _, x := range es {
		if !stamp.MatchString(x.Time) {
			t.Errorf("time %q is not RFC 3339 with nanoseconds as Docker writes it", x.Time)
		}
		ts, err := time.Parse(time.RFC3339Nano, x.Time)
		if err != nil || ts.Before(before.Add(-time.Second)) || ts.After(time.Now()) {
			t.Errorf("time %q: %v, not during the test", x.Time, err)
		}
		if !strings.HasPrefix(x.raw, `{"log":`) || !strings.Contains(x.raw, `","stream":"`) {
			t.Errorf("entry %s is not in Docker's field order", x.raw)
		}
	}
}

func TestLogEscaping(t *testing.T) {
	t.Parallel()
	o := opts(t, `printf 'q"b\\s\t<>&\001\177\377\303\251\342\200\250\355\240\200x\r\n'; gate true`)
	p := start(t, o)
	finish(t, o, p)
	es := readLog(t, o.LogPath)
	if len(es) != 1 {
		t.Fatalf("entries = %v, want 1", es)
	}
	want := `{"log":"q\"b\\s\u0009\u003c\u003e\u0026\u0001` + "\x7f" + `\ufffd` + "é" + `\u2028\ufffd\ufffd\ufffdx\r\n","stream":"stdout","time":`
	if !strings.HasPrefix(es[0].raw, want) {
		t.Errorf("entry\n %s\nwant prefix\n %s", es[0].raw, want)
	}
}

// dockerString is Docker's json-file string encoder, the reference the
// monitor's escaping must match byte for byte.
func dockerString(s []byte) string {
	const hex = "0123456789abcdef"
	var buf bytes.Buffer
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if 0x20 <= b && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			buf.Write(s[start:i])
			switch b {
			case '\\', '"':
				buf.WriteByte('\\')
				buf.WriteByte(b)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[b>>4])
				buf.WriteByte(hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf.Write(s[start:i])
			buf.WriteString(`\ufffd`)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			buf.Write(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.Write(s[start:])
	buf.WriteByte('"')
	return buf.String()
}

func TestLogMatchesDocker(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	pieces := [][]byte{
		[]byte("é"), []byte("€"), []byte("😀"), []byte("\u2028"), []byte("\u2029"),
		{0xed, 0xa0, 0x80}, {0xc0, 0xaf}, {0xe0, 0x80, 0xaf}, {0xf4, 0x90, 0x80, 0x80},
		{0xf0, 0x9f, 0x98}, {0xc3}, {0x80}, {0xff}, []byte(`"\<>&`), {0x7f}, {0x1b}, {'\r'}, {'\t'},
	}
	var lines [][]byte
	var all bytes.Buffer
	for range 400 {
		var l []byte
		for range rng.Intn(40) {
			if rng.Intn(3) == 0 {
				l = append(l, pieces[rng.Intn(len(pieces))]...)
			} else if b := byte(rng.Intn(256)); b != '\n' {
				l = append(l, b)
			}
		}
		lines = append(lines, l)
		all.Write(l)
		all.WriteByte('\n')
	}
	o := opts(t, `gate cat "$0/input"`)
	if err := os.WriteFile(filepath.Join(dirOf(o), "input"), all.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, o)
	finish(t, o, p)
	es := readLog(t, o.LogPath)
	if len(es) != len(lines) {
		t.Fatalf("%d entries, want %d", len(es), len(lines))
	}
	for i, e := range es {
		var raw struct{ Log json.RawMessage }
		if err := json.Unmarshal([]byte(e.raw), &raw); err != nil {
			t.Fatal(err)
		}
		if got, want := string(raw.Log), dockerString(append(lines[i], '\n')); got != want {
			t.Fatalf("line %d (%q):\n got %s\nwant %s", i, lines[i], got, want)
		}
	}
}

func TestPartialLines(t *testing.T) {
	t.Parallel()
	o := opts(t, `head -c 40000 /dev/zero | tr '\0' x; echo; printf tail; gate true`)
	p := start(t, o)
	finish(t, o, p)
	es := readLog(t, o.LogPath)
	x := strings.Repeat("x", 16384)
	want := []string{x, x, strings.Repeat("x", 40000-2*16384) + "\n", "tail"}
	if got := byStream(es, "stdout"); !slices.Equal(got, want) {
		var lens []int
		for _, g := range got {
			lens = append(lens, len(g))
		}
		t.Fatalf("entries of %v bytes, want 16384, 16384, 7233 and \"tail\"", lens)
	}
	if es[0].Time != es[1].Time || es[1].Time != es[2].Time {
		t.Errorf("parts of one line have times %s, %s, %s; want the first part's", es[0].Time, es[1].Time, es[2].Time)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	const script = `i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done; gate true`
	for _, files := range []int{3, 1} {
		t.Run(strconv.Itoa(files), func(t *testing.T) {
			t.Parallel()
			o := opts(t, script)
			o.LogMaxSize = 1000
			o.LogMaxFiles = files
			p := start(t, o)
			finish(t, o, p)
			var logs []string
			for i := files - 1; i >= 0; i-- {
				path := o.LogPath
				if i > 0 {
					path += "." + strconv.Itoa(i)
				}
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if st.Size() > 1000 {
					t.Errorf("%s has %d bytes, more than the maximum of 1000", path, st.Size())
				}
				logs = append(logs, byStream(readLog(t, path), "stdout")...)
			}
			if _, err := os.Stat(o.LogPath + "." + strconv.Itoa(files)); err == nil {
				t.Errorf("%s.%d exists; only %d files are kept", o.LogPath, files, files)
			}
			// with one file, what is left is what came after the last truncation
			if min := 1 + 10*(files-1); len(logs) < min {
				t.Fatalf("only %d entries kept, want %d or more", len(logs), min)
			}
			first, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(logs[0], "line"), "\n"))
			for i, l := range logs {
				if want := fmt.Sprintf("line%d\n", first+i); l != want {
					t.Fatalf("entry %d = %q, want %q: the files are not consecutive", i, l, want)
				}
			}
			if last := logs[len(logs)-1]; last != "line99\n" {
				t.Errorf("last entry = %q, want line99", last)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script string
		kill   bool
		code   int
	}{
		{"exit 3", `gate sh -c 'exit 3'`, false, 3},
		{"SIGKILL", `sleep 10 & echo $! >&3`, true, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := opts(t, tc.script)
			p := start(t, o)
			if tc.kill {
				if err := syscall.Kill(p.ContainerPID, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			if e := finish(t, o, p); e.Code != tc.code {
				t.Errorf("code = %d, want %d", e.Code, tc.code)
			}
		})
	}
}

func TestRestartOnFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy   string
		status   int
		runs     int
		restarts int
	}{
		{"on-failure:2", 1, 3, 2},
		{"on-failure:2", 0, 1, 0},
		{"no", 1, 1, 0},
	} {
		t.Run(fmt.Sprintf("%s exit %d", tc.policy, tc.status), func(t *testing.T) {
			t.Parallel()
			o := opts(t, fmt.Sprintf(`echo run >> "$0/runs"; rm -f "$0/gate"; gate sh -c 'exit %d'`, tc.status))
			runs := filepath.Join(dirOf(o), "runs")
			var err error
			if o.Restart, err = ParseRestartPolicy(tc.policy); err != nil {
				t.Fatal(err)
			}
			p := start(t, o)
			e := finish(t, o, p)
			if e.Code != tc.status || e.Restarts != tc.restarts || e.Stopped {
				t.Errorf("exit = %+v, want code %d after %d restarts", e, tc.status, tc.restarts)
			}
			if n := countLines(t, runs); n != tc.runs {
				t.Errorf("started %d times, want %d", n, tc.runs)
			}
		})
	}
}

func TestRestartUntilStopped(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{RestartAlways, RestartUnlessStopped} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			o := opts(t, `echo run >> "$0/runs"; rm -f "$0/gate"; gate true`)
			runs := filepath.Join(dirOf(o), "runs")
			o.Restart = RestartPolicy{Name: policy}
			p := start(t, o)
			deadline := time.Now().Add(5 * time.Second)
			for countLines(t, runs) < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("started %d times in 5s, want 3", countLines(t, runs))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if e, err := ReadExit(o.ExitFile); err != nil || !e.Restarting {
				t.Errorf("exit file between runs = %+v, %v; want restarting", e, err)
			}
			if err := Stop(p.PID, o.ID); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			e := finish(t, o, p)
			if !e.Stopped || e.Restarts < 2 {
				t.Errorf("exit = %+v, want stopped after 2 restarts or more", e)
			}
			if n := countLines(t, runs); n != e.Restarts+1 {
				t.Errorf("started %d times, but the exit file counts %d restarts", n, e.Restarts)
			}
			if err := Stop(p.PID, o.ID); !errors.Is(err, ErrNotRunning) {
				t.Errorf("Stop after the end = %v, want ErrNotRunning", err)
			}
		})
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	o := opts(t, `rm -f "$0/gate"; gate sh -c 'exit 1'`)
	dir := dirOf(o)
	o.Restart = RestartPolicy{Name: RestartOnFailure, MaximumRetryCount: 1}
	o.Cleanup = []string{"/bin/sh", "-c", `echo x >> "$0/cleanup"; cat "$0/exit" > "$0/seen"`, dir}
	p := start(t, o)
	e := finish(t, o, p)
	if n := countLines(t, filepath.Join(dir, "cleanup")); n != 1 {
		t.Errorf("cleanup ran %d times, want 1", n)
	}
	// the cleanup reads the final exit, recorded before it runs
	if seen, err := ReadExit(filepath.Join(dir, "seen")); err != nil || seen.Restarting || seen.Restarts != 1 || seen.Code != 1 {
		t.Errorf("exit file during cleanup = %+v, %v; want the final one", seen, err)
	}
	if e.Error != "" || e.Restarts != 1 {
		t.Errorf("exit = %+v", e)
	}

	o = opts(t, `gate true`)
	o.Cleanup = []string{"/bin/sh", "-c", "exit 4"}
	p = start(t, o)
	if e := finish(t, o, p); e.Error != "cleanup command exited with status 4" {
		t.Errorf("exit error = %q, want the cleanup's failure", e.Error)
	}
}

func TestStartFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, script, want string
		status             int // the StartError's, or 0 for none
	}{
		{"message", `echo oops >&2; printf 'no such image: foo\n' >&3; exit 1`, "no such image: foo", 1},
		{"status", `exit 7`, "start command exited with status 7", 7},
		{"signal", `kill -9 $$`, "start command was killed by signal 9", 0},
		{"no pid", `exit 0`, "start command reported no container pid", 0},
		{"not a child", `echo 1 >&3`, "start command reported pid 1, which is not its child", 0},
		{"pid then failure", `sleep 10 & echo $! >&3; echo $! > "$0/pid"; exit 2`, "start command exited with status 2", 2},
		{"exec", "", "exec /nonexistent/start: no such file or directory", 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := opts(t, tc.script)
			dir := dirOf(o)
			if tc.script == "" {
				o.Start = []string{"/nonexistent/start"}
			}
			o.Cleanup = []string{"/bin/sh", "-c", `echo x >> "$0/cleanup"`, dir}
			_, err := Start(o)
			if err == nil || !strings.EqualFold(err.Error(), tc.want) {
				t.Fatalf("Start error = %v, want %q", err, tc.want)
			}
			var se *StartError
			if ok := errors.As(err, &se); ok != (tc.status != 0) || (ok && se.ExitStatus != tc.status) {
				t.Errorf("Start error %#v, want a StartError with status %d", err, tc.status)
			}
			// Start returns after the cleanup, and leaves no exit file
			if n := countLines(t, filepath.Join(dir, "cleanup")); n != 1 {
				t.Errorf("cleanup ran %d times, want 1", n)
			}
			if _, err := os.Stat(o.ExitFile); !os.IsNotExist(err) {
				t.Errorf("exit file after a failed start: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				waitGone(t, pid) // the monitor kills what a failed start reported
			}
			if tc.name == "message" {
				if got := byStream(readLog(t, o.LogPath), "stderr"); !slices.Equal(got, []string{"oops\n"}) {
					t.Errorf("the start command's stderr logged as %q", got)
				}
			}
		})
	}
}

func TestStdin(t *testing.T) {
	t.Parallel()
	const script = `gate cat`
	o := opts(t, script)
	p := start(t, o)
	if e := finish(t, o, p); e.Code != 0 {
		t.Errorf("cat of /dev/null exited %d", e.Code)
	}

	o = opts(t, script)
	o.OpenStdin = true
	p = start(t, o)
	time.Sleep(100 * time.Millisecond)
	if !alive(p.ContainerPID) {
		t.Fatal("cat of the stdin pipe ended: the pipe was not held open")
	}
	syscall.Kill(p.ContainerPID, syscall.SIGKILL)
	finish(t, o, p)
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

func TestMonitorKilled(t *testing.T) {
	t.Parallel()
	o := opts(t, `sleep 10 & echo $! >&3`)
	p := start(t, o)
	if pgid, err := syscall.Getpgid(p.ContainerPID); err != nil || pgid == p.PID {
		t.Errorf("container's process group = %d, %v; want one apart from the monitor's", pgid, err)
	}
	if sid, err := unix.Getsid(p.PID); err != nil || sid != p.PID {
		t.Errorf("monitor's session = %d, %v; want its own", sid, err)
	}
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, p.PID)
	time.Sleep(50 * time.Millisecond)
	if !alive(p.ContainerPID) {
		t.Error("the container died with its monitor")
	} else if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(p.ContainerPID) + "/cmdline"); bytes.HasPrefix(cmd, []byte("sleep\x00")) {
		syscall.Kill(p.ContainerPID, syscall.SIGKILL)
	}
	if _, err := os.Stat(o.ExitFile); !os.IsNotExist(err) {
		t.Errorf("exit file of a killed monitor: %v", err)
	}
}

// TestPSS measures an idle monitor's proportional set size: its share of
// the pages it maps, counting shared ones (libc, the binary) divided among
// the processes that map them.
func TestPSS(t *testing.T) {
	t.Parallel()
	o := opts(t, `echo hello; sleep 10 & echo $! >&3`)
	p := start(t, o)
	time.Sleep(100 * time.Millisecond)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/smaps_rollup")
	if err != nil {
		t.Skipf("no smaps_rollup: %v", err)
	}
	fields := map[string]int{}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			n, _ := strconv.Atoi(f[1])
			fields[strings.TrimSuffix(f[0], ":")] = n
		}
	}
	t.Logf("idle monitor: Pss %d kB (anon %d kB), Rss %d kB, private %d kB",
		fields["Pss"], fields["Pss_Anon"], fields["Rss"], fields["Private_Clean"]+fields["Private_Dirty"])
	if fields["Pss"] == 0 || fields["Pss"] > 1024 {
		t.Errorf("Pss = %d kB, want under 1 MB", fields["Pss"])
	}
	syscall.Kill(p.ContainerPID, syscall.SIGKILL)
	finish(t, o, p)
}

func TestRunningAndStop(t *testing.T) {
	t.Parallel()
	if Running(os.Getpid(), "c1") || Running(0, "c1") {
		t.Error("Running is true of a process that is no monitor")
	}
	o := opts(t, `sleep 10 & echo $! >&3`)
	p := start(t, o)
	if !Running(p.PID, o.ID) || Running(p.PID, "other") {
		t.Error("Running does not tell the monitor of c1")
	}
	if err := Stop(p.PID, "other"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Stop of another container's monitor = %v, want ErrNotRunning", err)
	}
	if err := Stop(p.PID, o.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if !alive(p.ContainerPID) || !Running(p.PID, o.ID) {
		t.Error("Stop ended the container or its monitor; it should only stop restarts")
	}
	syscall.Kill(p.ContainerPID, syscall.SIGTERM)
	if e := finish(t, o, p); !e.Stopped || e.Code != 128+15 {
		t.Errorf("exit = %+v, want stopped with code 143", e)
	}
}

func TestLogUnwritable(t *testing.T) {
	t.Parallel()
	o := opts(t, `gate true`)
	dir := dirOf(o)
	o.LogPath = filepath.Join(dir, "missing", "log")
	o.Cleanup = []string{"/bin/sh", "-c", `echo x >> "$0/cleanup"`, dir}
	_, err := Start(o)
	if want := "open log " + o.LogPath + ": No such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Start error = %v, want %q", err, want)
	}
	if n := countLines(t, filepath.Join(dir, "cleanup")); n != 1 {
		t.Errorf("cleanup ran %d times, want 1", n)
	}
}

// TestWriterOutlivesContainer: a process that keeps the container's
// stdout open and writes without end (possible without a pid namespace)
// must not keep the monitor from finishing.
func TestWriterOutlivesContainer(t *testing.T) {
	t.Parallel()
	o := opts(t, `yes & sleep 0.1; gate true`)
	o.LogMaxSize, o.LogMaxFiles = 1<<20, 2
	p := start(t, o)
	finish(t, o, p)
	// the drain may stop inside a line, so the last entry may be partial
	if es := readLog(t, o.LogPath); len(es) < 2 || es[0].Log != "y\n" {
		t.Errorf("the writer's output was not logged")
	}
}

func TestOldExitFileRemoved(t *testing.T) {
	t.Parallel()
	o := opts(t, `sleep 10 & echo $! >&3`)
	if err := os.WriteFile(o.ExitFile, []byte(`{"code":5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, o)
	if _, err := os.Stat(o.ExitFile); !os.IsNotExist(err) {
		t.Errorf("an earlier exit file is still there while the container runs: %v", err)
	}
	syscall.Kill(p.ContainerPID, syscall.SIGKILL)
	if e := finish(t, o, p); e.Code != 137 {
		t.Errorf("exit = %+v", e)
	}
}

// TestRestartFails: a restart whose start command fails ends the monitor,
// and the exit file says why.
func TestRestartFails(t *testing.T) {
	t.Parallel()
	o := opts(t, `if [ -e "$0/gate" ]; then echo 'image gone' >&3; exit 1; fi; gate sh -c 'exit 2'`)
	o.Restart = RestartPolicy{Name: RestartAlways}
	p := start(t, o)
	e := finish(t, o, p)
	if e.Code != 2 || e.Restarts != 0 || e.Error != "image gone" {
		t.Errorf("exit = %+v, want code 2, no restarts, error \"image gone\"", e)
	}
}

// The health command runs every interval while the container runs, never
// two at once, and not before the first interval has passed.
func TestHealth(t *testing.T) {
	t.Parallel()
	o := opts(t, `gate sleep 1`)
	dir := dirOf(o)
	o.Health = []string{"/bin/sh", "-c", `echo start >> "$0/health"; sleep 0.15; echo end >> "$0/health"`, dir}
	o.HealthInterval = 50 * time.Millisecond
	p := start(t, o)
	finish(t, o, p)
	b, _ := os.ReadFile(filepath.Join(dir, "health"))
	lines := strings.Fields(string(b))
	// about 1 s / 150 ms checks: each waits for the one before
	if len(lines) < 6 || len(lines) > 16 {
		t.Fatalf("health ran %d half-checks in a 1 s run: %q", len(lines), lines)
	}
	for i, l := range lines {
		if want := []string{"start", "end"}[i%2]; l != want && i < len(lines)-1 {
			t.Fatalf("checks overlapped: %q", lines)
		}
	}

	o = opts(t, `gate sleep 0.03`)
	dir = dirOf(o)
	o.Health = []string{"/bin/sh", "-c", `echo ran >> "$0/health"`, dir}
	o.HealthInterval = time.Hour
	finish(t, o, start(t, o))
	if _, err := os.Stat(filepath.Join(dir, "health")); !os.IsNotExist(err) {
		t.Errorf("the check ran before its first interval: %v", err)
	}

	o.HealthInterval = 0
	if _, err := Start(o); err == nil || !strings.Contains(err.Error(), "health interval") {
		t.Errorf("Start with a health command and no interval: %v", err)
	}
}
