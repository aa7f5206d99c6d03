package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/errdefs"
	"berth/internal/metadata"
)

// SaveFormat is the layout of a saved archive.
type SaveFormat string

const (
	// DockerArchive is what `docker save` writes and `docker load`
	// reads: manifest.json over an OCI layout, as Docker 25 writes it,
	// which older Dockers load too.
	DockerArchive SaveFormat = "docker-archive"
	// OCIArchive is an OCI image layout only, with the names in
	// index.json annotations.
	OCIArchive SaveFormat = "oci-archive"
)

// SaveItem is one image to save, with the names to save it under.
type SaveItem struct {
	Image *metadata.Image
	Names []string // full references
}

// Save writes the images to w as one archive. Blobs are written as they
// are stored, compressed layers included, and a blob shared by several
// images is written once.
func (s *Store) Save(w io.Writer, items []SaveItem, format SaveFormat) error {
	if format != DockerArchive && format != OCIArchive {
		return errdefs.Invalidf("unknown archive format %q: use docker-archive or oci-archive", format)
	}
	ctx := context.Background()
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	var dm []dockerManifest
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	now := time.Unix(0, 0)
	for _, it := range items {
		m, _, err := s.Manifest(it.Image)
		if err != nil {
			return err
		}
		blobs := append([]ocispec.Descriptor{m.Config}, m.Layers...)
		blobs = append(blobs, it.Image.Manifest)
		for _, b := range blobs {
			if written[b.Digest] {
				continue
			}
			if err := s.writeBlob(ctx, tw, b, now); err != nil {
				return err
			}
			written[b.Digest] = true
		}
		entry := dockerManifest{Config: blobPath(m.Config.Digest), RepoTags: []string{}}
		for _, l := range m.Layers {
			entry.Layers = append(entry.Layers, blobPath(l.Digest))
		}
		for _, n := range it.Names {
			entry.RepoTags = append(entry.RepoTags, familiar(n))
		}
		dm = append(dm, entry)
		desc := it.Image.Manifest
		if len(it.Names) == 0 {
			idx.Manifests = append(idx.Manifests, desc)
		}
		for _, n := range it.Names {
			d := desc
			d.Annotations = map[string]string{"io.containerd.image.name": n, ocispec.AnnotationRefName: refTag(n)}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	if format == DockerArchive {
		if err := writeJSON(tw, "manifest.json", dm, now); err != nil {
			return err
		}
	}
	if err := writeJSON(tw, "index.json", idx, now); err != nil {
		return err
	}
	if err := writeJSON(tw, "oci-layout", ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}, now); err != nil {
		return err
	}
	return tw.Close()
}

func blobPath(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

// refTag is the tag of a full reference, which ref.name holds in OCI
// layouts that Docker writes.
func refTag(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		switch name[i] {
		case ':':
			return name[i+1:]
		case '/':
			return name
		}
	}
	return name
}

// writeBlob writes blob b, of the size its descriptor says, which
// openBlob checks.
func (s *Store) writeBlob(ctx context.Context, tw *tar.Writer, b ocispec.Descriptor, mtime time.Time) error {
	f, err := s.openBlob(ctx, b.Digest, b.Size)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer f.Close()
	h := &tar.Header{Name: blobPath(b.Digest), Mode: 0o444, Size: b.Size, ModTime: mtime, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func writeJSON(tw *tar.Writer, name string, v any, mtime time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = tw.Write(b)
	return err
}
