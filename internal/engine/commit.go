package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"

	"berth/internal/archive"
	"berth/internal/image"
	"berth/internal/metadata"
)

// CommitOptions are commit's flags.
type CommitOptions struct {
	Author  string
	Message string
	// Changes are Dockerfile instructions applied to the new image's
	// config (-c).
	Changes []string
	// Pause freezes a running container while its changes are read,
	// so that they are taken at one instant.
	Pause bool
	// Names are full references for the new image.
	Names []string
}

// Commit makes a new image of container c: its image, plus one layer of
// the container's changes (its writable layer, whiteouts as OCI
// whiteouts, without the runtime's mount points), with the container's
// run configuration and opts.Changes applied.
func (e *Engine) Commit(ctx context.Context, c *metadata.Container, opts CommitOptions) (*metadata.Image, error) {
	base, err := e.Images.Lookup(c.Image.String())
	if err != nil {
		return nil, fmt.Errorf("commit %s: its image: %w", c.Name, err)
	}
	cfg, err := e.commitConfig(c, base)
	if err != nil {
		return nil, err
	}
	if err := image.ApplyChanges(&cfg, opts.Changes); err != nil {
		return nil, err
	}
	own, err := configOf(c)
	if err != nil {
		return nil, err
	}

	// A running container is frozen while its changes are read, and
	// thawed as soon as they are, not once they are stored.
	read := func() {}
	if opts.Pause && e.status(c) == StatusRunning {
		if err := e.Runtime.Pause(c.ID); err != nil {
			return nil, fmt.Errorf("commit %s: pause: %w", c.Name, err)
		}
		read = func() { e.Runtime.Resume(c.ID) }
	}
	return e.commitLayer(ctx, c, base, cfg, own, opts, read)
}

// commitLayer streams c's changes into a new image of base; read is
// called once they have all been read.
func (e *Engine) commitLayer(ctx context.Context, c *metadata.Container, base *metadata.Image, cfg image.ContainerConfig,
	own *Config, opts CommitOptions, read func()) (*metadata.Image, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := e.layerTar(ctx, c, pw)
		read()
		pw.CloseWithError(err)
		done <- err
	}()
	img, err := e.Images.Commit(ctx, base, pr, image.CommitOptions{
		Config: cfg, Author: opts.Author, Comment: opts.Message,
		CreatedBy: strings.Join(own.Cmd, " "), Names: opts.Names,
	})
	// Should the store stop early, the writer must not wait for it.
	pr.CloseWithError(errCommitStopped)
	if terr := <-done; terr != nil && !errors.Is(terr, errCommitStopped) {
		return nil, fmt.Errorf("commit %s: %w", c.Name, terr)
	}
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Name, err)
	}
	return img, nil
}

var errCommitStopped = errors.New("the image store stopped reading the layer")

// layerTar writes c's writable layer to w as a layer tar, leaving out
// the entries that diff leaves out as the runtime's.
func (e *Engine) layerTar(ctx context.Context, c *metadata.Container, w io.Writer) error {
	_, hidden, err := e.diff(c)
	if err != nil {
		return err
	}
	upper := filepath.Join(e.dir(c.ID), "upper")
	if len(hidden) == 0 {
		return archive.Tar(ctx, w, upper)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Tar(ctx, pw, upper)) }()
	defer pr.Close()
	tw := tar.NewWriter(w)
	err = retar(tw, pr, func(hdr *tar.Header) (bool, error) {
		return !hidden["/"+strings.TrimSuffix(hdr.Name, "/")], nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// commitConfig is the run configuration a commit of c records: its
// image's, with what the container was run with instead.
func (e *Engine) commitConfig(c *metadata.Container, base *metadata.Image) (image.ContainerConfig, error) {
	own, err := configOf(c)
	if err != nil {
		return image.ContainerConfig{}, err
	}
	ic, err := e.Images.DockerConfig(base)
	if err != nil {
		return image.ContainerConfig{}, err
	}
	cfg := ic.Config
	cfg.Cmd = own.Cmd
	cfg.Entrypoint = own.Entrypoint
	cfg.Env = own.Env
	cfg.WorkingDir = own.WorkingDir
	cfg.User = own.User
	cfg.StopSignal = own.StopSignal
	cfg.Labels = maps.Clone(own.Labels)
	return cfg, nil
}
