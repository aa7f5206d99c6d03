package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"berth/internal/archive"
	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/snapshot"
)

// IngestOptions say what to record for an image brought in.
type IngestOptions struct {
	// Names are full references ("docker.io/library/busybox:latest") to
	// point at the image.
	Names []string
	// RepoDigest, when set, is recorded as "repository@digest".
	RepoDigest string
	Progress   Progress
}

// Ingest brings the image from src into the store: its small blobs,
// every layer's blob and unpacked snapshot, and finally, in one
// transaction, its record and names. Layers are fetched and unpacked
// several at a time, each in one pass: the blob streams into the content
// store and, at the same time, through decompression into its snapshot.
func (s *Store) Ingest(ctx context.Context, src Source, opts IngestOptions) (*metadata.Image, error) {
	release, err := s.writing()
	if err != nil {
		return nil, err
	}
	defer release()
	if opts.Progress == nil {
		opts.Progress = noProgress{}
	}
	f, err := src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(f.Raw[f.Config.Digest], f.Config.Digest)
	if err != nil {
		return nil, err
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(f.Layers) {
		return nil, errdefs.Invalidf("image %s: the manifest lists %d layers, its config %d", f.Config.Digest, len(f.Layers), len(diffIDs))
	}
	chain := snapshot.Chain(diffIDs)

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(s.Parallel, 1))
	progs := make([]LayerProgress, len(f.Layers))
	for i, l := range f.Layers {
		progs[i] = opts.Progress.Layer(l)
		progs[i].Status("Waiting")
	}
	// Layers unpacked ahead (by a load) are committed as this chain,
	// once, all in one transaction: another image with the same blob on
	// another chain unpacks its own copy.
	var pending []snapshot.Pending
	var ahead []int
	// What split layers are committed as (see unsynced), once read.
	var boot string
	bootRead := false
	for i, l := range f.Layers {
		var parent digest.Digest
		if i > 0 {
			parent = chain[i-1]
		}
		pre, ok := f.Unpacked[l.Digest]
		if ok && pre.diffID == diffIDs[i] && (pre.split || s.Content.Has(l.Digest)) {
			delete(f.Unpacked, l.Digest)
			p := snapshot.Pending{Tmp: pre.tmp, Chain: chain[i], Parent: parent, DiffID: pre.diffID, Size: pre.size}
			if pre.split {
				if !bootRead {
					if boot, err = s.unsynced(); err != nil {
						g.Wait()
						return nil, err
					}
					bootRead = true
				}
				p.Unsynced = boot
			}
			pending = append(pending, p)
			ahead = append(ahead, i)
			continue
		}
		if ok && pre.split {
			// Its blob is nowhere else to be unpacked from again.
			return nil, errdefs.Invalidf("layer %s: its content does not match the image config: diff ID expected %s, got %s", l.Digest, diffIDs[i], pre.diffID)
		}
		g.Go(func() error {
			err := s.layer(gctx, src, l, diffIDs[i], chain[i], parent, progs[i])
			progs[i].Done(err)
			return err
		})
	}
	if len(pending) > 0 {
		_, err := s.Snaps.CommitAll(pending)
		for _, i := range ahead {
			if err == nil {
				progs[i].Status("Already exists")
			}
			progs[i].Done(err)
		}
		if err != nil {
			g.Wait()
			return nil, err
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// The small blobs go in last: once the manifest is stored, so is
	// everything it names.
	for _, d := range []digest.Digest{f.Config.Digest, f.Manifest.Digest, f.Target.Digest} {
		if _, err := s.Content.Put(f.Raw[d], d); err != nil {
			return nil, fmt.Errorf("store %s: %w", d, err)
		}
	}
	img := &metadata.Image{
		ID:       f.Config.Digest,
		Target:   f.Target,
		Manifest: f.Manifest,
		Chain:    chain,
		Stored:   time.Now().UTC(),
	}
	err = s.DB.Update(func(tx *metadata.Tx) error {
		if old, err := tx.Image(img.ID); err == nil {
			img.RepoDigests = old.RepoDigests
			img.Stored = old.Stored
		}
		img.RepoDigests = addUnique(img.RepoDigests, opts.RepoDigest)
		if err := tx.PutImage(img); err != nil {
			return err
		}
		for _, n := range opts.Names {
			if err := tx.SetName(n, img.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

func addUnique(list []string, s string) []string {
	if s == "" {
		return list
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// maxConfig bounds an image config, as registries bound manifests.
const maxConfig = 8 << 20

func parseConfig(raw []byte, d digest.Digest) (*ocispec.Image, error) {
	if raw == nil {
		return nil, errdefs.Invalidf("image config %s is missing", d)
	}
	if len(raw) > maxConfig {
		return nil, errdefs.Invalidf("image config %s is larger than %d bytes", d, maxConfig)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, errdefs.Invalidf("image config %s is not valid JSON: %v", d, err)
	}
	if cfg.RootFS.Type != "layers" && cfg.RootFS.Type != "" {
		return nil, errdefs.Invalidf("image config %s: rootfs type %q, want \"layers\"", d, cfg.RootFS.Type)
	}
	for _, id := range cfg.RootFS.DiffIDs {
		if err := id.Validate(); err != nil {
			return nil, errdefs.Invalidf("image config %s: diff ID %q: %v", d, id, err)
		}
	}
	return &cfg, nil
}

// layer makes sure both the blob and the snapshot of one layer are
// stored, fetching only what is missing.
func (s *Store) layer(ctx context.Context, src Source, l ocispec.Descriptor, diffID, chain, parent digest.Digest, p LayerProgress) error {
	if err := checkLayerType(l); err != nil {
		return err
	}
	_, snapErr := s.Snaps.Get(chain)
	haveSnap := snapErr == nil
	haveBlob := s.hasBlob(l.Digest)
	switch {
	case haveSnap && haveBlob:
		p.Status("Already exists")
		return nil
	case haveBlob:
		f, err := s.openBlob(ctx, l.Digest, l.Size)
		if err != nil {
			return err
		}
		defer f.Close()
		p.Status("Extracting")
		return s.unpack(ctx, f, l, diffID, chain, parent)
	}
	rc, err := src.Blob(ctx, l)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer rc.Close()
	w, err := s.Content.Writer(l.Digest, l.Size)
	if err != nil {
		return err
	}
	defer w.Close()
	p.Status("Downloading")
	r := io.TeeReader(&countingReader{r: rc, p: p}, w)
	if haveSnap {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	} else if err := s.unpack(ctx, r, l, diffID, chain, parent); err != nil {
		return err
	}
	if _, err := w.Commit(); err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	p.Status("Pull complete")
	return nil
}

// checkLayerType refuses layers berth cannot unpack, before any byte
// is fetched.
func checkLayerType(l ocispec.Descriptor) error {
	switch l.MediaType {
	case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
		// Non-distributable layers are deprecated, but images have them.
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.diff.tar", "":
		return nil
	}
	return errdefs.Unsupportedf("layer %s has media type %q, which is not a layer type berth knows", l.Digest, l.MediaType)
}

// unpack applies the (compressed) layer stream r into a new snapshot and
// commits it when its content matches diffID.
func (s *Store) unpack(ctx context.Context, r io.Reader, l ocispec.Descriptor, diffID, chain, parent digest.Digest) error {
	tmp, got, size, err := s.apply(ctx, r)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer s.Snaps.Discard(tmp)
	if got != diffID {
		return errdefs.Invalidf("layer %s: its content does not match the image config: diff ID expected %s, got %s", l.Digest, diffID, got)
	}
	_, err = s.Snaps.Commit(tmp, chain, parent, diffID, size)
	return err
}

// apply unpacks the (compressed) layer stream r into a new temporary
// snapshot directory, made durable, and returns it with the layer's diff
// ID and size. It reads r to its end, so that a caller hashing r sees
// every byte. The caller commits or discards the directory.
func (s *Store) apply(ctx context.Context, r io.Reader) (tmp string, diffID digest.Digest, size int64, err error) {
	tmp, err = s.Snaps.Temp()
	if err != nil {
		return "", "", 0, err
	}
	defer func() {
		if err != nil {
			s.Snaps.Discard(tmp)
		}
	}()
	dec, _, err := archive.Decompress(r)
	if err != nil {
		return "", "", 0, err
	}
	defer dec.Close()
	d := digest.SHA256.Digester()
	tr := io.TeeReader(dec, d.Hash())
	res, err := archive.Apply(ctx, filepath.Join(tmp, "fs"), tr, s.Limits)
	if err != nil {
		return "", "", 0, err
	}
	// What follows the tar's end still counts towards its diff ID, and a
	// bomb may hide there: drain it within the same bound.
	limit := s.Limits.MaxBytes
	if limit <= 0 {
		limit = archive.DefaultMaxBytes
	}
	if n, err := io.CopyN(io.Discard, tr, limit); err == nil {
		return "", "", 0, errdefs.Invalidf("more than %d bytes after the end of the layer's tar", n)
	} else if err != io.EOF {
		return "", "", 0, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return "", "", 0, err
	}
	if err := archive.Syncfs(tmp); err != nil {
		return "", "", 0, err
	}
	return tmp, d.Digest(), res.Bytes, nil
}
