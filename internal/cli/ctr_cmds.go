package cli

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/logs"
	"berth/internal/metadata"
)

// ctrExecFlags are the flags exec and compose exec share.
type ctrExecFlags struct {
	detach, privileged bool
	env                []string
	user, workdir      string
}

// exec runs args in c, on berth's stdin when stdin says so, and returns
// the command's exit code as berth's.
func (f *ctrExecFlags) exec(e *engine.Engine, c *metadata.Container, args []string, tty, stdin bool) error {
	opts := engine.ExecOptions{Args: args, Env: f.env, WorkingDir: f.workdir, User: f.user,
		Tty: tty, Detach: f.detach, Privileged: f.privileged,
		Stdio: engine.Stdio{Out: os.Stdout, Err: os.Stderr}}
	if stdin {
		opts.Stdio.In = os.Stdin
	}
	code, err := e.Exec(c, opts)
	if err != nil {
		return ownError(err)
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

func newExecCommand(a *app) *cobra.Command {
	var (
		x                ctrExecFlags
		interactive, tty bool
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			return x.exec(e, c, args[1:], tty, interactive)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a terminal")
	f.BoolVarP(&x.detach, "detach", "d", false, "run the command in the background")
	f.BoolVar(&x.privileged, "privileged", false, "give the command every capability")
	f.StringArrayVarP(&x.env, "env", "e", nil, "set an environment variable")
	f.StringVarP(&x.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&x.user, "user", "u", "", "user name or uid, with an optional group")
	return cmd
}

func newLogsCommand(a *app) *cobra.Command {
	var (
		follow, timestamps  bool
		tail, sinceS, until string
	)
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			opts := logs.ReadOptions{Tail: -1}
			if tail != "all" {
				n, err := fmt.Sscan(tail, &opts.Tail)
				if n != 1 || err != nil || opts.Tail < 0 {
					return errdefs.Invalidf("--tail %q: want a number or \"all\"", tail)
				}
			}
			if opts.Since, err = parseTime(sinceS, "--since"); err != nil {
				return err
			}
			if opts.Until, err = parseTime(until, "--until"); err != nil {
				return err
			}
			print := func(en logs.Entry) {
				w := os.Stdout
				if en.Stream == "stderr" {
					w = os.Stderr
				}
				if timestamps {
					fmt.Fprint(w, en.Time.Format(time.RFC3339Nano)+" ")
				}
				fmt.Fprint(w, en.Log)
			}
			path := e.LogPath(c.ID)
			entries, err := logs.Read(path, e.LogFiles(c), opts)
			if err != nil {
				return err
			}
			for _, en := range entries {
				print(en)
			}
			if !follow {
				return nil
			}
			return logs.Follow(path, func() bool {
				cur, err := e.Lookup(c.ID)
				return err != nil || e.Status(cur) != engine.StatusRunning
			}, print)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	f.StringVar(&sinceS, "since", "", "show logs since a timestamp (2026-01-02T15:04:05Z) or a relative time (42m)")
	f.StringVar(&until, "until", "", "show logs before a timestamp or a relative time")
	return cmd
}

// parseTime reads --since/--until: an RFC 3339 time, a Unix timestamp,
// or a duration before now (10m, 1h30m).
func parseTime(s, flag string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%f", &secs); err == nil {
		return time.Unix(0, int64(secs*1e9)), nil
	}
	return time.Time{}, errdefs.Invalidf("%s %q: want a time (2026-01-02T15:04:05Z), a Unix timestamp or a duration (10m)", flag, s)
}

func newInspectCommand(a *app) *cobra.Command {
	var format, typ string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on containers, images and networks",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return inspectEach(a.out, format, args, func(arg string) (any, error) {
				return inspectOne(e, arg, typ)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output: json, or a Go template")
	cmd.Flags().StringVar(&typ, "type", "", "only look for a container, an image or a network")
	return cmd
}

func inspectOne(e *engine.Engine, arg, typ string) (any, error) {
	if typ == "" || typ == "container" {
		if c, err := e.Lookup(arg); err == nil {
			return e.Inspect(c)
		} else if typ == "container" {
			return nil, err
		}
	}
	if typ == "" || typ == "image" {
		img, err := e.Images.Lookup(arg)
		if err == nil {
			return e.Images.Inspect(img)
		} else if typ == "image" {
			return nil, err
		}
	}
	if typ == "" || typ == "network" {
		n, err := e.LookupNetwork(arg)
		if err == nil {
			return e.InspectNetwork(n)
		} else if typ == "network" {
			return nil, err
		}
		return nil, errdefs.NotFoundf("No such object: %s", arg)
	}
	return nil, errdefs.Invalidf("--type %q: want container, image or network", typ)
}

func newContainerInspectCommand(a *app) *cobra.Command {
	cmd := newInspectCommand(a)
	cmd.Short = "Display detailed information on one or more containers"
	cmd.Flags().Set("type", "container")
	cmd.Flags().MarkHidden("type")
	return cmd
}

func newWaitCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return eachResult(a.out, args, func(arg string) (any, error) {
				code, err := e.Wait(arg)
				return code, err
			})
		},
	}
}

func newRenameCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.Rename(args[0], args[1])
		},
	}
}

func newPauseCommand(a *app, pause bool) *cobra.Command {
	use, short := "pause", "Pause all processes within one or more containers"
	if !pause {
		use, short = "unpause", "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.eachContainer(args, func(e *engine.Engine, c *metadata.Container) error {
				return e.Pause(c, pause)
			})
		},
	}
}

func newTopCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			pids, err := e.Pids(c)
			if err != nil {
				return err
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-f"}
			}
			var strs []string
			for _, p := range pids {
				strs = append(strs, fmt.Sprint(p))
			}
			// The host's ps, limited to the container's processes, as
			// Docker's top does.
			out, err := exec.Command("ps", append(psArgs, "-p", strings.Join(strs, ","))...).CombinedOutput()
			if err != nil && len(out) == 0 {
				return fmt.Errorf("ps: %v", err)
			}
			a.out.Write(out)
			return nil
		},
	}
}
