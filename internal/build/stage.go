package build

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/errdefs"
	"berth/internal/image"
	"berth/internal/metadata"
)

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// state is a stage as its steps change it.
type state struct {
	cfg    imageConfig
	layers []metadata.BuildLayer
	chain  []digest.Digest
	// key is the cache key of the last step.
	key string
	// args are the ARGs in scope, in order, with their values.
	args []kv
	// cmdSet says whether this stage set CMD (ENTRYPOINT clears an
	// inherited one only).
	cmdSet bool
}

func (s *state) top() digest.Digest {
	if len(s.chain) == 0 {
		return ""
	}
	return s.chain[len(s.chain)-1]
}

// stageRunner runs one stage's steps.
type stageRunner struct {
	bd    *builder
	index int
	stage instructions.Stage
	st    *state
	lex   *shell.Lex
	step  int // the step being run, 1 for FROM
	total int
}

func (bd *builder) runStage(i int) (*state, error) {
	s := bd.df.Stages[i]
	r := &stageRunner{bd: bd, index: i, stage: s, lex: shell.NewLex(bd.df.Escape), total: len(s.Commands) + 1}
	if err := r.from(); err != nil {
		return nil, err
	}
	for _, c := range s.Commands {
		r.step++
		if err := r.dispatch(c, false); err != nil {
			return nil, err
		}
	}
	return r.st, nil
}

// wrap makes err name the Dockerfile, the line and the instruction.
func (r *stageRunner) wrap(c instructions.Command, err error) error {
	var name string
	var ln int
	if c != nil {
		name, ln = strings.ToUpper(c.Name()), line(c.Location())
	} else {
		name, ln = "FROM", line(r.stage.Location)
	}
	return fmt.Errorf("%s:%d: %s: %w", r.bd.df.Name, ln, name, err)
}

func (r *stageRunner) label() string {
	return fmt.Sprintf("%s %d/%d", stageLabel(r.stage, r.index), r.step+1, r.total)
}

func (r *stageRunner) env() envGetter { return envGetter{env: r.st.cfg.Config.Env, args: r.st.args} }

func (r *stageRunner) expand(word string) (string, error) {
	w, _, err := r.lex.ProcessWord(word, r.env())
	return w, err
}

// from starts the stage from its base: scratch, an earlier stage or an
// image, and runs the base image's ONBUILD triggers.
func (r *stageRunner) from() error {
	bd := r.bd
	name, err := bd.expandGlobal(r.stage.BaseName)
	if err != nil {
		return r.wrap(nil, errdefs.Invalidf("%v", err))
	}
	if r.stage.Platform != "" {
		p, err := bd.expandGlobal(r.stage.Platform)
		if err != nil {
			return r.wrap(nil, errdefs.Invalidf("--platform: %v", err))
		}
		want, err := image.ParsePlatform(p)
		if err != nil {
			return r.wrap(nil, errdefs.Invalidf("--platform: %v", err))
		}
		if !image.PlatformMatches(bd.opts.Platform, *want) {
			return r.wrap(nil, errdefs.Unsupportedf("--platform=%s: berth builds for %s only", p, image.PlatformString(bd.opts.Platform)))
		}
	}
	step := bd.opts.Progress.Step(r.label(), "FROM "+name)
	err = r.base(name)
	step.Done(err)
	if err != nil {
		return r.wrap(nil, err)
	}
	// A stage sees the global ARGs only once it declares them again.
	r.st.args = nil
	r.st.cmdSet = false
	triggers := r.st.cfg.Config.OnBuild
	r.st.cfg.Config.OnBuild = nil
	for _, t := range triggers {
		res, err := parser.Parse(strings.NewReader(t))
		if err != nil {
			return r.wrap(nil, errdefs.Invalidf("ONBUILD trigger %q: %v", t, err))
		}
		for _, n := range res.AST.Children {
			c, err := instructions.ParseCommand(n)
			if err != nil {
				return r.wrap(nil, errdefs.Invalidf("ONBUILD trigger %q: %v", t, err))
			}
			if err := r.dispatch(c, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *stageRunner) base(name string) error {
	bd := r.bd
	p := bd.opts.Platform
	if strings.EqualFold(name, "scratch") {
		r.st = &state{key: stepKey("scratch", p.OS, p.Architecture, p.Variant)}
		r.st.cfg = imageConfig{Architecture: p.Architecture, OS: p.OS, Variant: p.Variant}
		r.st.cfg.Config.Env = []string{defaultPath}
		return nil
	}
	for j := 0; j < r.index; j++ {
		if s := bd.df.Stages[j]; s.Name != "" && strings.EqualFold(s.Name, name) {
			from, err := bd.waitStage(j)
			if err != nil {
				return err
			}
			r.st = from.clone()
			return nil
		}
	}
	img, err := bd.image(name)
	if err != nil {
		return err
	}
	var cfg imageConfig
	if err := json.Unmarshal(img.Config, &cfg); err != nil {
		return errdefs.Invalidf("the config of image %s: %v", name, err)
	}
	if len(cfg.History) == 0 {
		// Keep one history line per layer, as `history` shows them.
		for range img.Layers {
			cfg.History = append(cfg.History, ocispec.History{})
		}
	}
	// As Docker, a base without PATH gets the default one.
	if _, ok := lookupEnv(cfg.Config.Env, "PATH"); !ok {
		cfg.Config.Env = append([]string{defaultPath}, cfg.Config.Env...)
	}
	r.st = &state{cfg: cfg, layers: img.Layers, chain: img.Chain, key: stepKey("image", img.ID.String())}
	return nil
}

// image returns a stored image, pulling it when it is missing or when
// the build asks for fresh pulls.
func (bd *builder) image(name string) (*BaseImage, error) {
	img, err := bd.b.Image(name)
	if err == nil && !bd.opts.Pull {
		return img, nil
	}
	if err != nil && !errdefs.IsNotFound(err) {
		return nil, err
	}
	if bd.opts.PullImage == nil {
		return nil, err
	}
	if perr := bd.opts.PullImage(bd.ctx, name); perr != nil {
		if err == nil {
			return img, nil // a stored image serves when the registry cannot
		}
		return nil, fmt.Errorf("pull %s: %w", name, perr)
	}
	return bd.b.Image(name)
}

func (s *state) clone() *state {
	return &state{cfg: s.cfg.clone(), layers: slices.Clone(s.layers), chain: slices.Clone(s.chain), key: s.key, args: slices.Clone(s.args)}
}

// dispatch runs one instruction.
func (r *stageRunner) dispatch(c instructions.Command, onbuild bool) error {
	if err := r.bd.ctx.Err(); err != nil {
		return err
	}
	// Words are expanded as BuildKit expands them: every instruction
	// that supports it but ARG, whose values are expanded one by one.
	if _, isArg := c.(*instructions.ArgCommand); !isArg {
		if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
			if err := ex.Expand(r.expand); err != nil {
				return r.wrap(c, errdefs.Invalidf("%v", err))
			}
		}
	}
	if ex, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		raw := shell.NewLex('\\')
		raw.SkipProcessQuotes = true
		err := ex.ExpandRaw(func(word string) (string, error) {
			w, _, err := raw.ProcessWord(word, r.env())
			return w, err
		})
		if err != nil {
			return r.wrap(c, errdefs.Invalidf("%v", err))
		}
	}
	name := c.Name()
	if sc, ok := c.(fmt.Stringer); ok {
		name = sc.String()
	}
	if onbuild {
		name = "ONBUILD " + name
	}
	step := r.bd.opts.Progress.Step(r.label(), name)
	err := r.apply(c, step)
	step.Done(err)
	if err != nil {
		return r.wrap(c, err)
	}
	return nil
}

// meta records a step that changes the config alone.
func (r *stageRunner) meta(createdBy string) {
	r.st.key = stepKey(r.st.key, createdBy)
	r.st.cfg.addHistory(createdBy, true, r.bd.opts.Epoch)
}

func (r *stageRunner) apply(c instructions.Command, step Step) error {
	cfg := &r.st.cfg.Config
	switch c := c.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, e := range c.Env {
			cfg.Env = setEnv(cfg.Env, e.Key, e.Value)
			parts = append(parts, e.Key+"="+e.Value)
		}
		r.meta("ENV " + strings.Join(parts, " "))
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		var parts []string
		for _, l := range c.Labels {
			cfg.Labels[l.Key] = l.Value
			parts = append(parts, l.Key+"="+l.Value)
		}
		r.meta("LABEL " + strings.Join(parts, " "))
	case *instructions.MaintainerCommand:
		r.st.cfg.Author = c.Maintainer
		r.meta("MAINTAINER " + c.Maintainer)
	case *instructions.ArgCommand:
		return r.arg(c)
	case *instructions.WorkdirCommand:
		p := c.Path
		if !path.IsAbs(p) {
			p = path.Join("/", cfg.WorkingDir, p)
		}
		cfg.WorkingDir = path.Clean(p)
		return r.workdir(step)
	case *instructions.UserCommand:
		cfg.User = c.User
		r.meta("USER " + c.User)
	case *instructions.CmdCommand:
		cfg.Cmd = r.command(c.ShellDependantCmdLine)
		r.st.cmdSet = true
		r.meta("CMD " + jsonString(cfg.Cmd))
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = r.command(c.ShellDependantCmdLine)
		if !r.st.cmdSet {
			cfg.Cmd = nil
		}
		r.meta("ENTRYPOINT " + jsonString(cfg.Entrypoint))
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		var ports []string
		for _, p := range c.Ports {
			p, err := r.expand(p)
			if err != nil {
				return errdefs.Invalidf("%v", err)
			}
			expanded, err := exposedPorts(p)
			if err != nil {
				return err
			}
			for _, e := range expanded {
				cfg.ExposedPorts[e] = struct{}{}
				ports = append(ports, e)
			}
		}
		r.meta("EXPOSE map[" + strings.Join(ports, " ") + "]")
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if strings.TrimSpace(v) == "" {
				return errdefs.Invalidf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		r.meta("VOLUME " + jsonString(c.Volumes))
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
		r.meta("STOPSIGNAL " + c.Signal)
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Healthcheck = &image.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
		r.meta("HEALTHCHECK " + jsonString(h.Test))
	case *instructions.ShellCommand:
		cfg.Shell = slices.Clone(c.Shell)
		r.meta("SHELL " + jsonString(c.Shell))
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
		r.meta("ONBUILD " + c.Expression)
	case *instructions.RunCommand:
		return r.run(c, step)
	case *instructions.CopyCommand:
		return r.copy(c, step)
	case *instructions.AddCommand:
		return r.add(c, step)
	default:
		return errdefs.Unsupportedf("%s is not supported", strings.ToUpper(c.Name()))
	}
	return nil
}

// arg declares build args in the stage, as Docker does: a --build-arg
// value wins, then the default, then a global ARG of the same name.
func (r *stageRunner) arg(c *instructions.ArgCommand) error {
	var parts []string
	for _, a := range c.Args {
		v, ok := r.bd.opts.BuildArgs[a.Key]
		if ok {
			r.bd.markArg(a.Key)
		} else if a.Value != nil {
			w, err := r.expand(*a.Value)
			if err != nil {
				return errdefs.Invalidf("%v", err)
			}
			v, ok = w, true
		} else {
			v, ok = envGetter{args: r.bd.global}.Get(a.Key)
		}
		if !ok {
			parts = append(parts, a.Key)
			continue
		}
		r.st.args = append(r.st.args, kv{a.Key, v})
		parts = append(parts, a.Key+"="+v)
	}
	r.meta("ARG " + strings.Join(parts, " "))
	return nil
}

// command is CMD's or ENTRYPOINT's argv: the exec form as written, the
// shell form run by the stage's SHELL.
func (r *stageRunner) command(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	return append(r.shell(), strings.Join(c.CmdLine, " "))
}

func (r *stageRunner) shell() []string {
	if len(r.st.cfg.Config.Shell) > 0 {
		return slices.Clone(r.st.cfg.Config.Shell)
	}
	return []string{"/bin/sh", "-c"}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// exposedPorts reads one EXPOSE word: PORT, PORT/PROTO or a range.
func exposedPorts(s string) ([]string, error) {
	port, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, errdefs.Invalidf("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, errdefs.Invalidf("invalid containerPort: %s", port)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return nil, errdefs.Invalidf("invalid range: %s", port)
		}
	}
	var out []string
	for p := a; p <= b; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}
