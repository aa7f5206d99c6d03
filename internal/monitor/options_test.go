package monitor

import (
	"errors"
	"os"
	"strings"
	"testing"

	"berth/internal/errdefs"
)

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		err  bool
	}{
		{"", RestartPolicy{Name: RestartNo}, false},
		{"no", RestartPolicy{Name: RestartNo}, false},
		{"always", RestartPolicy{Name: RestartAlways}, false},
		{"unless-stopped", RestartPolicy{Name: RestartUnlessStopped}, false},
		{"on-failure", RestartPolicy{Name: RestartOnFailure}, false},
		{"on-failure:5", RestartPolicy{Name: RestartOnFailure, MaximumRetryCount: 5}, false},
		{"on-failure:-1", RestartPolicy{}, true},
		{"on-failure:x", RestartPolicy{}, true},
		{"always:3", RestartPolicy{}, true},
		{"sometimes", RestartPolicy{}, true},
	} {
		got, err := ParseRestartPolicy(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRestartPolicy(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseRestartPolicy(%q) error %v is not ErrInvalid", tc.in, err)
		}
		if err == nil && tc.in != "" && got.String() != tc.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

func TestConfig(t *testing.T) {
	o := Options{
		ID:        "abc_1.2-3",
		LogPath:   "/var/log/c/log",
		ExitFile:  "/run/c/exit",
		Start:     []string{"/proc/self/exe", "__start", "a\nb\\c"},
		Cleanup:   []string{"/bin/true"},
		OpenStdin: true,
		Restart:   RestartPolicy{Name: RestartOnFailure, MaximumRetryCount: 4},
	}
	got, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	want := `berth-monitor 1
id abc_1.2-3
log /var/log/c/log
log-max-size 10485760
log-max-files 3
exit /run/c/exit
stdin pipe
restart on-failure 4
start /proc/self/exe
start __start
start a\nb\\c
cleanup /bin/true
end
`
	if string(got) != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}

	o.LogMaxSize, o.LogMaxFiles, o.Restart, o.OpenStdin = -1, 1, RestartPolicy{}, false
	o.Start = []string{"sh"}
	got, err = o.config()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"log-max-size 0\n", "log-max-files 1\n", "restart no\n", "stdin null\n", "start /"} {
		if !strings.Contains(string(got), line) {
			t.Errorf("config lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(string(got), "console") || strings.Contains(string(got), "attach") {
		t.Errorf("config without sockets names one:\n%s", got)
	}
	o.ConsoleSocket, o.AttachSocket = "/run/c/console.sock", "/run/c/attach.sock"
	got, err = o.config()
	if err != nil {
		t.Fatal(err)
	}
	if want := "restart no\nconsole /run/c/console.sock\nattach /run/c/attach.sock\nstart /"; !strings.Contains(string(got), want) {
		t.Errorf("config lacks the sockets:\n%s", got)
	}
}

func TestOptionsInvalid(t *testing.T) {
	good := Options{ID: "c1", LogPath: "/l", ExitFile: "/e", Start: []string{"/bin/true"}}
	if _, err := good.config(); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Options){
		"empty id":         func(o *Options) { o.ID = "" },
		"id with slash":    func(o *Options) { o.ID = "a/b" },
		"long id":          func(o *Options) { o.ID = strings.Repeat("a", 129) },
		"relative log":     func(o *Options) { o.LogPath = "log" },
		"relative exit":    func(o *Options) { o.ExitFile = "exit" },
		"NUL in path":      func(o *Options) { o.LogPath = "/a\x00b" },
		"no start":         func(o *Options) { o.Start = nil },
		"NUL in arg":       func(o *Options) { o.Start = []string{"/bin/true", "a\x00"} },
		"many args":        func(o *Options) { o.Start = make([]string, 257); o.Start[0] = "/bin/true" },
		"many files":       func(o *Options) { o.LogMaxFiles = 101 },
		"policy":           func(o *Options) { o.Restart.Name = "sometimes" },
		"count":            func(o *Options) { o.Restart = RestartPolicy{Name: RestartAlways, MaximumRetryCount: 2} },
		"negative count":   func(o *Options) { o.Restart = RestartPolicy{Name: RestartOnFailure, MaximumRetryCount: -1} },
		"relative console": func(o *Options) { o.ConsoleSocket = "console.sock" },
		"long socket name": func(o *Options) { o.AttachSocket = "/run/" + strings.Repeat("a", 65) },
	} {
		o := good
		change(&o)
		if _, err := o.config(); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: config() = %v, want ErrInvalid", name, err)
		}
	}
	o := good
	o.Start = []string{"no-such-command-anywhere"}
	if _, err := o.config(); err == nil {
		t.Error("a start command not in PATH was accepted")
	}
}

// TestBadConfig feeds the C parser configs that the Go side would never
// write: it must refuse each, say which line, and start nothing.
func TestBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	head := "berth-monitor 1\nid c1\nlog " + dir + "/log\nlog-max-size 100\nlog-max-files 3\nexit " + dir + "/exit\nstdin null\nrestart no\n"
	tail := "start /bin/sh\nstart -c\nstart touch " + dir + "/ran\nend\n"
	for _, tc := range []struct{ name, cfg, want string }{
		{"empty", "", "config does not end with a newline"},
		{"version", "berth-monitor 2\n" + head[16:] + tail, "config line 1 is not version 1"},
		{"truncated", head + "start /bin/true\n", "config is truncated"},
		{"no newline", head + tail[:len(tail)-1], "does not end with a newline"},
		{"after end", head + tail + "id c2\n", "config line 13 has lines after end"},
		{"unknown key", head + "color red\n" + tail, "config line 9 has an unknown key"},
		{"repeated key", head + "id c2\n" + tail, "config line 9 repeats a key"},
		{"missing key", strings.Replace(head, "stdin null\n", "", 1) + tail, "lacks a required key"},
		{"no value", head + "cleanup\n" + tail, "config line 9 has a key without a value"},
		{"bad escape", head + "start /bin/sh\nstart \\t\nend\n", "config line 10 has a bad escape"},
		{"NUL", head + "start /bin/\x00sh\nend\n", "holds a NUL byte"},
		{"relative command", head + "start sh\nend\n", "config line 9 names a command that is not an absolute path"},
		{"no start", head + "end\n", "has no start command"},
		{"bad id", strings.Replace(head, "id c1", "id c/1", 1) + tail, "config line 2 has a bad id"},
		{"relative log", strings.Replace(head, "log "+dir, "log x", 1) + tail, "config line 3 has a log path"},
		{"size sign", strings.Replace(head, "size 100", "size -1", 1) + tail, "config line 4 has a bad log-max-size"},
		{"size overflow", strings.Replace(head, "size 100", "size 99999999999999999999", 1) + tail, "bad log-max-size"},
		{"no files", strings.Replace(head, "files 3", "files 0", 1) + tail, "config line 5 has a bad log-max-files"},
		{"many files", strings.Replace(head, "files 3", "files 101", 1) + tail, "bad log-max-files"},
		{"stdin", strings.Replace(head, "stdin null", "stdin tty", 1) + tail, "config line 7 has a bad stdin"},
		{"policy", strings.Replace(head, "restart no", "restart on-failure", 1) + tail, "config line 8 has a bad restart policy"},
		{"retries", strings.Replace(head, "restart no", "restart on-failure 1x", 1) + tail, "bad restart policy"},
		{"too long", head + strings.Repeat("cleanup /x\n", 7000) + tail, "config too long"},
		{"too many args", head + strings.Repeat("start /x\n", 257) + "end\n", "has too many arguments"},
		{"relative console", head + "console sock\n" + tail, "config line 9 has a bad console socket path"},
		{"long socket name", head + "attach /" + strings.Repeat("a", 65) + "\n" + tail, "config line 9 has a bad attach socket path"},
		{"repeated attach", head + "attach /a\nattach /b\n" + tail, "config line 10 repeats a key"},
	} {
		_, err := launch("c1", os.Environ(), []byte(tc.cfg), false, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: launch error = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(dir + "/ran"); err == nil {
		t.Error("a start command ran from a bad config")
	}
	// and the good one runs
	if _, err := launch("c1", os.Environ(), []byte(head+tail), false, nil); err == nil || !strings.Contains(err.Error(), "reported no container pid") {
		t.Errorf("good config: %v, want the start command to run and report nothing", err)
	}
	if _, err := os.Stat(dir + "/ran"); err != nil {
		t.Errorf("the start command did not run: %v", err)
	}
}
