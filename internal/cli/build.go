package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"berth/internal/archive"
	"berth/internal/build"
	"berth/internal/errdefs"
	"berth/internal/image"
	"berth/internal/reference"
)

func addBuildCommands(root *cobra.Command, a *app) {
	builder := &cobra.Command{Use: "builder", Short: "Manage builds"}
	builder.AddCommand(newBuildCommand(a), newBuilderPruneCommand(a))
	root.AddCommand(newBuildCommand(a), builder)
}

type buildFlags struct {
	tags, buildArgs, labels, secrets []string
	file, target, platform, network  string
	progress, iidfile                string
	noCache, pull, quiet             bool
}

func newBuildCommand(a *app) *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | -",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from a Dockerfile and a build context: a directory, or "-" for
a tar of one (or a lone Dockerfile) on stdin. See docs/BUILD.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.build(cmd, args[0], &f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, `name and optionally a tag ("name:tag"); may be repeated`)
	fl.StringVarP(&f.file, "file", "f", "", `the Dockerfile (default "PATH/Dockerfile"; "-" reads it from stdin)`)
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "set a build-time variable (KEY=VALUE, or KEY to take it from the environment)")
	fl.StringVar(&f.target, "target", "", "build this stage, not the last")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.BoolVar(&f.pull, "pull", false, "always pull the images FROM names")
	fl.StringArrayVar(&f.labels, "label", nil, "set a label on the image (KEY=VALUE)")
	fl.StringVar(&f.platform, "platform", "", "the platform to build for (only the host's)")
	fl.StringVar(&f.network, "network", "default", "RUN's network: default (the bridge network), host or none")
	fl.StringArrayVar(&f.secrets, "secret", nil, "a secret for RUN --mount=type=secret: id=ID,src=FILE")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to this file")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto (tty on a terminal, else plain), plain, tty, or quiet (as -q)")
	return cmd
}

func (a *app) build(cmd *cobra.Command, ctxArg string, f *buildFlags) error {
	switch f.progress {
	case "auto", "plain", "tty":
	case "quiet":
		f.quiet = true
	default:
		return errdefs.Invalidf("--progress=%s: must be auto, plain, tty or quiet", f.progress)
	}
	opts := build.Options{BuildArgs: map[string]string{}, Labels: map[string]string{}, Secrets: map[string]string{},
		Target: f.target, NoCache: f.noCache, Pull: f.pull, Platform: *image.HostPlatform()}
	for _, t := range f.tags {
		ref, err := reference.Parse(t)
		if err != nil {
			return errdefs.Invalidf("invalid tag %q: %v", t, err)
		}
		if ref.Digest() != "" {
			return errdefs.Invalidf("invalid tag %q: a tag cannot have a digest", t)
		}
		opts.Names = append(opts.Names, ref.String())
	}
	for _, ba := range f.buildArgs {
		k, v, ok := strings.Cut(ba, "=")
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		opts.BuildArgs[k] = v
	}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		opts.Labels[k] = v
	}
	for _, s := range f.secrets {
		id, src, err := parseSecret(s)
		if err != nil {
			return err
		}
		opts.Secrets[id] = src
	}
	if f.platform != "" {
		p, err := image.ParsePlatform(f.platform)
		if err != nil {
			return err
		}
		if !image.PlatformMatches(opts.Platform, *p) {
			return errdefs.Unsupportedf("--platform=%s: berth builds for the host's platform, %s, only", f.platform, image.PlatformString(opts.Platform))
		}
	}
	switch f.network {
	case "default", "bridge":
		opts.Network = build.NetworkDefault
	case "host":
		opts.Network = build.NetworkHost
	case "none":
		opts.Network = build.NetworkNone
	default:
		return errdefs.Invalidf("--network=%s: berth build takes default (bridge), host or none", f.network)
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	opts.Epoch = epoch

	dfName, dfData, bctx, cleanup, err := a.buildInputs(ctxArg, f.file)
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		return err
	}
	df, err := build.Parse(dfName, dfData)
	if err != nil {
		return err
	}
	var prog buildProgress
	if !f.quiet {
		prog = &plainProgress{w: a.err, start: time.Now()}
		if f.progress == "tty" || (f.progress == "auto" && isTerminal(a.err)) {
			prog = newTTYProgress(a.err, terminalWidth(a.err))
		}
		opts.Progress = prog
	}
	opts.PullImage = func(ctx context.Context, name string) error {
		ref, err := reference.Parse(name)
		if err != nil {
			return err
		}
		pa := *a
		pa.out = a.err
		_, err = pa.pull(cmd, ref, "", f.quiet)
		return err
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	backend, release, err := e.BuildBackend()
	if err != nil {
		return err
	}
	// ^C or SIGTERM stops the build between steps (a RUN's process gets
	// the signal too), so that its layers are unmounted and removed.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	id, err := build.Build(ctx, backend, df, bctx, opts)
	stop()
	release()
	if err != nil {
		if prog != nil {
			prog.abort()
		}
		return err
	}
	if prog != nil {
		prog.finish(id, opts.Names)
	} else {
		fmt.Fprintln(a.out, id)
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(id.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// sourceDateEpoch is the time builds write: SOURCE_DATE_EPOCH, or the
// Unix epoch when it is unset, so that builds are reproducible.
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, errdefs.Invalidf("SOURCE_DATE_EPOCH=%s: not a number of seconds", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

func parseSecret(s string) (string, string, error) {
	var id, src string
	for _, f := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "id":
			id = v
		case "src", "source":
			src = v
		case "type":
			if v != "file" {
				return "", "", errdefs.Invalidf("--secret %s: only type=file is supported", s)
			}
		default:
			return "", "", errdefs.Invalidf("--secret %s: unknown field %q", s, k)
		}
	}
	if id == "" {
		return "", "", errdefs.Invalidf("--secret %s: id= is required", s)
	}
	if src == "" {
		src = id
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", "", errdefs.Invalidf("--secret %s: %v", s, err)
	}
	return id, abs, nil
}

// maxStdinContext bounds a context tar or Dockerfile read from stdin.
const maxStdinContext = 8 << 30

// buildInputs reads the Dockerfile and opens the context: a directory,
// or stdin holding a context tar or a Dockerfile alone.
func (a *app) buildInputs(ctxArg, file string) (string, []byte, *build.Context, func(), error) {
	var cleanup func()
	if ctxArg == "-" {
		if file == "-" {
			return "", nil, nil, nil, errdefs.Invalidf("the context and the Dockerfile cannot both come from stdin")
		}
		br := bufio.NewReaderSize(a.in, 1<<16)
		if !looksLikeTar(br) {
			data, err := io.ReadAll(io.LimitReader(br, maxDockerfileStdin))
			if err != nil {
				return "", nil, nil, nil, err
			}
			dir, err := os.MkdirTemp("", "berth-build-context-")
			if err != nil {
				return "", nil, nil, nil, err
			}
			cleanup := func() { os.RemoveAll(dir) }
			bctx, err := build.OpenContext(dir, "")
			return "Dockerfile", data, bctx, cleanup, err
		}
		dir, err := os.MkdirTemp("", "berth-build-context-")
		if err != nil {
			return "", nil, nil, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
		if _, err := archive.Apply(context.Background(), dir, io.LimitReader(br, maxStdinContext), archive.Limits{}); err != nil {
			return "", nil, nil, cleanup, errdefs.Invalidf("the context tar on stdin: %v", err)
		}
		ctxArg = dir
	}
	var name string
	var data []byte
	var dfPath string
	var err error
	switch {
	case file == "-":
		name = "Dockerfile"
		data, err = io.ReadAll(io.LimitReader(a.in, maxDockerfileStdin))
	default:
		dfPath = file
		if dfPath == "" {
			dfPath = filepath.Join(ctxArg, "Dockerfile")
		} else if !filepath.IsAbs(dfPath) && ctxArgIsTemp(ctxArg) {
			dfPath = filepath.Join(ctxArg, dfPath)
		}
		name = filepath.Base(dfPath)
		data, err = os.ReadFile(dfPath)
		if os.IsNotExist(err) {
			err = errdefs.NotFoundf("failed to read the Dockerfile: open %s: no such file or directory", dfPath)
		}
	}
	if err != nil {
		return "", nil, nil, cleanup, err
	}
	bctx, err := build.OpenContext(ctxArg, dfPath)
	return name, data, bctx, cleanup, err
}

const maxDockerfileStdin = 4 << 20

func ctxArgIsTemp(dir string) bool {
	return strings.HasPrefix(filepath.Base(dir), "berth-build-context-")
}

// looksLikeTar says whether stdin holds a tar (plain, gzip or zstd)
// rather than a Dockerfile.
func looksLikeTar(br *bufio.Reader) bool {
	head, _ := br.Peek(512)
	if len(head) >= 4 && (bytes.HasPrefix(head, []byte{0x1f, 0x8b}) || bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd})) {
		return true
	}
	return len(head) == 512 && string(head[257:262]) == "ustar"
}

// plainProgress prints steps as BuildKit's plain progress does:
// "#N [stage k/n] INSTRUCTION", the step's output lines prefixed with
// "#N", and "#N DONE 0.1s", "#N CACHED" or "#N ERROR: ...".
type plainProgress struct {
	mu    sync.Mutex
	w     io.Writer
	n     int
	start time.Time
}

func (p *plainProgress) Step(stage, name string) build.Step {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	fmt.Fprintf(p.w, "#%d [%s] %s\n", p.n, stage, name)
	return &plainStep{p: p, n: p.n, start: time.Now()}
}

func (p *plainProgress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "WARNING: %s\n", msg)
}

func (p *plainProgress) finish(id fmt.Stringer, names []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	fmt.Fprintf(p.w, "#%d exporting to image\n#%d writing image %s done\n", p.n, p.n, id)
	for _, n := range names {
		if ref, err := reference.Parse(n); err == nil {
			n = ref.String()
		}
		fmt.Fprintf(p.w, "#%d naming to %s done\n", p.n, n)
	}
	fmt.Fprintf(p.w, "#%d DONE %.1fs\n", p.n, time.Since(p.start).Seconds())
}

type plainStep struct {
	p      *plainProgress
	n      int
	start  time.Time
	cached bool
	buf    []byte
}

func (s *plainStep) Cached() { s.cached = true }

func (s *plainStep) Output() io.Writer { return s }

// Write prints whole lines, each prefixed with the step's number and
// the seconds since it began.
func (s *plainStep) Write(b []byte) (int, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.buf = append(s.buf, b...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(s.p.w, "#%d %.3f %s\n", s.n, time.Since(s.start).Seconds(), s.buf[:i])
		s.buf = s.buf[i+1:]
	}
	return len(b), nil
}

func (s *plainStep) Done(err error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if len(s.buf) > 0 {
		fmt.Fprintf(s.p.w, "#%d %.3f %s\n", s.n, time.Since(s.start).Seconds(), s.buf)
		s.buf = nil
	}
	switch {
	case err != nil:
		fmt.Fprintf(s.p.w, "#%d ERROR: %v\n", s.n, err)
	case s.cached:
		fmt.Fprintf(s.p.w, "#%d CACHED\n", s.n)
	default:
		fmt.Fprintf(s.p.w, "#%d DONE %.1fs\n", s.n, time.Since(s.start).Seconds())
	}
}

func newBuilderPruneCommand(a *app) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove build cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var age time.Duration
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				if k != "until" {
					return errdefs.Invalidf("--filter %s: berth takes until=DURATION", f)
				}
				d, err := time.ParseDuration(v)
				if err != nil {
					return errdefs.Invalidf("--filter %s: %v", f, err)
				}
				age = d
			}
			if !force {
				fmt.Fprint(a.out, "WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ")
				line, _ := bufio.NewReader(a.in).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			st, err := a.images()
			if err != nil {
				return err
			}
			keys, freed, err := st.PruneBuildCache(age)
			if err != nil {
				return err
			}
			for i, k := range keys {
				keys[i] = k[:25]
			}
			printDeleted(a.out, "Deleted build cache objects:", keys)
			fmt.Fprintf(a.out, "Total reclaimed space: %s\n", humanSize(freed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all build cache (berth's cache has only one kind: the same as without -a)")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "until=DURATION: remove only records unused for longer")
	return cmd
}
