package image

import (
	"bufio"
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
	blob, diffID, split, err := s.importSplit(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if blob == "" {
		if blob, diffID, err = s.importBlob(ctx, r); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
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
	f, err := s.synthesize(raw, []digest.Digest{blob}, split)
	if err != nil {
		return nil, err
	}
	return s.Ingest(ctx, &localSource{s: s, f: f}, IngestOptions{Names: opts.Names})
}

// importSplit unpacks and commits the layer, when it is an uncompressed
// tar in a file, kept as a split record rather than as a blob. It
// returns no blob, having read nothing of r, when the layer is to be
// stored the usual way; r has then been put back where it was.
func (s *Store) importSplit(ctx context.Context, r io.Reader) (blob, diffID digest.Digest, split map[digest.Digest]int64, err error) {
	_, off, ok := rereadable(r)
	if !ok {
		return "", "", nil, nil
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	back := func() error {
		_, err := r.(io.Seeker).Seek(off, io.SeekStart)
		return err
	}
	if !isPlainTar(head) {
		return "", "", nil, back()
	}
	pre, err := s.unpackSplit(ctx, br)
	if err != nil {
		if ctx.Err() != nil {
			return "", "", nil, ctx.Err()
		}
		// Stored and unpacked the usual way, which says what is
		// wrong with it, if anything.
		return "", "", nil, back()
	}
	defer s.Snaps.Discard(pre.tmp)
	boot, err := s.unsynced()
	if err != nil {
		return "", "", nil, err
	}
	p := snapshot.Pending{Tmp: pre.tmp, Chain: pre.diffID, DiffID: pre.diffID, Size: pre.size, Unsynced: boot}
	if _, err := s.Snaps.CommitAll([]snapshot.Pending{p}); err != nil {
		return "", "", nil, err
	}
	return pre.diffID, pre.diffID, map[digest.Digest]int64{pre.diffID: pre.blobSize}, nil
}

// importBlob stores the layer r as a blob and unpacks it in the same
// pass, and commits it.
func (s *Store) importBlob(ctx context.Context, r io.Reader) (blob, diffID digest.Digest, err error) {
	w, err := s.Content.Writer("", -1)
	if err != nil {
		return "", "", err
	}
	defer w.Close()
	tmp, diffID, size, err := s.apply(ctx, io.TeeReader(r, w))
	if err != nil {
		return "", "", err
	}
	defer s.Snaps.Discard(tmp)
	if blob, err = w.Commit(); err != nil {
		return "", "", err
	}
	if _, err := s.Snaps.Commit(tmp, diffID, "", diffID, size); err != nil {
		return "", "", err
	}
	return blob, diffID, nil
}
