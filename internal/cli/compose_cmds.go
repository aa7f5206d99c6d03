package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/internal/compose"
	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/logs"
	"berth/internal/metadata"
)

func newComposeLogsCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		follow, timestamps, noColor, noPrefix bool
		tail, sinceS, until                   string
		index                                 int
	)
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] [SERVICE...]",
		Short: "View output from containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.project(a)
			if err != nil {
				return err
			}
			if len(p.Model.Services) > 0 {
				if _, err := compose.Select(p.Model, args); err != nil {
					return err
				}
			}
			opts := logs.ReadOptions{Tail: -1}
			if tail != "all" {
				if n, err := strconv.Atoi(tail); err != nil || n < 0 {
					return errdefs.Invalidf("--tail %q: want a number or \"all\"", tail)
				} else {
					opts.Tail = n
				}
			}
			if opts.Since, err = parseTime(sinceS, "--since"); err != nil {
				return err
			}
			if opts.Until, err = parseTime(until, "--until"); err != nil {
				return err
			}
			lp := a.newLogPrinter(noColor, noPrefix, timestamps)
			if follow {
				_, err := lp.follow(p, args, opts, false)
				return err
			}
			cs, err := p.Containers(true, args...)
			if err != nil {
				return err
			}
			if index > 0 {
				cs = withIndex(cs, index)
			}
			return lp.dump(p, cs, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs for each container")
	f.StringVar(&sinceS, "since", "", "show logs since a timestamp or a relative time (42m)")
	f.StringVar(&until, "until", "", "show logs before a timestamp or a relative time")
	f.BoolVar(&noColor, "no-color", false, "produce monochrome output")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "don't print a prefix in logs")
	f.IntVar(&index, "index", 0, "index of the container if the service has several replicas")
	return cmd
}

func withIndex(cs []compose.Container, index int) []compose.Container {
	var out []compose.Container
	for _, c := range cs {
		if c.Number == index && !c.Oneoff {
			out = append(out, c)
		}
	}
	return out
}

// serviceContainer is the container number index of a service, running.
func serviceContainer(p *compose.Project, service string, index int) (*metadata.Container, error) {
	if _, err := compose.Select(p.Model, []string{service}); err != nil {
		return nil, err
	}
	cs, err := p.Containers(false, service)
	if err != nil {
		return nil, err
	}
	for _, c := range withIndex(cs, index) {
		return p.E.Lookup(c.ID)
	}
	return nil, errdefs.NotFoundf("service %q has no container %d: run up first", service, index)
}

func newComposeExecCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		detach, noTTY, privileged bool
		env                       []string
		user, workdir             string
		index                     int
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			c, err := serviceContainer(p, args[0], index)
			if err != nil {
				return err
			}
			tty := !noTTY && term.IsTerminal(int(os.Stdin.Fd())) && !detach
			opts := engine.ExecOptions{Args: args[1:], Env: env, WorkingDir: workdir, User: user,
				Tty: tty, Detach: detach, Privileged: privileged,
				Stdio: engine.Stdio{Out: os.Stdout, Err: os.Stderr}}
			if !detach {
				opts.Stdio.In = os.Stdin
			}
			code, err := p.E.Exec(c, opts)
			if err != nil {
				return ownError(err)
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&detach, "detach", "d", false, "run the command in the background")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "don't allocate a terminal (default: one when stdin is a terminal)")
	f.BoolVar(&privileged, "privileged", false, "give the command every capability")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable")
	f.StringVarP(&user, "user", "u", "", "run the command as this user")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory of the command")
	f.IntVar(&index, "index", 1, "index of the container if the service has several replicas")
	return cmd
}

func newComposeRunCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		detach, rm, noDeps, servicePorts, noTTY, build bool
		interactive                                    bool
		env, labels, volumes, publish                  []string
		name, user, workdir, entrypoint, pull          string
	)
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
		Short: "Run a one-off command on a service",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			if err := p.Enable(args[:1]); err != nil {
				return err
			}
			if _, err := compose.Select(p.Model, args[:1]); err != nil {
				return err
			}
			s := p.Model.Services[args[0]]
			if servicePorts || len(publish) > 0 {
				return errdefs.Unsupportedf("--service-ports and --publish need networking, which berth does not have yet")
			}
			if len(volumes) > 0 {
				return errdefs.Unsupportedf("--volume: not supported by compose run yet; declare the volume in the service")
			}
			ensure := a.composeImage(cmd, p, pull, build, false)
			if !noDeps && len(s.DependsOn) > 0 {
				var deps []string
				for d := range s.DependsOn {
					deps = append(deps, d)
				}
				sort.Strings(deps)
				if err := p.Up(compose.UpOptions{Services: deps, EnsureImage: ensure}); err != nil {
					return err
				}
				for _, d := range deps {
					if err := p.Wait([]string{d}, 0); err != nil && s.DependsOn[d].Condition != "service_started" {
						return err
					}
				}
			}
			if err := ensure(s); err != nil {
				return err
			}
			if err := p.Prepare(args[:1]); err != nil {
				return err
			}
			if len(args) > 1 {
				s.Command = args[1:]
			}
			if cmd.Flags().Changed("entrypoint") {
				s.Entrypoint = strings.Fields(entrypoint)
			}
			if cmd.Flags().Changed("user") {
				s.User = user
			}
			if cmd.Flags().Changed("workdir") {
				s.WorkingDir = workdir
			}
			tty := !noTTY && term.IsTerminal(int(os.Stdin.Fd())) && !detach
			s.Tty, s.StdinOpen = tty, interactive
			s.Restart = ""
			if s.Deploy != nil {
				d := *s.Deploy
				d.RestartPolicy = nil
				s.Deploy = &d
			}
			o, err := compose.CreateOptions(p.Model, s, 1, true)
			if err != nil {
				return err
			}
			suffix := make([]byte, 6)
			rand.Read(suffix)
			o.Name = fmt.Sprintf("%s-%s-run-%s", p.Model.Name, s.Name, hex.EncodeToString(suffix))
			if name != "" {
				o.Name = name
			}
			o.Env = append(o.Env, env...)
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				o.Labels[k] = v
			}
			o.Config.AutoRemove = rm
			c, err := p.E.Create(o)
			if err != nil {
				return ownError(err)
			}
			if detach {
				if err := p.E.StartDetached(c); err != nil {
					return ownError(err)
				}
				fmt.Fprintln(a.out, o.Name)
				return nil
			}
			if tty || interactive {
				return a.startAttached(p.E, c, interactive, engine.AttachOptions{SigProxy: true})
			}
			return a.runAttached(p.E, c, false)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&detach, "detach", "d", false, "run the container in the background and print its name")
	f.BoolVar(&rm, "rm", false, "remove the container when it exits")
	f.BoolVar(&noDeps, "no-deps", false, "don't start linked services")
	f.BoolVarP(&servicePorts, "service-ports", "P", false, "run with the service's ports published")
	f.StringArrayVarP(&publish, "publish", "p", nil, "publish a container's port to the host")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "don't allocate a terminal (default: one when stdin is a terminal)")
	f.BoolVarP(&interactive, "interactive", "i", true, "keep STDIN open")
	f.BoolVar(&build, "build", false, "build the image before starting the container")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable")
	f.StringArrayVarP(&labels, "label", "l", nil, "add or override a label")
	f.StringArrayVarP(&volumes, "volume", "v", nil, "bind mount a volume")
	f.StringVar(&name, "name", "", "name of the container")
	f.StringVarP(&user, "user", "u", "", "run as this user")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVar(&entrypoint, "entrypoint", "", "override the image's entrypoint")
	f.StringVar(&pull, "pull", "policy", "pull the image before running: always, missing, never, policy")
	return cmd
}

func newComposeCreateCommand(a *app, g *composeFlags) *cobra.Command {
	var build, noBuild, force, noRecreate, removeOrphans bool
	var pull string
	var scale []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [SERVICE...]",
		Short: "Create containers for a service",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			o := compose.UpOptions{Services: args, ForceRecreate: force, NoRecreate: noRecreate, NoStart: true,
				RemoveOrphans: removeOrphans, Scale: map[string]int{},
				Warn: func(s string) { fmt.Fprintln(a.err, "WARN", s) }}
			for _, s := range scale {
				svc, n, ok := strings.Cut(s, "=")
				count, err := strconv.Atoi(n)
				if !ok || err != nil {
					return errdefs.Invalidf("--scale %q: want SERVICE=NUM", s)
				}
				o.Scale[svc] = count
			}
			o.EnsureImage = a.composeImage(cmd, p, pull, build, noBuild)
			return p.Up(o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&build, "build", false, "build images before creating containers")
	f.BoolVar(&noBuild, "no-build", false, "don't build an image, even if it's missing")
	f.BoolVar(&force, "force-recreate", false, "recreate containers even if their configuration hasn't changed")
	f.BoolVar(&noRecreate, "no-recreate", false, "if containers already exist, don't recreate them")
	f.BoolVar(&removeOrphans, "remove-orphans", false, "remove containers for services not defined in the compose file")
	f.StringArrayVar(&scale, "scale", nil, "scale SERVICE to NUM instances")
	f.StringVar(&pull, "pull", "policy", "pull images: always, missing, never, policy")
	return cmd
}

func newComposeStartCommand(a *app, g *composeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "start [SERVICE...]",
		Short: "Start services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			return p.Start(args)
		},
	}
}

func newComposeStopCommand(a *app, g *composeFlags) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] [SERVICE...]",
		Short: "Stop services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.project(a)
			if err != nil {
				return err
			}
			var t *int
			if cmd.Flags().Changed("timeout") {
				t = &timeout
			}
			return p.Stop(args, t)
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 10, "seconds to wait for containers to stop")
	return cmd
}

func newComposeRestartCommand(a *app, g *composeFlags) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] [SERVICE...]",
		Short: "Restart service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			var t *int
			if cmd.Flags().Changed("timeout") {
				t = &timeout
			}
			return p.Restart(args, t)
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 10, "seconds to wait for containers to stop")
	return cmd
}

func newComposeKillCommand(a *app, g *composeFlags) *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] [SERVICE...]",
		Short: "Force stop service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := ParseSignal(sig)
			if err != nil {
				return err
			}
			return forEach(a, g, args, false, "Killing", "Killed", func(e *engine.Engine, rec *metadata.Container) error {
				if st := e.Status(rec); st != engine.StatusRunning && st != engine.StatusPaused {
					return nil
				}
				return e.Kill(rec, s)
			})
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "SIGKILL", "signal to send to the container")
	return cmd
}

func newComposeRmCommand(a *app, g *composeFlags) *cobra.Command {
	var force, stop, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] [SERVICE...]",
		Short: "Removes stopped service containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.project(a)
			if err != nil {
				return err
			}
			if stop {
				if err := p.Stop(args, nil); err != nil {
					return err
				}
			}
			if volumes {
				return errdefs.Unsupportedf("-v: berth has no anonymous volumes yet")
			}
			return p.Each(args, false, func(c compose.Container, rec *metadata.Container) error {
				if st := p.E.Status(rec); st == engine.StatusRunning || st == engine.StatusPaused {
					return nil // rm leaves running containers alone, as Docker Compose does
				}
				fmt.Fprintf(a.err, " Container %s  Removing\n", c.Name)
				if err := p.E.Remove(rec, engine.RemoveOptions{}); err != nil {
					return err
				}
				fmt.Fprintf(a.err, " Container %s  Removed\n", c.Name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "don't ask to confirm removal")
	cmd.Flags().BoolVarP(&stop, "stop", "s", false, "stop the containers, if required, before removing")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove any anonymous volumes attached to containers")
	return cmd
}

func newComposePauseCommand(a *app, g *composeFlags, pause bool) *cobra.Command {
	use, short, verb, done := "pause [SERVICE...]", "Pause services", "Pausing", "Paused"
	if !pause {
		use, short, verb, done = "unpause [SERVICE...]", "Unpause services", "Unpausing", "Unpaused"
	}
	return &cobra.Command{
		Use: use, Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(a, g, args, false, verb, done, func(e *engine.Engine, rec *metadata.Container) error {
				return e.Pause(rec, pause)
			})
		},
	}
}

func newComposeTopCommand(a *app, g *composeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "top [SERVICE...]",
		Short: "Display the running processes",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.project(a)
			if err != nil {
				return err
			}
			cs, err := p.Containers(false, args...)
			if err != nil {
				return err
			}
			for _, c := range cs {
				rec, err := p.E.Lookup(c.ID)
				if err != nil || p.E.Status(rec) != engine.StatusRunning {
					continue
				}
				pids, err := p.E.Pids(rec)
				if err != nil {
					return err
				}
				var strs []string
				for _, pid := range pids {
					strs = append(strs, strconv.Itoa(pid))
				}
				out, err := exec.Command("ps", "-o", "uid,pid,ppid,c,stime,tty,time,cmd", "-p", strings.Join(strs, ",")).CombinedOutput()
				if err != nil && len(out) == 0 {
					return fmt.Errorf("ps: %v", err)
				}
				fmt.Fprintf(a.out, "%s\n%s\n", c.Name, out)
			}
			return nil
		},
	}
}

func newComposeImagesCommand(a *app, g *composeFlags) *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [SERVICE...]",
		Short: "List images used by the created containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.project(a)
			if err != nil {
				return err
			}
			cs, err := p.Containers(true, args...)
			if err != nil {
				return err
			}
			type row struct{ ContainerName, Repository, Tag, ID string }
			var rows []any
			for _, c := range cs {
				repo, tag, _ := strings.Cut(c.ImageName, ":")
				if tag == "" {
					tag = "latest"
				}
				r := row{ContainerName: c.Name, Repository: repo, Tag: tag, ID: c.Image.Encoded()[:12]}
				if quiet {
					fmt.Fprintln(a.out, c.Image.Encoded())
					continue
				}
				rows = append(rows, r)
			}
			if quiet {
				return nil
			}
			l := &lister{w: a.out, format: format, headers: map[string]string{"ContainerName": "CONTAINER",
				"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID"}}
			return l.write("table {{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}", rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display IDs")
	cmd.Flags().StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}

func newComposePortCommand(a *app, g *composeFlags) *cobra.Command {
	var index int
	var protocol string
	cmd := &cobra.Command{
		Use:   "port [OPTIONS] SERVICE PRIVATE_PORT",
		Short: "Print the public port for a port binding",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			if _, err := serviceContainer(p, args[0], index); err != nil {
				return err
			}
			return errdefs.NotFoundf("no port %s/%s published for service %q: berth cannot publish ports yet", args[1], protocol, args[0])
		},
	}
	cmd.Flags().IntVar(&index, "index", 1, "index of the container if the service has several replicas")
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp or udp")
	return cmd
}

func newComposeLsCommand(a *app, g *composeFlags) *cobra.Command {
	var all, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "ls [OPTIONS]",
		Short: "List running compose projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			list, err := e.List()
			if err != nil {
				return err
			}
			type project struct {
				Name, Status, ConfigFiles string
				counts                    map[string]int
			}
			byName := map[string]*project{}
			for _, s := range list {
				name := s.Config.Labels[compose.LabelProject]
				if name == "" {
					continue
				}
				pr := byName[name]
				if pr == nil {
					pr = &project{Name: name, ConfigFiles: s.Config.Labels[compose.LabelFiles], counts: map[string]int{}}
					byName[name] = pr
				}
				pr.counts[s.Status]++
			}
			var rows []any
			for _, name := range sortedKeysOf(byName) {
				pr := byName[name]
				var parts []string
				for _, st := range sortedKeysOf(pr.counts) {
					parts = append(parts, fmt.Sprintf("%s(%d)", st, pr.counts[st]))
				}
				pr.Status = strings.Join(parts, ", ")
				if !all && pr.counts[engine.StatusRunning] == 0 {
					continue
				}
				if quiet {
					fmt.Fprintln(a.out, name)
					continue
				}
				rows = append(rows, *pr)
			}
			if quiet {
				return nil
			}
			l := &lister{w: a.out, format: format, headers: map[string]string{"Name": "NAME", "Status": "STATUS", "ConfigFiles": "CONFIG FILES"}}
			return l.write("table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}", rows)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show all stopped compose projects")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display project names")
	cmd.Flags().StringVar(&format, "format", "", "format output: table, json, or a Go template")
	return cmd
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newComposeEventsCommand(a *app, g *composeFlags) *cobra.Command {
	var jsonOut bool
	var sinceS, until string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS] [SERVICE...]",
		Short: "Receive real time events from containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.project(a)
			if err != nil {
				return err
			}
			since, err := parseTime(sinceS, "--since")
			if err != nil {
				return err
			}
			if since.IsZero() {
				since = time.Now()
			}
			end, err := parseTime(until, "--until")
			if err != nil {
				return err
			}
			want := map[string]bool{}
			for _, s := range args {
				want[s] = true
			}
			return p.E.Events(since, true, func() bool { return !end.IsZero() && time.Now().After(end) }, func(ev engine.Event) {
				at := ev.Actor.Attributes
				if at[compose.LabelProject] != p.Model.Name || (len(want) > 0 && !want[at[compose.LabelService]]) {
					return
				}
				if !end.IsZero() && ev.TimeNano > end.UnixNano() {
					return
				}
				t := time.Unix(0, ev.TimeNano)
				if jsonOut {
					b, _ := json.Marshal(map[string]any{"time": t.Format(time.RFC3339Nano), "type": ev.Type,
						"action": ev.Action, "id": ev.Actor.ID, "service": at[compose.LabelService], "attributes": at})
					fmt.Fprintln(a.out, string(b))
					return
				}
				fmt.Fprintf(a.out, "%s %s %s %s (image=%s, name=%s)\n", t.Format("2006-01-02 15:04:05.000000"),
					ev.Type, ev.Action, ev.Actor.ID, at["image"], at["name"])
			})
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "output events as a stream of JSON objects")
	cmd.Flags().StringVar(&sinceS, "since", "", "show events since a timestamp or a relative time")
	cmd.Flags().StringVar(&until, "until", "", "stream events until this time")
	return cmd
}

func newComposeWaitCommand(a *app, g *composeFlags) *cobra.Command {
	var downProject bool
	cmd := &cobra.Command{
		Use:   "wait SERVICE [SERVICE...] [OPTIONS]",
		Short: "Block until containers of all (or specified) services stop",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			if _, err := compose.Select(p.Model, args); err != nil {
				return err
			}
			cs, err := p.Containers(false, args...)
			if err != nil {
				return err
			}
			code := 0
			var errs []error
			for _, c := range cs {
				n, err := p.E.Wait(c.ID)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(a.out, n)
				if code == 0 {
					code = n
				}
			}
			if downProject {
				errs = append(errs, p.Down(compose.DownOptions{}))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&downProject, "down-project", false, "drop the project when the first container stops")
	return cmd
}

func newComposePullCommand(a *app, g *composeFlags) *cobra.Command {
	var ignoreFailures, quiet bool
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] [SERVICE...]",
		Short: "Pull service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			names, err := compose.Select(p.Model, args)
			if err != nil {
				return err
			}
			var errs []error
			for _, n := range names {
				s := p.Model.Services[n]
				if s.Image == "" {
					continue // built, not pulled
				}
				if !quiet {
					fmt.Fprintf(a.err, " %s Pulling\n", n)
				}
				if err := a.ensureImage(cmd, "always", s.Platform, s.Image); err != nil {
					if ignoreFailures {
						fmt.Fprintf(a.err, " %s Error: %v\n", n, err)
						continue
					}
					errs = append(errs, fmt.Errorf("service %q: %w", n, err))
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&ignoreFailures, "ignore-pull-failures", false, "pull what it can and ignore images with pull failures")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "pull without printing progress information")
	return cmd
}

func newComposePushCommand(a *app, g *composeFlags) *cobra.Command {
	var ignoreFailures bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] [SERVICE...]",
		Short: "Push service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			names, err := compose.Select(p.Model, args)
			if err != nil {
				return err
			}
			var errs []error
			for _, n := range names {
				s := p.Model.Services[n]
				if s.Image == "" {
					continue // Docker Compose pushes only images with a name of their own
				}
				push := newPushCommand(a)
				if err := push.RunE(push, []string{s.Image}); err != nil && !ignoreFailures {
					errs = append(errs, fmt.Errorf("service %q: %w", n, err))
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&ignoreFailures, "ignore-push-failures", false, "push what it can and ignore images with push failures")
	return cmd
}

func newComposeBuildCommand(a *app, g *composeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "build [OPTIONS] [SERVICE...]",
		Short: "Build or rebuild services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			names, err := compose.Select(p.Model, args)
			if err != nil {
				return err
			}
			for _, n := range names {
				if s := p.Model.Services[n]; s.Build != nil {
					if err := a.composeBuild(cmd, p, s); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}
