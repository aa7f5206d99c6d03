package monitor

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"berth/internal/errdefs"
)

// Defaults and bounds of the log's rotation.
const (
	DefaultLogMaxSize  = 10 << 20 // bytes per file
	DefaultLogMaxFiles = 3        // log, log.1, log.2
	maxLogFiles        = 100
)

// Bounds the C side holds the config to; see monitor_linux.c.
const (
	maxConfig = 65536
	maxArgs   = 256
	maxID     = 128
	maxPath   = 4096 - 16
	// maxSocketName bounds the last element of a socket's path, which is
	// bound through /proc/self/fd/N/ when the whole path is too long for
	// a unix socket address.
	maxSocketName = 64
)

// Options says which container a monitor watches and how.
type Options struct {
	// ID names the container; it shows in ps as "berth-monitor ID".
	// Letters, digits, '_', '.' and '-', at most 128.
	ID string
	// LogPath is the json-file log. It is appended to if it exists.
	LogPath string
	// LogMaxSize is the most bytes per log file: 0 means
	// DefaultLogMaxSize, a negative size means the log never rotates.
	LogMaxSize int64
	// LogMaxFiles is how many files the log keeps, the current one
	// included: 0 means DefaultLogMaxFiles; at most 100.
	LogMaxFiles int
	// ExitFile is where each exit of the container is recorded (see Exit).
	ExitFile string
	// Start is the start command's argv. The monitor executes it with
	// stdout and stderr on the pipes it logs, and fd 3 on which the command
	// reports the container's pid (see the package doc). A Start[0]
	// without a slash is looked up in PATH now; "/proc/self/exe" names
	// berth's own binary.
	Start []string
	// Cleanup, if not empty, is run once when the monitor is done, with
	// stdio on /dev/null.
	Cleanup []string
	// OpenStdin gives the container a pipe as stdin that the monitor holds
	// open, so that it never reads EOF (docker run -i without a terminal);
	// otherwise stdin is /dev/null. With a terminal, it lets attached
	// clients type into the terminal.
	OpenStdin bool
	// ConsoleSocket, when set, says the container has a terminal: before
	// each start the monitor listens on a unix socket there, the start
	// command has the container's init send the pty master to it (runc's
	// --console-socket), and the monitor holds the master: it logs what
	// the terminal shows as stdout and gives clients' input to it.
	ConsoleSocket string
	// AttachSocket, when set, is where the monitor listens for attach
	// clients (see Attach), as a unix socket of mode 0600.
	AttachSocket string
	// Attach makes Start return a client already attached
	// (Process.Attached), which has all of the container's output from
	// its first byte on.
	Attach bool
	// Restart is the restart policy.
	Restart RestartPolicy
	// Health, if not empty, is a command the monitor runs every
	// HealthInterval while the container runs, one at a time, with stdio
	// on /dev/null. The command runs the container's health check and
	// records its result; the monitor only keeps time.
	Health         []string
	HealthInterval time.Duration
	// Env is the environment of the monitor and so of its commands; nil
	// means this process's. Variables starting with _BERTH_ are dropped.
	Env []string
	// Spawn, when set, is a socket that the first start command gets as
	// fd 4, with _BERTH_SPAWN=4 in its environment: the start command is
	// then the spawn agent of internal/container, through which the
	// caller, on the socket's other end, starts the container itself.
	// Restarts run the start command as usual. Start closes it, once the
	// monitor has it or on failing before that.
	Spawn *os.File
}

// Restart policy names, as Docker spells them.
const (
	RestartNo            = "no"
	RestartOnFailure     = "on-failure"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
)

// RestartPolicy is a restart policy as Docker's API has it.
type RestartPolicy struct {
	// Name is one of the Restart constants; "" means RestartNo.
	Name string
	// MaximumRetryCount bounds the restarts of on-failure; 0 means no
	// bound.
	MaximumRetryCount int
}

// ParseRestartPolicy parses --restart's value: no, always,
// unless-stopped, on-failure or on-failure:N.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", RestartNo, RestartAlways, RestartUnlessStopped:
		if hasCount {
			return RestartPolicy{}, errdefs.Invalidf("invalid restart policy %q: maximum retry count cannot be used with restart policy %q", s, name)
		}
		if name == "" {
			p.Name = RestartNo
		}
	case RestartOnFailure:
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return RestartPolicy{}, errdefs.Invalidf("invalid restart policy %q: maximum retry count must be a number of 0 or more", s)
			}
			p.MaximumRetryCount = n
		}
	default:
		return RestartPolicy{}, errdefs.Invalidf("invalid restart policy %q", s)
	}
	return p, nil
}

// String returns the policy as --restart takes it.
func (p RestartPolicy) String() string {
	if p.Name == "" {
		return RestartNo
	}
	if p.Name == RestartOnFailure && p.MaximumRetryCount > 0 {
		return p.Name + ":" + strconv.Itoa(p.MaximumRetryCount)
	}
	return p.Name
}

// config renders opts as the monitor's config: a first line
// "berth-monitor 1", then one "key value" per line, where a value escapes
// a backslash as `\\` and a newline as `\n`, and finally "end":
//
//	berth-monitor 1
//	id web1
//	log /var/lib/berth/containers/ID/ID-json.log
//	log-max-size 10485760      (0: never rotate)
//	log-max-files 3
//	exit /run/berth/containers/ID/exit
//	stdin null                 (or pipe)
//	restart on-failure 5       (no, always, unless-stopped, on-failure N)
//	console /var/lib/berth/containers/ID/console.sock   (optional)
//	attach /var/lib/berth/containers/ID/attach.sock     (optional)
//	start /proc/self/exe       (one line per argument, in order)
//	start __start
//	start ID
//	cleanup /proc/self/exe     (none or more)
//	health /proc/self/exe      (none or more, with health-interval)
//	health-interval 30000      (milliseconds)
//	end
//
// Every key but start, cleanup, console and attach appears exactly once;
// console and attach at most once. A first attach client (Attach) comes
// as a descriptor sent along with the config (SCM_RIGHTS).
func (o Options) config() ([]byte, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	start, err := resolveArgv(o.Start)
	if err != nil {
		return nil, err
	}
	cleanup, err := resolveArgv(o.Cleanup)
	if err != nil {
		return nil, err
	}
	health, err := resolveArgv(o.Health)
	if err != nil {
		return nil, err
	}
	size := o.LogMaxSize
	switch {
	case size == 0:
		size = DefaultLogMaxSize
	case size < 0:
		size = 0
	}
	files := o.LogMaxFiles
	if files == 0 {
		files = DefaultLogMaxFiles
	}
	stdin := "null"
	if o.OpenStdin {
		stdin = "pipe"
	}
	restart := o.Restart.Name
	switch restart {
	case "":
		restart = RestartNo
	case RestartOnFailure:
		restart += " " + strconv.Itoa(o.Restart.MaximumRetryCount)
	}

	var b bytes.Buffer
	esc := strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	line := func(k, v string) {
		b.WriteString(k)
		b.WriteByte(' ')
		esc.WriteString(&b, v)
		b.WriteByte('\n')
	}
	line("berth-monitor", "1")
	line("id", o.ID)
	line("log", o.LogPath)
	line("log-max-size", strconv.FormatInt(size, 10))
	line("log-max-files", strconv.Itoa(files))
	line("exit", o.ExitFile)
	line("stdin", stdin)
	line("restart", restart)
	if o.ConsoleSocket != "" {
		line("console", o.ConsoleSocket)
	}
	if o.AttachSocket != "" {
		line("attach", o.AttachSocket)
	}
	for _, a := range start {
		line("start", a)
	}
	for _, a := range cleanup {
		line("cleanup", a)
	}
	for _, a := range health {
		line("health", a)
	}
	if len(health) > 0 {
		line("health-interval", strconv.FormatInt(o.HealthInterval.Milliseconds(), 10))
	}
	if o.Spawn != nil {
		line("spawn", "1")
	}
	b.WriteString("end\n")
	if b.Len() > maxConfig {
		return nil, errdefs.Invalidf("monitor config of %d bytes exceeds %d", b.Len(), maxConfig)
	}
	return b.Bytes(), nil
}

func (o Options) validate() error {
	if !validID(o.ID) {
		return errdefs.Invalidf("monitor: invalid container id %q", o.ID)
	}
	for _, p := range []struct{ what, path string }{{"log", o.LogPath}, {"exit file", o.ExitFile}} {
		if !filepath.IsAbs(p.path) || len(p.path) >= maxPath || strings.IndexByte(p.path, 0) >= 0 {
			return errdefs.Invalidf("monitor: %s path %q is not absolute, or too long", p.what, p.path)
		}
	}
	for _, p := range []struct{ what, path string }{{"console socket", o.ConsoleSocket}, {"attach socket", o.AttachSocket}} {
		if p.path == "" {
			continue
		}
		if !filepath.IsAbs(p.path) || len(p.path) >= maxPath || strings.IndexByte(p.path, 0) >= 0 ||
			strings.HasSuffix(p.path, "/") || len(filepath.Base(p.path)) > maxSocketName {
			return errdefs.Invalidf("monitor: %s path %q is not absolute, or too long", p.what, p.path)
		}
	}
	if o.LogMaxFiles < 0 || o.LogMaxFiles > maxLogFiles {
		return errdefs.Invalidf("monitor: %d log files: must be 1 to %d", o.LogMaxFiles, maxLogFiles)
	}
	if len(o.Start) == 0 {
		return errdefs.Invalidf("monitor: no start command")
	}
	if len(o.Health) > 0 && (o.HealthInterval < time.Millisecond || o.HealthInterval.Milliseconds() > 1<<31-1) {
		return errdefs.Invalidf("monitor: health interval %s: must be 1ms to about 24 days", o.HealthInterval)
	}
	for _, argv := range [][]string{o.Start, o.Cleanup, o.Health} {
		if len(argv) > maxArgs {
			return errdefs.Invalidf("monitor: a command of %d arguments exceeds %d", len(argv), maxArgs)
		}
		for _, a := range argv {
			if strings.IndexByte(a, 0) >= 0 {
				return errdefs.Invalidf("monitor: argument %q holds a NUL byte", a)
			}
		}
	}
	switch o.Restart.Name {
	case "", RestartNo, RestartAlways, RestartUnlessStopped:
		if o.Restart.MaximumRetryCount != 0 {
			return errdefs.Invalidf("monitor: maximum retry count cannot be used with restart policy %q", o.Restart.Name)
		}
	case RestartOnFailure:
		if o.Restart.MaximumRetryCount < 0 || o.Restart.MaximumRetryCount > 1<<31-1 {
			return errdefs.Invalidf("monitor: invalid maximum retry count %d", o.Restart.MaximumRetryCount)
		}
	default:
		return errdefs.Invalidf("monitor: invalid restart policy %q", o.Restart.Name)
	}
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// resolveArgv makes argv[0] absolute: the monitor does no PATH lookup.
func resolveArgv(argv []string) ([]string, error) {
	if len(argv) == 0 || filepath.IsAbs(argv[0]) {
		return argv, nil
	}
	var p string
	var err error
	if strings.Contains(argv[0], "/") {
		p, err = filepath.Abs(argv[0])
	} else {
		p, err = exec.LookPath(argv[0])
		if err == nil {
			p, err = filepath.Abs(p)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("monitor: command %q: %w", argv[0], err)
	}
	if len(p) >= maxPath {
		return nil, errdefs.Invalidf("monitor: command path %q is too long", p)
	}
	return append([]string{p}, argv[1:]...), nil
}
