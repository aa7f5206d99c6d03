//go:build !lean

package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/mattn/go-shellwords"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"berth/internal/compose"
	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/portmap"
)

func withIndex(cs []compose.Container, index int) []compose.Container {
	var out []compose.Container
	for _, c := range cs {
		if c.Number == index && !c.Oneoff {
			out = append(out, c)
		}
	}
	return out
}

// serviceContainer reads the project the global flags name and finds
// the container number index of a service, running.
func (g *composeFlags) serviceContainer(a *app, service string, index int) (*compose.Project, *metadata.Container, error) {
	p, err := g.load(a)
	if err != nil {
		return nil, nil, err
	}
	if _, err := compose.Select(p.Model, []string{service}); err != nil {
		return nil, nil, err
	}
	cs, err := p.Containers(false, service)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range withIndex(cs, index) {
		rec, err := p.E.Lookup(c.ID)
		return p, rec, err
	}
	return nil, nil, errdefs.NotFoundf("service %q has no container %d: run up first", service, index)
}

func newComposeExecCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		x     ctrExecFlags
		noTTY bool
		index int
	)
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] SERVICE COMMAND [ARGS...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, c, err := g.serviceContainer(a, args[0], index)
			if err != nil {
				return err
			}
			tty := !noTTY && term.IsTerminal(int(os.Stdin.Fd())) && !x.detach
			return x.exec(p.E, c, args[1:], tty, !x.detach)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&x.detach, "detach", "d", false, "run the command in the background")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "don't allocate a terminal (default: one when stdin is a terminal)")
	f.BoolVar(&x.privileged, "privileged", false, "give the command every capability")
	f.StringArrayVarP(&x.env, "env", "e", nil, "set an environment variable")
	f.StringVarP(&x.user, "user", "u", "", "run the command as this user")
	f.StringVarP(&x.workdir, "workdir", "w", "", "working directory of the command")
	f.IntVar(&index, "index", 1, "index of the container if the service has several replicas")
	return cmd
}

func newComposeRunCommand(a *app, g *composeFlags) *cobra.Command {
	var (
		detach, rm, noDeps, servicePorts, noTTY, build       bool
		interactive, useAliases, removeOrphans, quiet, qPull bool
		env, envFiles, labels, volumes, publish              []string
		capAdd, capDrop                                      []string
		name, user, workdir, entrypoint, pull                string
	)
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
		Short: "Run a one-off command on a service",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if servicePorts && len(publish) > 0 {
				return errdefs.Invalidf("--service-ports and --publish are incompatible")
			}
			p, err := g.load(a)
			if err != nil {
				return err
			}
			if quiet {
				p.Progress = nil
			}
			if err := p.Enable(args[:1]); err != nil {
				return err
			}
			if _, err := compose.Select(p.Model, args[:1]); err != nil {
				return err
			}
			s := p.Model.Services[args[0]]
			// Everything the flags can get wrong fails before anything
			// is started or created.
			if s.Volumes, err = runVolumes(s.Volumes, volumes); err != nil {
				return err
			}
			if _, err := engine.NormalizeCapabilities("cap-add", capAdd); err != nil {
				return err
			}
			if _, err := engine.NormalizeCapabilities("cap-drop", capDrop); err != nil {
				return err
			}
			s.CapAdd = append(s.CapAdd, capAdd...)
			s.CapDrop = append(s.CapDrop, capDrop...)
			fileEnv, err := readEnvFiles(envFiles)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("entrypoint") {
				if s.Entrypoint, err = shellwords.Parse(entrypoint); err != nil {
					return errdefs.Invalidf("--entrypoint %q: %v", entrypoint, err)
				}
				if s.Entrypoint == nil {
					s.Entrypoint = []string{} // --entrypoint "": none at all
				}
			}
			var ports []portmap.Binding
			for _, spec := range publish {
				bs, err := portmap.Parse(spec)
				if err != nil {
					return err
				}
				ports = append(ports, bs...)
			}
			for _, l := range labels {
				if k, _, ok := strings.Cut(l, "="); !ok || k == "" {
					return errdefs.Invalidf("--label %q: want KEY=VALUE", l)
				}
			}
			if err := p.Orphans(removeOrphans, a.warn); err != nil {
				return err
			}
			// The service's image first: when it cannot be had, nothing
			// has been started.
			ensure := a.composeImages(cmd, p, pull, build, false, qPull || quiet)
			if err := ensure([]types.ServiceConfig{s}); err != nil {
				return err
			}
			if !noDeps && len(s.DependsOn) > 0 {
				var deps []string
				for d := range s.DependsOn {
					deps = append(deps, d)
				}
				sort.Strings(deps)
				if err := p.Up(compose.UpOptions{Services: deps, EnsureImages: ensure}); err != nil {
					return err
				}
				for _, d := range deps {
					if err := p.Wait([]string{d}, 0); err != nil && s.DependsOn[d].Condition != "service_started" {
						return err
					}
				}
			}
			p.Model.Services[s.Name] = s
			if err := p.Prepare(args[:1]); err != nil {
				return err
			}
			if len(args) > 1 {
				s.Command = args[1:]
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
			o.Env = append(append(o.Env, fileEnv...), env...)
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				o.Labels[k] = v
			}
			o.Config.AutoRemove = rm
			// One-off containers publish the service's ports only when
			// asked, so that they do not take the service's host ports,
			// and answer to the service's name only when asked, so that
			// they get none of its traffic.
			if !servicePorts {
				o.Config.PortBindings = nil
			}
			o.Config.PortBindings = append(o.Config.PortBindings, ports...)
			o.Network.PublishRequested = len(o.Config.PortBindings) > 0
			if !useAliases {
				o.Network.Aliases = nil
			}
			c, err := p.E.Create(o)
			if err != nil {
				return ownError(err)
			}
			if err := p.ConnectOthers(s, c.ID, useAliases); err != nil {
				if rec, lerr := p.E.Lookup(c.ID); lerr == nil {
					p.E.Remove(rec, engine.RemoveOptions{Force: true, Purge: true, Volumes: true})
				}
				return err
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
	f.StringArrayVar(&envFiles, "env-from-file", nil, "set environment variables from a file")
	f.StringArrayVarP(&labels, "label", "l", nil, "add or override a label")
	f.StringArrayVarP(&volumes, "volume", "v", nil, "bind mount a host path or mount a volume")
	f.StringArrayVar(&capAdd, "cap-add", nil, "add Linux capabilities")
	f.StringArrayVar(&capDrop, "cap-drop", nil, "drop Linux capabilities")
	f.StringVar(&name, "name", "", "name of the container")
	f.StringVarP(&user, "user", "u", "", "run as this user")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVar(&entrypoint, "entrypoint", "", "override the image's entrypoint")
	f.StringVar(&pull, "pull", "policy", "pull the image before running: always, missing, never, policy")
	f.BoolVar(&qPull, "quiet-pull", false, "pull without printing progress information")
	f.BoolVarP(&quiet, "quiet", "q", false, "don't print progress, only the container's output")
	f.BoolVar(&useAliases, "use-aliases", false, "give the container the service's name and network aliases")
	f.BoolVar(&removeOrphans, "remove-orphans", false, "remove containers for services not defined in the compose file")
	return cmd
}

// runVolumes adds run's -v mounts, in the compose file's short syntax,
// to a service's volumes; one on a path the service mounts already
// replaces it. A relative host path is taken from the current
// directory, as docker run takes it.
func runVolumes(have []types.ServiceVolumeConfig, specs []string) ([]types.ServiceVolumeConfig, error) {
	for _, spec := range specs {
		v, err := format.ParseVolume(spec)
		if err != nil {
			return nil, errdefs.Invalidf("--volume %q: %v", spec, err)
		}
		// The loader skips options it does not know; a typo here
		// should not silently mount something else.
		if parts := strings.Split(spec, ":"); len(parts) == 3 {
			for _, opt := range strings.Split(parts[2], ",") {
				if !runVolumeOptions[opt] {
					return nil, errdefs.Invalidf("--volume %q: unknown option %q (want ro, rw, nocopy, z, Z or a propagation)", spec, opt)
				}
			}
		}
		if v.Type == types.VolumeTypeBind && !filepath.IsAbs(v.Source) {
			if v.Source, err = filepath.Abs(v.Source); err != nil {
				return nil, err
			}
		}
		if !filepath.IsAbs(v.Target) {
			return nil, errdefs.Invalidf("--volume %q: the path in the container must be absolute", spec)
		}
		var kept []types.ServiceVolumeConfig
		for _, h := range have {
			if filepath.Clean(h.Target) != filepath.Clean(v.Target) {
				kept = append(kept, h)
			}
		}
		have = append(kept, v)
	}
	return have, nil
}

// runVolumeOptions are the options of the short volume syntax.
var runVolumeOptions = map[string]bool{"ro": true, "rw": true, "nocopy": true, "z": true, "Z": true,
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// readEnvFiles reads --env-from-file files: a VAR=value per line, or a
// bare VAR taken from berth's environment; # starts a comment line.
func readEnvFiles(files []string) ([]string, error) {
	var env []string
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, errdefs.Invalidf("--env-from-file: %v", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				env = append(env, line)
			}
		}
	}
	return env, nil
}

func newComposeCreateCommand(a *app, g *composeFlags) *cobra.Command {
	var build, noBuild, force, noRecreate, removeOrphans, quietPull bool
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
				RemoveOrphans: removeOrphans, Warn: a.warn}
			if o.Scale, err = parseScale(scale); err != nil {
				return err
			}
			o.EnsureImages = a.composeImages(cmd, p, pull, build, noBuild, quietPull)
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
	f.BoolVar(&quietPull, "quiet-pull", false, "pull without printing progress information")
	return cmd
}
