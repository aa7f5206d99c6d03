//go:build !lean

package cli

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"berth/internal/compose"
	"berth/internal/errdefs"
)

// composeEach runs fn for each service, compose.MaxParallel at once, as
// Docker Compose builds and pulls. Each gets an app of its own whose
// output lines start with the service's name when several run, and a
// status writer for the lines that already name it; one alone keeps the
// terminal, and its progress bars.
func (a *app) composeEach(services []types.ServiceConfig, fn func(sa *app, status io.Writer, s types.ServiceConfig) error) error {
	if _, err := a.engine(); err != nil {
		return err // opened once, before the copies share it
	}
	if len(services) == 1 {
		return fn(a, a.err, services[0])
	}
	width := 0
	for _, s := range services {
		width = max(width, len(s.Name))
	}
	status := &lockedWriter{w: a.err}
	return compose.Parallel(services, func(s types.ServiceConfig) error {
		pw := &prefixWriter{w: status, prefix: fmt.Sprintf("%-*s | ", width, s.Name)}
		defer pw.flush()
		sa := *a
		sa.out, sa.err, sa.isTerminal = pw, pw, false
		return fn(&sa, status, s)
	})
}

// lockedWriter lets several goroutines write whole lines to one stream.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// prefixWriter writes each complete line after prefix, in one write, so
// that the lines of services built side by side do not mix.
type prefixWriter struct {
	mu     sync.Mutex // a pull's layers report from goroutines of their own
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	var out []byte
	for {
		i := bytes.IndexAny(p.buf, "\r\n")
		if i < 0 {
			break
		}
		if line := p.buf[:i]; len(bytes.TrimSpace(line)) > 0 {
			out = append(append(append(out, p.prefix...), line...), '\n')
		}
		p.buf = p.buf[i+1:]
	}
	if len(out) > 0 {
		if _, err := p.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// flush writes what is left of an unfinished line.
func (p *prefixWriter) flush() {
	if len(bytes.TrimSpace(p.buf)) > 0 {
		p.Write([]byte("\n"))
	}
}

// composeImages is up's and run's way to make the services' images
// present, side by side: each pulled as --pull or the service's
// pull_policy says, or built; quiet drops the pulls' and builds' output
// (--quiet-pull), not their errors.
func (a *app) composeImages(cmd *cobra.Command, p *compose.Project, pull string, build, noBuild, quiet bool) func([]types.ServiceConfig) error {
	return func(services []types.ServiceConfig) error {
		return a.composeEach(services, func(sa *app, status io.Writer, s types.ServiceConfig) error {
			if quiet {
				q := *sa
				q.out, q.err, status = io.Discard, io.Discard, io.Discard
				sa = &q
			}
			return sa.composeImage(cmd, p, status, s, pull, build, noBuild)
		})
	}
}

// composeImage makes one service's image present.
func (a *app) composeImage(cmd *cobra.Command, p *compose.Project, status io.Writer, s types.ServiceConfig, pull string, build, noBuild bool) error {
	img := compose.ImageName(p.Model, s)
	if s.Build != nil && !noBuild {
		st, err := a.images()
		if err != nil {
			return err
		}
		if _, err := st.Lookup(img); err != nil || build || s.PullPolicy == types.PullPolicyBuild {
			return a.composeBuild(cmd, p, status, s, buildFlags{})
		}
		return nil
	}
	policy := pull
	if policy == "policy" {
		policy, _, _ = s.GetPullPolicy()
	}
	switch policy {
	case types.PullPolicyIfNotPresent, types.PullPolicyMissing, types.PullPolicyRefresh, types.PullPolicyBuild:
		policy = "missing"
	case types.PullPolicyAlways, types.PullPolicyNever:
	default:
		return errdefs.Invalidf("--pull %q: want always, missing, never or policy", pull)
	}
	if _, err := a.ensureImage(cmd, policy, s.Platform, img); err != nil {
		return fmt.Errorf("service %q: image %s: %w", s.Name, img, err)
	}
	return nil
}

// composeBuild builds a service's image with berth build, tagged with
// its image name (or PROJECT-SERVICE); extra carries compose build's
// --no-cache, --pull and --build-arg. The lines that say where it is go
// to status.
func (a *app) composeBuild(cmd *cobra.Command, p *compose.Project, status io.Writer, s types.ServiceConfig, extra buildFlags) error {
	b := s.Build
	f := &buildFlags{tags: []string{compose.ImageName(p.Model, s)}, target: b.Target,
		progress: "auto", network: "default", noCache: extra.noCache, pull: extra.pull}
	if b.Dockerfile != "" {
		f.file = b.Dockerfile
		if !filepath.IsAbs(f.file) {
			f.file = filepath.Join(b.Context, f.file)
		}
	}
	for _, k := range sortedKeysOf(b.Args) {
		if v := b.Args[k]; v != nil {
			f.buildArgs = append(f.buildArgs, k+"="+*v)
		} else {
			f.buildArgs = append(f.buildArgs, k)
		}
	}
	f.buildArgs = append(f.buildArgs, extra.buildArgs...)
	for _, k := range sortedKeysOf(b.Labels) {
		f.labels = append(f.labels, k+"="+b.Labels[k])
	}
	fmt.Fprintf(status, " Service %s  Building\n", s.Name)
	if err := a.build(cmd, b.Context, f); err != nil {
		return fmt.Errorf("service %q: build: %w", s.Name, err)
	}
	fmt.Fprintf(status, " Service %s  Built\n", s.Name)
	return nil
}
