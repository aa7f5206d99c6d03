//go:build !lean

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"berth/internal/compose"
	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/portmap"
)

func newComposeTopCommand(a *app, g *composeFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "top [SERVICE...]",
		Short: "Display the running processes",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, cs, err := g.containers(a, false, args)
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
			_, cs, err := g.containers(a, true, args)
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
			p, c, err := g.serviceContainer(a, args[0], index)
			if err != nil {
				return err
			}
			want := args[1] + "/" + strings.ToLower(protocol)
			if ps, err := portmap.ParseExpose(want); err != nil || len(ps) != 1 {
				return errdefs.Invalidf("invalid port %q: want PRIVATE_PORT", args[1])
			}
			bindings, err := p.E.PortsOf(c)
			if err != nil {
				return err
			}
			for _, b := range bindings {
				if b.Port() == want {
					fmt.Fprintln(a.out, b.HostAddr())
					return nil
				}
			}
			return errdefs.NotFoundf("no port %s published for service %q", want, args[0])
		},
	}
	cmd.Flags().IntVar(&index, "index", 1, "index of the container if the service has several replicas")
	cmd.Flags().StringVar(&protocol, "protocol", "tcp", "tcp, udp or sctp")
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
			p, _, err := g.loadSelected(a, args)
			if err != nil {
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
			p, names, err := g.loadSelected(a, args)
			if err != nil {
				return err
			}
			// One pull per image, side by side; services that only
			// build are not pulled.
			var pulls []types.ServiceConfig
			for _, s := range compose.ImageServices(p.Model, names) {
				if s.Image != "" {
					pulls = append(pulls, s)
				}
			}
			return a.composeEach(pulls, func(sa *app, status io.Writer, s types.ServiceConfig) error {
				pa := *sa
				if quiet {
					pa.out, pa.err = io.Discard, io.Discard
				} else {
					fmt.Fprintf(status, " Image %s  Pulling\n", s.Image)
				}
				if _, err := pa.ensureImage(cmd, "always", s.Platform, s.Image); err != nil {
					if ignoreFailures {
						fmt.Fprintf(status, " Image %s  Error: service %q: %v\n", s.Image, s.Name, err)
						return nil
					}
					return fmt.Errorf("service %q: %w", s.Name, err)
				}
				if !quiet {
					fmt.Fprintf(status, " Image %s  Pulled\n", s.Image)
				}
				return nil
			})
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
			p, names, err := g.loadSelected(a, args)
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
	var extra buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] [SERVICE...]",
		Short: "Build or rebuild services",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, names, err := g.loadSelected(a, args)
			if err != nil {
				return err
			}
			var builds []types.ServiceConfig
			for _, s := range compose.ImageServices(p.Model, names) {
				if s.Build != nil {
					builds = append(builds, s)
				}
			}
			return a.composeEach(builds, func(sa *app, status io.Writer, s types.ServiceConfig) error {
				return sa.composeBuild(cmd, p, status, s, extra)
			})
		},
	}
	cmd.Flags().BoolVar(&extra.noCache, "no-cache", false, "do not use the build cache")
	cmd.Flags().BoolVar(&extra.pull, "pull", false, "always pull the images FROM names")
	cmd.Flags().StringArrayVar(&extra.buildArgs, "build-arg", nil, "set a build-time variable (KEY=VALUE), over the service's args")
	return cmd
}
