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
	"berth/internal/snapshot"
)

// CommitOptions describe the image that Commit makes.
type CommitOptions struct {
	// Config is the new image's run configuration, complete: the
	// container's settings with any --change applied.
	Config ContainerConfig
	// Author and Comment go into the history entry (and Author into the
	// config), as `commit -a` and `-m` set them.
	Author  string
	Comment string
	// CreatedBy is the history entry's command: the container's command.
	CreatedBy string
	// Names are full references for the new image.
	Names []string
}

// emptyLayer is the diff ID of a layer with nothing in it: a tar of its
// end-of-archive marker alone. A commit that changed nothing adds no
// layer, only a history entry, as Docker's does.
var emptyLayer = digest.FromBytes(make([]byte, 1024))

// Commit makes a new image of base with one more layer on top: layer, an
// uncompressed layer tar stream (a container's changes), which is stored
// as the layer's blob and unpacked in the same pass. The config is
// base's with opts' run configuration, the new diff ID and a history
// entry; the image is then brought in as any other, by Ingest.
func (s *Store) Commit(ctx context.Context, base *metadata.Image, layer io.Reader, opts CommitOptions) (*metadata.Image, error) {
	release, err := s.writing()
	if err != nil {
		return nil, err
	}
	img, err := s.commit(ctx, base, layer, opts)
	release()
	if err != nil {
		s.Collect(false)
		return nil, err
	}
	return img, nil
}

func (s *Store) commit(ctx context.Context, base *metadata.Image, layer io.Reader, opts CommitOptions) (*metadata.Image, error) {
	raw, err := s.RawConfig(base)
	if err != nil {
		return nil, err
	}
	// The config is read as import writes one, so that what berth knows
	// of an image config is kept and written back alike.
	var cfg struct {
		dockerConfig
		History []ocispec.History `json:"history,omitempty"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("commit: the config of image %s: %w", ShortID(base.ID), err)
	}
	m, _, err := s.Manifest(base)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != len(base.Chain) || len(cfg.RootFS.DiffIDs) != len(base.Chain) {
		return nil, fmt.Errorf("commit: image %s has %d layers, its manifest %d and its config %d",
			ShortID(base.ID), len(base.Chain), len(m.Layers), len(cfg.RootFS.DiffIDs))
	}

	w, err := s.Content.Writer("", -1)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	tmp, diffID, size, err := s.apply(ctx, io.TeeReader(layer, w))
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	defer s.Snaps.Discard(tmp)

	layers := make([]digest.Digest, 0, len(m.Layers)+1)
	for _, l := range m.Layers {
		layers = append(layers, l.Digest)
	}
	empty := diffID == emptyLayer
	if !empty {
		blob, err := w.Commit()
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		diffIDs := make([]digest.Digest, 0, len(cfg.RootFS.DiffIDs)+1)
		for _, d := range cfg.RootFS.DiffIDs {
			diffIDs = append(diffIDs, digest.Digest(d))
		}
		chain := snapshot.Chain(append(diffIDs, diffID))
		var parent digest.Digest
		if len(base.Chain) > 0 {
			parent = base.Chain[len(base.Chain)-1]
		}
		if _, err := s.Snaps.Commit(tmp, chain[len(chain)-1], parent, diffID, size); err != nil {
			return nil, err
		}
		layers = append(layers, blob)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID.String())
	}

	now := time.Now().UTC()
	if len(cfg.History) == 0 {
		// Without history, `history` shows one line per layer; keep it
		// so for the base's layers, under the new entry.
		cfg.History = make([]ocispec.History, len(base.Chain))
	}
	cfg.History = append(cfg.History, ocispec.History{Created: &now, Author: opts.Author,
		CreatedBy: opts.CreatedBy, Comment: opts.Comment, EmptyLayer: empty})
	cfg.Created, cfg.Author, cfg.Comment, cfg.Config = now, opts.Author, "", opts.Config
	cfg.RootFS.Type = "layers"
	out, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	f, err := s.synthesize(out, layers, nil)
	if err != nil {
		return nil, err
	}
	return s.Ingest(ctx, &localSource{s: s, f: f}, IngestOptions{Names: opts.Names})
}
