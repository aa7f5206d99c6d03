package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
)

// mountFroms are the stages or images RUN --mount from= reads.
func mountFroms(c *instructions.RunCommand) []string {
	var out []string
	for _, m := range instructions.GetMounts(c) {
		if m.From != "" {
			out = append(out, m.From)
		}
	}
	return out
}

// run runs a RUN step in a container on the stage's layers.
func (r *stageRunner) run(c *instructions.RunCommand, step Step) error {
	args := slices.Clone(c.CmdLine)
	if len(c.Files) > 0 {
		args = heredocArgs(c)
	}
	if c.PrependShell {
		args = append(r.shell(), strings.Join(args, " "))
	}
	cfg := r.st.cfg.Config
	env := slices.Clone(cfg.Env)
	var argEnv []string
	for _, a := range r.st.args {
		if _, ok := lookupEnv(cfg.Env, a.k); !ok {
			env = setEnv(env, a.k, a.v)
			argEnv = append(argEnv, a.k+"="+a.v)
		}
	}
	for _, k := range proxyArgs {
		if v, ok := r.bd.opts.BuildArgs[k]; ok {
			if _, set := lookupEnv(env, k); !set {
				env = append(env, k+"="+v)
			}
		}
	}
	network := Network(instructions.GetNetwork(c))
	switch network {
	case "", "default":
		network = r.bd.opts.Network
	case NetworkHost, NetworkNone:
	default:
		return errdefs.Invalidf("--network=%s: berth takes default, none or host", network)
	}
	mounts, keys, cleanup, err := r.mounts(c)
	defer cleanup()
	if err != nil {
		return err
	}
	createdBy := "RUN " + strings.Join(args, " ")
	if len(argEnv) > 0 {
		createdBy = "RUN |" + strconv.Itoa(len(argEnv)) + " " + strings.Join(argEnv, " ") + " " + strings.Join(args, " ")
	}
	key := stepKey(r.st.key, "RUN", jsonString(args), jsonString(argEnv), string(network), jsonString(keys))
	return r.fsStep(key, createdBy, step, func(l Layer) ([]string, error) {
		var hidden []string
		for _, m := range mounts {
			hidden = append(hidden, m.Destination)
		}
		code, err := r.bd.b.Run(r.bd.ctx, l, Process{
			Args: args, Env: env, Cwd: cfg.WorkingDir, User: cfg.User, Network: network,
			Mounts: mounts, Stdout: step.Output(),
		})
		if err != nil {
			return nil, err
		}
		if err := r.bd.ctx.Err(); err != nil {
			return nil, fmt.Errorf("the build was cancelled: %w", err)
		}
		if code != 0 {
			return nil, fmt.Errorf("process %q did not complete successfully: exit code: %d", strings.Join(args, " "), code)
		}
		return hidden, nil
	})
}

// heredocArgs is RUN's command with heredocs, as BuildKit runs it: a
// lone heredoc is the script, otherwise the shell reads the heredocs.
func heredocArgs(c *instructions.RunCommand) []string {
	if h := parser.MustParseHeredoc(c.CmdLine[0]); h != nil && len(c.CmdLine) == 1 {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		return []string{data}
	}
	var b strings.Builder
	b.WriteString(strings.Join(c.CmdLine, " "))
	for _, f := range c.Files {
		b.WriteByte('\n')
		b.WriteString(f.Data)
		b.WriteString(f.Name)
	}
	return []string{b.String()}
}

// mounts turns RUN --mount flags into the container's mounts, with what
// each adds to the step's cache key.
func (r *stageRunner) mounts(c *instructions.RunCommand) ([]specs.Mount, []string, func(), error) {
	var out []specs.Mount
	var keys []string
	var cleanups []func()
	cleanup := func() {
		for _, f := range cleanups {
			f()
		}
	}
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = path.Join("/", r.st.cfg.Config.WorkingDir, target)
		}
		switch m.Type {
		case instructions.MountTypeBind:
			src, key, done, err := r.bindSource(m)
			if done != nil {
				cleanups = append(cleanups, done)
			}
			if err != nil {
				return nil, nil, cleanup, err
			}
			opts := []string{"rbind", "nosuid", "nodev"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: src, Options: opts})
			keys = append(keys, "bind "+target+" "+key)
		case instructions.MountTypeCache:
			dir, err := r.cacheDir(m)
			if err != nil {
				return nil, nil, cleanup, err
			}
			opts := []string{"rbind", "nosuid", "nodev"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: dir, Options: opts})
			keys = append(keys, "cache "+target)
		case instructions.MountTypeTmpfs:
			opts := []string{"nosuid", "nodev", "mode=1777"}
			if m.SizeLimit > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
			}
			out = append(out, specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts})
			keys = append(keys, "tmpfs "+target)
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = path.Base(m.Target)
			}
			src, ok := r.bd.opts.Secrets[id]
			if !ok {
				if m.Required {
					return nil, nil, cleanup, errdefs.NotFoundf("secret %s not found: give it with --secret id=%s,src=FILE", id, id)
				}
				continue
			}
			if target == "" {
				target = "/run/secrets/" + id
			}
			out = append(out, specs.Mount{Destination: target, Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
			keys = append(keys, "secret "+id+" "+target)
		default:
			return nil, nil, cleanup, errdefs.Unsupportedf("--mount=type=%s is not supported", m.Type)
		}
	}
	return out, keys, cleanup, nil
}

// bindSource is the host directory a bind mount shows: a path of the
// context or of another stage or image.
func (r *stageRunner) bindSource(m *instructions.Mount) (string, string, func(), error) {
	if m.From == "" {
		if r.bd.bctx == nil {
			return "", "", nil, errdefs.Invalidf("--mount=type=bind: the build has no context")
		}
		root, err := openRoot(r.bd.bctx.Dir)
		if err != nil {
			return "", "", nil, err
		}
		defer root.Close()
		srcs, err := resolveSources(root, []string{m.Source}, r.bd.bctx.skip)
		if err != nil {
			return "", "", nil, err
		}
		h := sha256.New()
		if err := hashSources(h, root, srcs, r.bd.bctx.skip, false); err != nil {
			return "", "", nil, err
		}
		key := hex.EncodeToString(h.Sum(nil))
		if m.ReadOnly {
			src, err := inside(r.bd.bctx.Dir, srcs[0].rel)
			return src, key, nil, err
		}
		// What a step writes to a writable bind is thrown away, as in
		// Docker: it gets a copy, never the context itself.
		tmp, err := os.MkdirTemp("", "berth-build-bind-")
		if err != nil {
			return "", "", nil, err
		}
		done := func() { os.RemoveAll(tmp) }
		dst, err := openRoot(tmp)
		if err != nil {
			return "", "", done, err
		}
		defer dst.Close()
		o := &copyOpts{uid: 0, gid: 0, skip: r.bd.bctx.skip}
		if err := copySource(r, root, srcs[0], dst, "/src", false, false, o); err != nil {
			return "", "", done, err
		}
		return filepath.Join(tmp, "src"), key, done, nil
	}
	l, key, err := r.sourceLayer(m.From)
	if err != nil {
		return "", "", nil, err
	}
	done := func() { r.bd.b.Discard(l) }
	src, err := inside(l.Root(), m.Source)
	return src, key + " " + m.Source, done, err
}

// inside resolves p inside root to a host path whose every symlink has
// been followed within root, for a bind mount's source.
func inside(root, p string) (string, error) {
	r, err := openRoot(root)
	if err != nil {
		return "", err
	}
	defer r.Close()
	fd, err := r.open(p, unix.O_PATH)
	if err != nil {
		return "", errdefs.NotFoundf("%s: not found", p)
	}
	defer closeFD(fd)
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	rootReal, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(r.fd))
	if err != nil {
		return "", err
	}
	if real != rootReal && !strings.HasPrefix(real, rootReal+"/") {
		return "", errdefs.Invalidf("%s: outside its root", p)
	}
	return real, nil
}

// cacheDir is a RUN --mount=type=cache directory, kept between builds
// by its id (the target when no id is given).
func (r *stageRunner) cacheDir(m *instructions.Mount) (string, error) {
	id := m.CacheID
	if id == "" {
		id = m.Target
	}
	sum := sha256.Sum256([]byte(id))
	dir := filepath.Join(r.bd.b.CacheDir(), hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "tmp-")
	if err != nil {
		return "", err
	}
	mode := uint32(0o755)
	if m.Mode != nil {
		mode = uint32(*m.Mode)
	}
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if err := lchown(os.Chown(tmp, uid, gid)); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, os.FileMode(mode)); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Remove(tmp)
		if _, serr := os.Stat(dir); serr != nil {
			return "", err
		}
	}
	return dir, nil
}

func closeFD(fd int) { unix.Close(fd) }
