package runcli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"berth/internal/container"
	"berth/internal/errdefs"
)

type execFlags struct {
	consoleSocket, cwd, user, processFile, pidFile string
	processLabel, apparmor                         string
	env, caps, additionalGids                      []string
	tty, detach, noNewPrivs, ignorePaused          bool
	preserveFDs                                    int
}

func execCmd(g *Globals) *cobra.Command {
	var x execFlags
	cmd := &cobra.Command{
		Use:   "exec [flags] ID [COMMAND [ARG...]]",
		Short: "Run a new process inside a running container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			rt := g.runtime()
			opts := container.ExecOptions{ConsoleSocket: x.consoleSocket, PidFile: x.pidFile, Detach: x.detach}
			if x.processFile != "" {
				p, err := x.process(nil, args[1:])
				if err != nil {
					return err
				}
				opts.Process = p
			} else {
				opts.Build = func(own specs.Process) (*specs.Process, error) {
					return x.process(func() (*specs.Process, error) { return &own, nil }, args[1:])
				}
			}
			code, err := rt.Exec(args[0], opts)
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVar(&x.consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	f.StringVar(&x.cwd, "cwd", "", "working directory inside the container")
	f.StringArrayVarP(&x.env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.BoolVarP(&x.tty, "tty", "t", false, "give the process a terminal")
	f.StringVarP(&x.user, "user", "u", "", "UID[:GID] to run as")
	f.StringArrayVarP(&x.additionalGids, "additional-gids", "g", nil, "additional group ids")
	f.StringVarP(&x.processFile, "process", "p", "", "path to a process.json (the spec's process object)")
	f.BoolVarP(&x.detach, "detach", "d", false, "return once the process runs")
	f.StringVar(&x.pidFile, "pid-file", "", "write the process's pid to this file")
	f.StringVar(&x.processLabel, "process-label", "", "SELinux label for the process")
	f.StringVar(&x.apparmor, "apparmor", "", "AppArmor profile for the process")
	f.BoolVar(&x.noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
	f.StringArrayVarP(&x.caps, "cap", "c", nil, "add a capability to the process")
	f.IntVar(&x.preserveFDs, "preserve-fds", 0, "accepted for runc compatibility; must be 0")
	f.BoolVar(&x.ignorePaused, "ignore-paused", false, "accepted for runc compatibility")
	return cmd
}

// process builds the process to exec: from --process, or from the
// container's own process, which container returns, with the flags
// applied, as runc does.
func (x *execFlags) process(container func() (*specs.Process, error), args []string) (*specs.Process, error) {
	if x.preserveFDs != 0 {
		return nil, errdefs.Unsupportedf("--preserve-fds is not supported")
	}
	if x.processFile != "" {
		b, err := os.ReadFile(x.processFile)
		if err != nil {
			return nil, fmt.Errorf("read --process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, errdefs.Invalidf("parse --process %s: %v", x.processFile, err)
		}
		return &p, nil
	}
	if len(args) == 0 {
		return nil, errdefs.Invalidf("exec needs a command or --process")
	}
	cp, err := container()
	if err != nil {
		return nil, err
	}
	p := *cp
	p.Args = args
	p.Terminal = x.tty
	p.ConsoleSize = nil
	p.Env = append(append([]string(nil), p.Env...), x.env...)
	if x.cwd != "" {
		p.Cwd = x.cwd
	}
	if x.user != "" {
		uid, gid, hasGid, err := parseUser(x.user)
		if err != nil {
			return nil, err
		}
		p.User.UID = uid
		if hasGid {
			p.User.GID = gid // without one, the process keeps its group, as with runc
		}
	}
	for _, g := range x.additionalGids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, errdefs.Invalidf("--additional-gids %q is not a number", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if x.noNewPrivs {
		p.NoNewPrivileges = true
	}
	if x.apparmor != "" {
		p.ApparmorProfile = x.apparmor
	}
	if x.processLabel != "" {
		p.SelinuxLabel = x.processLabel
	}
	if len(x.caps) > 0 {
		c := &specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			*c = *p.Capabilities
		}
		for _, name := range x.caps {
			c.Bounding = append(c.Bounding, name)
			c.Effective = append(c.Effective, name)
			c.Permitted = append(c.Permitted, name)
		}
		p.Capabilities = c
	}
	return &p, nil
}

func parseUser(s string) (uid, gid uint32, hasGid bool, err error) {
	us, gs, hasGid := strings.Cut(s, ":")
	u, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, false, errdefs.Invalidf("--user %q: want UID[:GID] with numbers", s)
	}
	if !hasGid {
		return uint32(u), 0, false, nil
	}
	g, err := strconv.ParseUint(gs, 10, 32)
	if err != nil {
		return 0, 0, false, errdefs.Invalidf("--user %q: want UID[:GID] with numbers", s)
	}
	return uint32(u), uint32(g), true, nil
}
