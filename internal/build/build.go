package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// Options are what `build` asks for.
type Options struct {
	// Names are full references for the image.
	Names     []string
	BuildArgs map[string]string
	// Target is the stage to build; "" builds the last one.
	Target  string
	NoCache bool
	// Pull pulls every FROM image, even one already stored.
	Pull bool
	// Labels are added to the image's labels.
	Labels map[string]string
	// Platform is the platform to build for; only the host's is
	// supported.
	Platform ocispec.Platform
	// Network is RUN's network unless a step says otherwise.
	Network Network
	// Secrets maps a secret's ID to the file that holds it.
	Secrets map[string]string
	// Epoch is the time written into layers and the config.
	Epoch time.Time
	// PullImage fetches an image into the store; nil refuses.
	PullImage func(ctx context.Context, ref string) error
	Progress  Progress
}

// proxyArgs are the build args every RUN sees without an ARG, as in
// Docker; they are kept out of the cache key and the history.
var proxyArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// builder is one build.
type builder struct {
	ctx    context.Context
	b      Backend
	df     *Dockerfile
	bctx   *Context
	opts   Options
	global []kv
	stages []*stageRun

	mu       sync.Mutex
	usedArgs map[string]bool
	usedKeys []string
}

// stageRun is one stage's run: done is closed once st or err is set.
type stageRun struct {
	done chan struct{}
	st   *state
	err  error
}

// Build builds df with the context bctx and returns the image's ID.
func Build(ctx context.Context, b Backend, df *Dockerfile, bctx *Context, opts Options) (digest.Digest, error) {
	if opts.Progress == nil {
		opts.Progress = noProgress{}
	}
	if opts.Network == "" {
		opts.Network = NetworkDefault
	}
	// The first failure stops the other stages too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bd := &builder{ctx: ctx, b: b, df: df, bctx: bctx, opts: opts, usedArgs: map[string]bool{}}
	if err := bd.globalArgs(); err != nil {
		return "", err
	}
	target := len(df.Stages) - 1
	if opts.Target != "" {
		i, ok := bd.stageIndex(opts.Target)
		if !ok {
			return "", errdefs.Invalidf("target stage %q could not be found", opts.Target)
		}
		target = i
	}
	needed, err := bd.needed(target)
	if err != nil {
		return "", err
	}
	bd.stages = make([]*stageRun, len(df.Stages))
	for i := range bd.stages {
		bd.stages[i] = &stageRun{done: make(chan struct{})}
	}
	// Independent stages run at once; a stage waits for those it reads
	// from (waitStage).
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	for i := range df.Stages {
		if !needed[i] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bd.stages[i]
			r.st, r.err = bd.runStage(i)
			if r.err != nil {
				once.Do(func() { first = r.err; cancel() })
			}
			close(r.done)
		}()
	}
	wg.Wait()
	if first != nil {
		return "", first
	}
	bd.warnUnusedArgs()
	id, err := bd.finish(bd.stages[target].st)
	if err != nil {
		return "", err
	}
	bd.touchCache()
	return id, nil
}

// globalArgs evaluates the ARGs before the first FROM, with the
// platform args Docker predefines.
func (bd *builder) globalArgs() error {
	p := bd.opts.Platform
	plat := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		plat += "/" + p.Variant
	}
	for _, x := range [][2]string{{"BUILDPLATFORM", plat}, {"BUILDOS", p.OS}, {"BUILDARCH", p.Architecture},
		{"BUILDVARIANT", p.Variant}, {"TARGETPLATFORM", plat}, {"TARGETOS", p.OS},
		{"TARGETARCH", p.Architecture}, {"TARGETVARIANT", p.Variant}} {
		bd.global = append(bd.global, kv{x[0], x[1]})
	}
	lex := shell.NewLex(bd.df.Escape)
	for _, a := range bd.df.MetaArgs {
		for _, kp := range a.Args {
			v, ok := bd.opts.BuildArgs[kp.Key]
			if ok {
				bd.markArg(kp.Key)
			} else if kp.Value != nil {
				w, _, err := lex.ProcessWord(*kp.Value, envGetter{args: bd.global})
				if err != nil {
					return errdefs.Invalidf("%s:%d: ARG: %v", bd.df.Name, line(a.Location()), err)
				}
				v, ok = w, true
			}
			if ok {
				bd.global = append(bd.global, kv{kp.Key, v})
			}
		}
	}
	return nil
}

func (bd *builder) markArg(k string) {
	bd.mu.Lock()
	bd.usedArgs[k] = true
	bd.mu.Unlock()
}

func (bd *builder) warnUnusedArgs() {
	var unused []string
	for k := range bd.opts.BuildArgs {
		if !bd.usedArgs[k] && !slices.Contains(proxyArgs, k) {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		bd.opts.Progress.Warn(fmt.Sprintf("One or more build-args %v were not consumed", unused))
	}
}

// stageIndex finds a stage by name (case-insensitive, as Docker) or by
// number.
func (bd *builder) stageIndex(name string) (int, bool) {
	for i, s := range bd.df.Stages {
		if s.Name != "" && strings.EqualFold(s.Name, name) {
			return i, true
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < len(bd.df.Stages) {
		return n, true
	}
	return 0, false
}

// expandGlobal expands a FROM or --from word with the global ARGs.
func (bd *builder) expandGlobal(word string) (string, error) {
	lex := shell.NewLex(bd.df.Escape)
	w, _, err := lex.ProcessWord(word, envGetter{args: bd.global})
	return w, err
}

// deps are the stages stage i reads from: its FROM, COPY --from and RUN
// --mount from=.
func (bd *builder) deps(i int) ([]int, error) {
	s := bd.df.Stages[i]
	var out []int
	add := func(name string, onlyNamed bool) error {
		name, err := bd.expandGlobal(name)
		if err != nil {
			return err
		}
		j, ok := bd.stageIndex(name)
		if !ok || (onlyNamed && !strings.EqualFold(bd.df.Stages[j].Name, name)) {
			return nil
		}
		if j >= i {
			return errdefs.Invalidf("%s:%d: stage %q refers to %q, which is not an earlier stage", bd.df.Name, line(s.Location), s.Name, name)
		}
		out = append(out, j)
		return nil
	}
	if err := add(s.BaseName, true); err != nil {
		return nil, err
	}
	for _, c := range s.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From != "" {
				if err := add(c.From, false); err != nil {
					return nil, err
				}
			}
		case *instructions.RunCommand:
			for _, m := range mountFroms(c) {
				if err := add(m, false); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// needed marks the target and every stage it depends on.
func (bd *builder) needed(target int) (map[int]bool, error) {
	out := map[int]bool{}
	var visit func(int) error
	visit = func(i int) error {
		if out[i] {
			return nil
		}
		out[i] = true
		ds, err := bd.deps(i)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := visit(d); err != nil {
				return err
			}
		}
		return nil
	}
	return out, visit(target)
}

// waitStage waits for stage i to be built and returns its state.
func (bd *builder) waitStage(i int) (*state, error) {
	r := bd.stages[i]
	select {
	case <-r.done:
	case <-bd.ctx.Done():
		return nil, bd.ctx.Err()
	}
	if r.err != nil {
		return nil, fmt.Errorf("stage %s failed", stageLabel(bd.df.Stages[i], i))
	}
	return r.st, nil
}

func stageLabel(s instructions.Stage, i int) string {
	if s.Name != "" {
		return s.Name
	}
	return "stage-" + strconv.Itoa(i)
}

// lookupCache finds a recorded step.
func (bd *builder) lookupCache(key string) (*metadata.BuildStep, bool) {
	if bd.opts.NoCache {
		return nil, false
	}
	var rec *metadata.BuildStep
	var ok bool
	err := bd.b.DB().View(func(tx *metadata.Tx) error {
		var err error
		rec, ok, err = tx.BuildStep(key)
		return err
	})
	if err != nil || !ok {
		return nil, false
	}
	bd.mu.Lock()
	bd.usedKeys = append(bd.usedKeys, key)
	bd.mu.Unlock()
	return rec, true
}

// touchCache marks the records a build used, in one transaction, so
// that pruning by age keeps them.
func (bd *builder) touchCache() {
	if len(bd.usedKeys) == 0 {
		return
	}
	now := time.Now().UTC()
	bd.b.DB().Update(func(tx *metadata.Tx) error {
		for _, k := range bd.usedKeys {
			if rec, ok, err := tx.BuildStep(k); err == nil && ok {
				rec.Used = now
				tx.PutBuildStep(rec)
			}
		}
		return nil
	})
}

func (bd *builder) record(rec *metadata.BuildStep) error {
	now := time.Now().UTC()
	rec.Created, rec.Used = now, now
	return bd.b.DB().Update(func(tx *metadata.Tx) error { return tx.PutBuildStep(rec) })
}

// finish writes the target stage's config and stores the image.
func (bd *builder) finish(st *state) (digest.Digest, error) {
	cfg := st.cfg.clone()
	if len(bd.opts.Labels) > 0 && cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	for k, v := range bd.opts.Labels {
		cfg.Config.Labels[k] = v
	}
	epoch := bd.opts.Epoch.UTC()
	cfg.Created = &epoch
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []digest.Digest{}
	blobs := []digest.Digest{}
	for _, l := range st.layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		blobs = append(blobs, l.Blob)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return bd.b.Store(bd.ctx, raw, blobs, bd.opts.Names)
}

// stepKey is the cache key of a step: its parent's key and what the
// step is.
func stepKey(parent string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(parent))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
