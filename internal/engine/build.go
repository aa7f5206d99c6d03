package engine

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/build"
	"berth/internal/container"
	"berth/internal/metadata"
	"berth/internal/network"
	"berth/internal/spec"
)

// BuildBackend gives a build what it needs of the engine (build.Backend).
// It holds the image store's garbage lock shared until release, so that
// no collection frees the layers the build stacks.
func (e *Engine) BuildBackend() (b build.Backend, release func(), err error) {
	release, err = e.Images.Writing()
	if err != nil {
		return nil, nil, err
	}
	return &buildBackend{e: e}, release, nil
}

type buildBackend struct{ e *Engine }

// buildLayer is a writable layer of a build: a temporary snapshot
// directory whose fs/ is the overlay's upper directory, so that the
// directory becomes the new snapshot as it is once the step is done.
type buildLayer struct {
	dir     string
	lower   []string
	mounted bool
}

func (l *buildLayer) Root() string  { return filepath.Join(l.dir, "rootfs") }
func (l *buildLayer) upper() string { return filepath.Join(l.dir, "fs") }

func (b *buildBackend) DB() *metadata.DB { return b.e.DB }
func (b *buildBackend) CacheDir() string { return filepath.Join(b.e.root, "buildcache") }

func (b *buildBackend) Image(ref string) (*build.BaseImage, error) {
	img, err := b.e.Images.Lookup(ref)
	if err != nil {
		return nil, err
	}
	raw, err := b.e.Images.RawConfig(img)
	if err != nil {
		return nil, err
	}
	m, _, err := b.e.Images.Manifest(img)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("the config of image %s: %w", ref, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) || len(img.Chain) != len(m.Layers) {
		return nil, fmt.Errorf("image %s: its manifest, config and layers disagree on the number of layers", ref)
	}
	base := &build.BaseImage{ID: img.ID, Config: raw, Chain: img.Chain}
	for i, l := range m.Layers {
		base.Layers = append(base.Layers, metadata.BuildLayer{Blob: l.Digest, DiffID: cfg.RootFS.DiffIDs[i]})
	}
	return base, nil
}

func (b *buildBackend) Prepare(chain []digest.Digest) (build.Layer, error) {
	lower, err := b.e.Images.Snaps.LowerDirs(chain)
	if err != nil {
		return nil, fmt.Errorf("the build's layers: %w", err)
	}
	tmp, err := b.e.Images.Snaps.Temp()
	if err != nil {
		return nil, err
	}
	l := &buildLayer{dir: tmp, lower: lower}
	for _, d := range []string{"work", "rootfs", "empty"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			b.e.Images.Snaps.Discard(tmp)
			return nil, err
		}
	}
	if len(lower) == 0 {
		lower = []string{filepath.Join(tmp, "empty")}
	}
	// The build syncs the layer once, when it commits it: the mount
	// itself need not sync on unmount.
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + l.upper() +
		",workdir=" + filepath.Join(tmp, "work") + ",index=off"
	if len(opts)+len(",volatile") >= unix.Getpagesize() {
		b.e.Images.Snaps.Discard(tmp)
		return nil, fmt.Errorf("%d layers are more than one overlay mount takes", len(lower))
	}
	if err := unix.Mount("overlay", l.Root(), "overlay", 0, opts+",volatile"); err != nil {
		if err = unix.Mount("overlay", l.Root(), "overlay", 0, opts); err != nil {
			b.e.Images.Snaps.Discard(tmp)
			return nil, fmt.Errorf("mount the build's root filesystem: %w", err)
		}
	}
	l.mounted = true
	return l, nil
}

func (b *buildBackend) unmount(l *buildLayer) error {
	if !l.mounted {
		return nil
	}
	if err := unix.Unmount(l.Root(), 0); err != nil {
		if err := unix.Unmount(l.Root(), unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount the build's root filesystem: %w", err)
		}
	}
	l.mounted = false
	return nil
}

func (b *buildBackend) Discard(bl build.Layer) {
	l := bl.(*buildLayer)
	b.unmount(l)
	b.e.Images.Snaps.Discard(l.dir)
}

// stepNetwork puts the RUN step id on the default bridge network, as a
// container is put there, and returns its network namespace and what
// takes it down.
func (b *buildBackend) stepNetwork(id string) (string, func(), error) {
	nc, err := b.e.resolveNetwork(NetworkRequest{})
	if err != nil {
		return "", nil, err
	}
	c := &metadata.Container{ID: id}
	nsPath := b.e.netnsPath(id)
	if _, _, err := b.e.attachAll(c, &nc, nsPath); err != nil {
		return "", nil, fmt.Errorf("the step's network: %w", err)
	}
	return nsPath, func() { b.e.netDown(c) }, nil
}

// Run runs a RUN step's process as a container without a record: it
// lives as long as the step, in the build's own layer.
func (b *buildBackend) Run(ctx context.Context, bl build.Layer, p build.Process) (int, error) {
	l := bl.(*buildLayer)
	id, err := newID()
	if err != nil {
		return -1, err
	}
	id = "build-" + id[:20]
	user, err := resolveUser(l.Root(), p.User)
	if err != nil {
		return -1, err
	}
	files := map[string]string{
		"hostname": id[:12] + "\n",
		"hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	}
	// RUN's network: the default bridge network, as a container's, the
	// host's, or a namespace of its own with loopback alone.
	var netns string
	switch p.Network {
	case build.NetworkHost:
		resolv, err := os.ReadFile("/etc/resolv.conf")
		if err != nil {
			resolv = nil
		}
		files["resolv.conf"] = string(resolv)
	case build.NetworkNone:
		files["resolv.conf"] = ""
	default:
		ns, release, err := b.stepNetwork(id)
		if err != nil {
			return -1, err
		}
		defer release()
		netns = ns
		r := network.HostResolv()
		if files["resolv.conf"], err = resolvConf(r.Servers, r.Search, r.Options); err != nil {
			return -1, err
		}
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(l.dir, name), []byte(body), 0o644); err != nil {
			return -1, err
		}
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	opts := spec.Options{
		Args: p.Args, Env: spec.MergeEnv(p.Env, nil), Cwd: cwd, User: user, Hostname: id[:12], NetNS: netns,
		Mounts: append([]specs.Mount{
			bindFile(l.dir, "hostname", "/etc/hostname"),
			bindFile(l.dir, "hosts", "/etc/hosts"),
			bindFile(l.dir, "resolv.conf", "/etc/resolv.conf"),
		}, p.Mounts...),
	}
	s := spec.ForContainer(opts)
	if p.Network == build.NetworkHost {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.NetworkNamespace
		})
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return -1, err
	}
	if err := os.WriteFile(filepath.Join(l.dir, "config.json"), raw, 0o600); err != nil {
		return -1, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return -1, err
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	copied := make(chan struct{})
	go func() {
		io.Copy(p.Stdout, pr)
		pr.Close()
		close(copied)
	}()
	// A cancelled build kills the step's processes: its PID 1 (a shell,
	// often) may ignore the signal that cancelled it.
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			for {
				if b.e.Runtime.Kill(id, unix.SIGKILL, true) == nil {
					return
				}
				select {
				case <-stopped:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		case <-stopped:
		}
	}()
	code, err := b.e.Runtime.Run(id, container.CreateOptions{Bundle: l.dir, Stdin: devnull, Stdout: pw, Stderr: pw}, false, false)
	close(stopped)
	pw.Close()
	<-copied
	var ie *container.InitError
	if errors.As(err, &ie) && ie.ExitCode != 0 {
		return ie.ExitCode, nil
	}
	return code, err
}

// buildMounts are the mount points every RUN container gets; the
// runtime creates them in the layer when the image lacks them, and the
// layer leaves them out.
var buildMounts = []string{"/proc", "/sys", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}

func (b *buildBackend) Commit(ctx context.Context, bl build.Layer, parent digest.Digest, hidden []string, epoch int64) (metadata.BuildLayer, digest.Digest, int64, bool, error) {
	l := bl.(*buildLayer)
	fail := func(err error) (metadata.BuildLayer, digest.Digest, int64, bool, error) {
		b.Discard(l)
		return metadata.BuildLayer{}, "", 0, false, err
	}
	if err := b.unmount(l); err != nil {
		return fail(err)
	}
	for _, p := range append(slices.Clone(buildMounts), hidden...) {
		l.hideMountPoint(p)
	}
	// Only fs/ becomes the snapshot.
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fail(err)
	}
	for _, e := range entries {
		if e.Name() != "fs" {
			if err := os.RemoveAll(filepath.Join(l.dir, e.Name())); err != nil {
				return fail(err)
			}
		}
	}
	if names, err := os.ReadDir(l.upper()); err != nil {
		return fail(err)
	} else if len(names) == 0 {
		b.e.Images.Snaps.Discard(l.dir)
		return metadata.BuildLayer{}, "", 0, false, nil
	}
	if err := archive.Syncfs(l.dir); err != nil {
		return fail(err)
	}
	pr, pw := io.Pipe()
	var size int64
	go func() {
		inner, innerW := io.Pipe()
		go func() { innerW.CloseWithError(archive.Tar(ctx, innerW, l.upper())) }()
		n, err := retime(pw, inner, time.Unix(epoch, 0))
		inner.CloseWithError(errors.New("stopped"))
		size = n
		pw.CloseWithError(err)
	}()
	layer, chain, err := b.e.Images.CommitDir(l.dir, pr, parent)
	pr.CloseWithError(errors.New("stopped"))
	if err != nil {
		return fail(err)
	}
	return layer, chain, size, true, nil
}

// retime copies a layer tar from r to w with every entry's times set to
// t, so that a layer's digest depends on its content alone. It returns
// the bytes of file content.
func retime(w io.Writer, r io.Reader, t time.Time) (int64, error) {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	var n int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = t, time.Time{}, time.Time{}
		delete(hdr.PAXRecords, "atime")
		delete(hdr.PAXRecords, "ctime")
		delete(hdr.PAXRecords, "mtime")
		if err := tw.WriteHeader(hdr); err != nil {
			return n, err
		}
		c, err := io.Copy(tw, tr)
		n += c
		if err != nil {
			return n, err
		}
	}
	return n, tw.Close()
}

// hideMountPoint removes p from the upper directory when the runtime
// made it there as an empty mount point for a path the layers below
// lack, and then the directories above it that hold nothing else.
func (l *buildLayer) hideMountPoint(p string) {
	p = path.Clean("/" + p)
	for p != "/" {
		up := filepath.Join(l.upper(), p)
		var st unix.Stat_t
		if unix.Lstat(up, &st) != nil {
			return
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			if st.Size != 0 || l.inLower(p) {
				return
			}
		case unix.S_IFDIR:
			if names, err := os.ReadDir(up); err != nil || len(names) > 0 {
				return
			}
			if opaque, _ := unix.Lgetxattr(up, "trusted.overlay.opaque", make([]byte, 1)); opaque > 0 {
				return
			}
		default:
			return
		}
		if os.Remove(up) != nil {
			return
		}
		p = path.Dir(p)
	}
}

// inLower says whether a layer below has p.
func (l *buildLayer) inLower(p string) bool {
	for _, d := range l.lower {
		if f, err := openInRoot(d, p); err == nil {
			f.Close()
			return true
		}
	}
	return false
}

func (b *buildBackend) Store(ctx context.Context, config []byte, layers []digest.Digest, names []string) (digest.Digest, error) {
	img, err := b.e.Images.StoreBuilt(ctx, config, layers, names)
	if err != nil {
		return "", err
	}
	return img.ID, nil
}
