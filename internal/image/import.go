package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/metadata"
)

// ImportOptions describe an image made from a filesystem tarball.
type ImportOptions struct {
	// Names are full references for the new image.
	Names []string
	// Config is the run configuration (from --change).
	Config ContainerConfig
	// Comment is the history comment ("Imported from -" for stdin).
	Comment  string
	Platform *ocispec.Platform
}

// Import makes a one-layer image from a tarball of a root filesystem
// (plain, gzip or zstd), as docker import does. The tarball is stored
// as the layer's blob and unpacked in the same pass.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*metadata.Image, error) {
	release, err := s.writing()
	if err != nil {
		return nil, err
	}
	img, err := s.importLayer(ctx, r, opts)
	release()
	if err != nil {
		s.Collect(false)
		return nil, err
	}
	return img, nil
}

func (s *Store) importLayer(ctx context.Context, r io.Reader, opts ImportOptions) (*metadata.Image, error) {
	w, err := s.Content.Writer("", -1)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	tmp, diffID, size, err := s.apply(ctx, io.TeeReader(r, w))
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer s.Snaps.Discard(tmp)
	blob, err := w.Commit()
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if _, err := s.Snaps.Commit(tmp, diffID, "", diffID, size); err != nil {
		return nil, err
	}
	p := opts.Platform
	if p == nil {
		p = HostPlatform()
	}
	now := time.Now().UTC()
	cfg := dockerConfig{Created: now, Architecture: p.Architecture, Variant: p.Variant, OS: p.OS, Config: opts.Config}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{diffID.String()}
	raw, err := json.Marshal(struct {
		dockerConfig
		History []ocispec.History `json:"history"`
	}{cfg, []ocispec.History{{Created: &now, Comment: opts.Comment}}})
	if err != nil {
		return nil, err
	}
	f, err := s.synthesize(raw, []digest.Digest{blob})
	if err != nil {
		return nil, err
	}
	return s.Ingest(ctx, &localSource{s: s, f: f}, IngestOptions{Names: opts.Names})
}
