//go:build !lean

package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"berth/internal/compose"
	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/logs"
	"berth/internal/metadata"
)

// composeFlags are compose's global flags.
type composeFlags struct {
	files, envFiles, profiles []string
	name, projectDir          string
}

// newComposeCommand is `berth compose`: Docker Compose's commands on
// berth's engine (docs/COMPOSE.md).
func newComposeCommand(a *app) *cobra.Command {
	var g composeFlags
	cmd := &cobra.Command{Use: "compose", Short: "Define and run multi-container applications"}
	// Local flags, not persistent ones: compose's subcommands reuse -f
	// (logs --follow) and -p (run --publish), and the global flags come
	// before the subcommand, as in Docker Compose (the root command
	// traverses its children's flags).
	pf := cmd.Flags()
	pf.StringArrayVarP(&g.files, "file", "f", nil, "compose configuration files (default compose.yaml, or $COMPOSE_FILE)")
	pf.StringVarP(&g.name, "project-name", "p", "", "project name (default $COMPOSE_PROJECT_NAME, the file's name: or the directory's name)")
	pf.StringVar(&g.projectDir, "project-directory", "", "working directory of the project (default the first file's directory)")
	pf.StringArrayVar(&g.envFiles, "env-file", nil, "environment files for interpolation (default .env in the project directory)")
	pf.StringArrayVar(&g.profiles, "profile", nil, "profile to enable (default $COMPOSE_PROFILES)")
	for _, mk := range []func(*app, *composeFlags) *cobra.Command{
		newComposeUpCommand, newComposeDownCommand, newComposePsCommand, newComposeConfigCommand,
		newComposeLogsCommand, newComposeExecCommand, newComposeRunCommand, newComposeCreateCommand,
		newComposeStartCommand, newComposeStopCommand, newComposeRestartCommand, newComposeKillCommand,
		newComposeRmCommand, newComposeTopCommand, newComposeImagesCommand, newComposePortCommand,
		newComposeLsCommand, newComposeEventsCommand, newComposeWaitCommand, newComposePullCommand,
		newComposePushCommand, newComposeBuildCommand,
		func(a *app, g *composeFlags) *cobra.Command { return newComposePauseCommand(a, g, true) },
		func(a *app, g *composeFlags) *cobra.Command { return newComposePauseCommand(a, g, false) },
	} {
		cmd.AddCommand(mk(a, &g))
	}
	return cmd
}

// loadSelected reads the project and the services args name (all of
// them when args is empty), refusing a name it does not have.
func (g *composeFlags) loadSelected(a *app, args []string) (*compose.Project, []string, error) {
	p, err := g.load(a)
	if err != nil {
		return nil, nil, err
	}
	names, err := compose.Select(p.Model, args)
	return p, names, err
}

// load reads the project the global flags name.
func (g *composeFlags) load(a *app) (*compose.Project, error) {
	m, err := compose.Load(context.Background(), compose.LoadOptions{Files: g.files, Name: g.name,
		WorkingDir: g.projectDir, EnvFiles: g.envFiles, Profiles: g.profiles})
	if err != nil {
		return nil, err
	}
	e, err := a.engine()
	if err != nil {
		return nil, err
	}
	return &compose.Project{Model: m, E: e, Progress: a.err}, nil
}

// project is the project as load reads it or, when its files are gone
// and -p or COMPOSE_PROJECT_NAME gives its name, a project of that name
// alone: commands that only look at containers (down, ps, logs...)
// accept a project whose files are gone.
func (g *composeFlags) project(a *app) (*compose.Project, error) {
	p, err := g.load(a)
	if err == nil {
		return p, nil
	}
	name := g.name
	if name == "" {
		name = os.Getenv("COMPOSE_PROJECT_NAME")
	}
	if name == "" || !errdefs.IsNotFound(err) {
		return nil, err
	}
	e, eerr := a.engine()
	if eerr != nil {
		return nil, eerr
	}
	return &compose.Project{Model: &types.Project{Name: name, Services: types.Services{}}, E: e, Progress: a.err}, nil
}

// containers reads the project as project does, and the containers of
// the services args name (of all of them when args is empty), stopped
// ones too with all.
func (g *composeFlags) containers(a *app, all bool, args []string) (*compose.Project, []compose.Container, error) {
	p, err := g.project(a)
	if err != nil {
		return nil, nil, err
	}
	cs, err := p.Containers(all, args...)
	return p, cs, err
}

// warn prints a compose warning, as Docker Compose does, on stderr.
func (a *app) warn(s string) { fmt.Fprintln(a.err, "WARN", s) }

// parseScale reads --scale SERVICE=NUM flags.
func parseScale(flags []string) (map[string]int, error) {
	scale := map[string]int{}
	for _, s := range flags {
		svc, n, ok := strings.Cut(s, "=")
		count, err := strconv.Atoi(n)
		if !ok || err != nil {
			return nil, errdefs.Invalidf("--scale %q: want SERVICE=NUM", s)
		}
		scale[svc] = count
	}
	return scale, nil
}

func newComposeUpCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		detach, build, noBuild, force, noRecreate, noDeps, wait, removeOrphans bool
		abortOnExit, noStart, noColor, noLogPrefix, renewAnon, quietPull       bool
		scale                                                                  []string
		exitCodeFrom, pull                                                     string
		waitTimeout, timeout                                                   int
	)
	cmd := &cobra.Command{
		Use:   "up [OPTIONS] [SERVICE...]",
		Short: "Create and start containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			if build && noBuild {
				return errdefs.Invalidf("--build and --no-build are incompatible")
			}
			if exitCodeFrom != "" {
				abortOnExit = true
				if _, ok := p.Model.Services[exitCodeFrom]; !ok {
					return errdefs.NotFoundf("--exit-code-from: no such service: %s", exitCodeFrom)
				}
			}
			if detach && abortOnExit {
				return errdefs.Invalidf("--abort-on-container-exit and --exit-code-from need the output attached; they are incompatible with --detach")
			}
			o := compose.UpOptions{Services: args, NoDeps: noDeps, ForceRecreate: force, NoRecreate: noRecreate,
				RemoveOrphans: removeOrphans, NoStart: noStart, RenewAnonVolumes: renewAnon, Warn: a.warn}
			if o.Scale, err = parseScale(scale); err != nil {
				return err
			}
			o.EnsureImages = a.composeImages(cmd, p, pull, build, noBuild, quietPull)
			if err := p.Up(o); err != nil {
				return err
			}
			if wait {
				return p.Wait(args, time.Duration(waitTimeout)*time.Second)
			}
			if detach || noStart {
				return nil
			}
			return a.composeAttach(p, args, abortOnExit, exitCodeFrom, noColor, noLogPrefix, timeout)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&detach, "detach", "d", false, "run containers in the background")
	f.BoolVar(&build, "build", false, "build images before starting containers")
	f.BoolVar(&noBuild, "no-build", false, "don't build an image, even if it's missing")
	f.BoolVar(&force, "force-recreate", false, "recreate containers even if their configuration and image haven't changed")
	f.BoolVar(&noRecreate, "no-recreate", false, "if containers already exist, don't recreate them")
	f.BoolVarP(&renewAnon, "renew-anon-volumes", "V", false, "recreate anonymous volumes instead of retrieving data from the previous containers")
	f.BoolVar(&noDeps, "no-deps", false, "don't start linked services")
	f.BoolVar(&noStart, "no-start", false, "don't start the services after creating them")
	f.StringArrayVar(&scale, "scale", nil, "scale SERVICE to NUM instances (overrides scale and deploy.replicas)")
	f.BoolVar(&wait, "wait", false, "wait for services to be running|healthy (implies --detach)")
	f.IntVar(&waitTimeout, "wait-timeout", 0, "seconds to wait with --wait (0: no limit)")
	f.BoolVar(&removeOrphans, "remove-orphans", false, "remove containers for services not defined in the compose file")
	f.BoolVar(&abortOnExit, "abort-on-container-exit", false, "stop all containers if any container stops")
	f.StringVar(&exitCodeFrom, "exit-code-from", "", "return the exit code of this service's container (implies --abort-on-container-exit)")
	f.StringVar(&pull, "pull", "policy", "pull images before running: always, missing, never, policy (the services' pull_policy)")
	f.BoolVar(&quietPull, "quiet-pull", false, "pull without printing progress information")
	f.BoolVar(&noColor, "no-color", false, "produce monochrome output")
	f.BoolVar(&noLogPrefix, "no-log-prefix", false, "don't print a prefix in logs")
	f.IntVarP(&timeout, "timeout", "t", -1, "seconds to wait for containers to stop when attached and interrupted")
	cmd.PreRun = func(cmd *cobra.Command, args []string) {
		if wait {
			detach = true
		}
	}
	return cmd
}

// composeAttach follows the services' logs until their containers exit;
// Ctrl-C stops them, as Docker Compose does.
func (a *app) composeAttach(p *compose.Project, services []string, abort bool, exitFrom string, noColor, noPrefix bool, timeout int) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(sig)
	var t *int
	if timeout >= 0 {
		t = &timeout
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-sig:
			fmt.Fprintln(a.err, "Gracefully stopping... (press Ctrl+C again to force)")
			p.Stop(nil, t)
		case <-stopped:
		}
	}()
	lp := a.newLogPrinter(noColor, noPrefix, false)
	_, err := lp.follow(p, services, logs.ReadOptions{Tail: -1}, abort)
	close(stopped)
	if err != nil {
		return err
	}
	if abort {
		fmt.Fprintln(a.err, "Aborting on container exit...")
		p.Stop(nil, t)
	}
	if exitFrom != "" {
		cs, err := p.Containers(false, exitFrom)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if st, err := composeInspect(p, c); err == nil && st.State.ExitCode != 0 {
				return &ExitError{Code: st.State.ExitCode}
			}
		}
	}
	return nil
}

func composeInspect(p *compose.Project, c compose.Container) (*engine.ContainerJSON, error) {
	rec, err := p.E.Lookup(c.ID)
	if err != nil {
		return nil, err
	}
	return p.E.Inspect(rec)
}

func newComposeDownCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		volumes, removeOrphans bool
		rmi                    string
		timeout                int
	)
	cmd := &cobra.Command{
		Use:   "down [OPTIONS] [SERVICE...]",
		Short: "Stop and remove containers and networks",
		RunE: func(cmd *cobra.Command, args []string) error {
			if rmi != "" && rmi != "local" && rmi != "all" {
				return errdefs.Invalidf("--rmi %q: want local or all", rmi)
			}
			p, err := g.project(a)
			if err != nil {
				return err
			}
			o := compose.DownOptions{RemoveOrphans: removeOrphans, Volumes: volumes, Timeout: givenInt(cmd, "timeout", &timeout)}
			if err := p.Down(o); err != nil {
				return err
			}
			if rmi != "" {
				return a.composeRemoveImages(p, rmi)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&volumes, "volumes", "v", false, "remove named volumes declared in the volumes section and anonymous volumes")
	f.BoolVar(&removeOrphans, "remove-orphans", false, "remove containers for services not defined in the compose file")
	f.StringVar(&rmi, "rmi", "", "remove images used by services: local (only those without a custom tag) or all")
	f.IntVarP(&timeout, "timeout", "t", 10, "seconds to wait for containers to stop")
	return cmd
}

// composeRemoveImages removes the services' images after down: all of
// them, or with local only those built for the project without an image
// name of their own.
func (a *app) composeRemoveImages(p *compose.Project, which string) error {
	st, err := a.images()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, name := range p.Model.ServiceNames() {
		s := p.Model.Services[name]
		if which == "local" && s.Image != "" {
			continue
		}
		img := compose.ImageName(p.Model, s)
		if seen[img] {
			continue
		}
		seen[img] = true
		if _, err := st.Lookup(img); err != nil {
			continue
		}
		fmt.Fprintf(a.err, " Image %s  Removing\n", img)
		rmi := newRmiCommand(a)
		if err := rmi.RunE(rmi, []string{img}); err != nil {
			return err
		}
	}
	return nil
}

// composeRow is one line of compose ps.
type composeRow struct {
	ID, Name, Image, Command, Service, CreatedAt, RunningFor, Status, State, Health, Ports, Project, Labels string
	ExitCode                                                                                                int
	Publishers                                                                                              []any
}

var composePsHeaders = map[string]string{"ID": "CONTAINER ID", "Name": "NAME", "Image": "IMAGE", "Command": "COMMAND",
	"Service": "SERVICE", "CreatedAt": "CREATED", "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE",
	"Ports": "PORTS", "Health": "HEALTH", "Project": "PROJECT", "ExitCode": "EXIT CODE"}

func newComposePsCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		all, quiet, services bool
		format               string
		status               []string
	)
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS] [SERVICE...]",
		Short: "List containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			_, cs, err := g.containers(a, all, args)
			if err != nil {
				return err
			}
			var rows []any
			seen := map[string]bool{}
			for _, c := range cs {
				if !all && len(status) == 0 && c.Status != engine.StatusRunning && c.Status != engine.StatusPaused && c.Status != engine.StatusRestarting {
					continue
				}
				if len(status) > 0 && !contains(status, c.Status) {
					continue
				}
				switch {
				case services:
					if !seen[c.Service] {
						seen[c.Service] = true
						fmt.Fprintln(a.out, c.Service)
					}
				case quiet:
					fmt.Fprintln(a.out, c.ID)
				default:
					rows = append(rows, composeRowOf(c))
				}
			}
			if quiet || services {
				return nil
			}
			l := &lister{w: a.out, format: format, headers: composePsHeaders}
			return l.write("table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}", rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all stopped containers (including those created by the run command)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display IDs")
	f.BoolVar(&services, "services", false, "display services")
	f.StringVar(&format, "format", "", "format output: table, json, or a Go template")
	f.StringArrayVar(&status, "status", nil, "filter services by status: created, restarting, running, paused, exited")
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func composeRowOf(c compose.Container) composeRow {
	r := composeRow{ID: c.ID, Name: c.Name, Image: c.ImageName, Command: strconv.Quote(c.Command), Service: c.Service,
		CreatedAt: c.Created.Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: since(c.Created),
		Status: c.StatusText(), State: c.Status, Project: c.Config.Labels[compose.LabelProject],
		ExitCode: c.State.ExitCode, Publishers: []any{}, Ports: c.Ports}
	if c.Health != nil {
		r.Health = c.Health.Status
	}
	var labels []string
	for k, v := range c.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	r.Labels = strings.Join(labels, ",")
	return r
}

func newComposeConfigCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		format                                           string
		services, volumes, profiles, images, quiet, hash bool
	)
	cmd := &cobra.Command{
		Use:     "config [OPTIONS] [SERVICE...]",
		Aliases: []string{"convert"},
		Short:   "Parse, resolve and render compose file in canonical format",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.load(a)
			if err != nil {
				return err
			}
			m := p.Model
			if len(args) > 0 {
				if _, err := compose.Select(m, args); err != nil {
					return err
				}
				if m, err = m.WithSelectedServices(args); err != nil {
					return err
				}
			}
			switch {
			case quiet:
				return nil
			case services:
				for _, n := range m.ServiceNames() {
					fmt.Fprintln(a.out, n)
				}
				return nil
			case volumes:
				for _, n := range m.VolumeNames() {
					fmt.Fprintln(a.out, n)
				}
				return nil
			case profiles:
				seen := map[string]bool{}
				for _, s := range m.AllServices() {
					for _, pr := range s.Profiles {
						seen[pr] = true
					}
				}
				for _, pr := range sortedSet(seen) {
					fmt.Fprintln(a.out, pr)
				}
				return nil
			case images:
				for _, n := range m.ServiceNames() {
					fmt.Fprintln(a.out, compose.ImageName(m, m.Services[n]))
				}
				return nil
			case hash:
				for _, n := range m.ServiceNames() {
					h, err := compose.ServiceHash(m.Services[n])
					if err != nil {
						return err
					}
					fmt.Fprintf(a.out, "%s %s\n", n, h)
				}
				return nil
			}
			var b []byte
			switch format {
			case "yaml", "":
				b, err = m.MarshalYAML()
			case "json":
				b, err = m.MarshalJSON()
			default:
				return errdefs.Invalidf("--format %q: want yaml or json", format)
			}
			if err != nil {
				return err
			}
			_, err = a.out.Write(b)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "yaml", "format the output: yaml or json")
	f.BoolVar(&services, "services", false, "print the service names, one per line")
	f.BoolVar(&volumes, "volumes", false, "print the volume names, one per line")
	f.BoolVar(&profiles, "profiles", false, "print the profile names, one per line")
	f.BoolVar(&images, "images", false, "print the image names, one per line")
	f.BoolVar(&hash, "hash", false, "print each service's config hash")
	f.BoolVarP(&quiet, "quiet", "q", false, "only validate the configuration, don't print anything")
	return cmd
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// forEach runs fn on the named services' containers, printing progress.
func forEach(a *app, g *composeFlags, args []string, oneoff bool, verb, done string, fn func(e *engine.Engine, rec *metadata.Container) error) error {
	p, err := g.project(a)
	if err != nil {
		return err
	}
	return p.Each(args, oneoff, func(c compose.Container, rec *metadata.Container) error {
		fmt.Fprintf(a.err, " Container %s  %s\n", c.Name, verb)
		if err := fn(p.E, rec); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		fmt.Fprintf(a.err, " Container %s  %s\n", c.Name, done)
		return nil
	})
}
