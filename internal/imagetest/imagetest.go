// Package imagetest builds images for tests and benchmarks, offline: layers
// from files given in the test, configs, and the archives (docker-archive,
// OCI layout) that load and registries take.
package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// File is one entry of a layer. A Mode with no type bits is a regular
// file; Link makes it a symlink (or, with Hard, a hardlink).
type File struct {
	Body     string
	Mode     int64
	Link     string
	Hard     bool
	Dir      bool
	Typeflag byte // overrides the type when set
}

// Tar returns an uncompressed layer of files, in name order.
func Tar(files map[string]File) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := files[n]
		h := &tar.Header{Name: n, Mode: f.Mode, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		switch {
		case f.Typeflag != 0:
			h.Typeflag = f.Typeflag
		case f.Dir:
			h.Typeflag = tar.TypeDir
			if f.Mode == 0 {
				h.Mode = 0o755
			}
		case f.Hard:
			h.Typeflag, h.Linkname = tar.TypeLink, f.Link
		case f.Link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Body))
		}
		tw.WriteHeader(h)
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(f.Body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Image is an image made of layers, ready to be written as an archive or
// pushed.
type Image struct {
	Config       []byte
	ConfigDigest digest.Digest
	Manifest     []byte
	Layers       [][]byte // blobs as stored (compressed or not)
	LayerDescs   []ocispec.Descriptor
}

// Build makes an image from uncompressed layer tars; gzip compresses the
// blobs. cmd is the config's Cmd.
func Build(layers [][]byte, gzipped bool, cmd ...string) *Image {
	img := &Image{}
	created := time.Unix(1700000000, 0).UTC()
	cfg := ocispec.Image{Created: &created, Platform: ocispec.Platform{OS: "linux", Architecture: hostArch()}}
	cfg.Config.Cmd = cmd
	cfg.RootFS.Type = "layers"
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(l))
		cfg.History = append(cfg.History, ocispec.History{Created: &created, CreatedBy: "test layer"})
		blob, mt := l, ocispec.MediaTypeImageLayer
		if gzipped {
			blob, mt = Gzip(l), ocispec.MediaTypeImageLayerGzip
		}
		img.Layers = append(img.Layers, blob)
		img.LayerDescs = append(img.LayerDescs, ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(blob), Size: int64(len(blob))})
	}
	img.Config, _ = json.Marshal(cfg)
	img.ConfigDigest = digest.FromBytes(img.Config)
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ConfigDigest, Size: int64(len(img.Config))},
		Layers:    img.LayerDescs,
	}
	m.SchemaVersion = 2
	img.Manifest, _ = json.Marshal(m)
	return img
}

// ManifestDigest is the digest of the image's manifest.
func (img *Image) ManifestDigest() digest.Digest { return digest.FromBytes(img.Manifest) }

// DockerArchive writes the image as `docker save` (before Docker 25)
// does: ID.json, ID/layer.tar and manifest.json naming tags.
func (img *Image) DockerArchive(tags ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
		tw.Write(b)
	}
	cfgName := img.ConfigDigest.Encoded() + ".json"
	var layerNames []string
	for i, l := range img.Layers {
		n := digest.FromBytes(l).Encoded()[:16] + "/layer.tar"
		add(n, l)
		layerNames = append(layerNames, n)
		_ = i
	}
	add(cfgName, img.Config)
	mj, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": tags, "Layers": layerNames}})
	add("manifest.json", mj)
	tw.Close()
	return buf.Bytes()
}

// OCILayout writes the image as an OCI image layout archive whose
// index.json names it name (a full reference) in containerd's
// annotation.
func (img *Image) OCILayout(name string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(n string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
		tw.Write(b)
	}
	blob := func(b []byte) { add("blobs/sha256/"+digest.FromBytes(b).Encoded(), b) }
	for _, l := range img.Layers {
		blob(l)
	}
	blob(img.Config)
	blob(img.Manifest)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: img.ManifestDigest(), Size: int64(len(img.Manifest))}
	if name != "" {
		desc.Annotations = map[string]string{"io.containerd.image.name": name}
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{desc}}
	idx.SchemaVersion = 2
	ij, _ := json.Marshal(idx)
	add("index.json", ij)
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	tw.Close()
	return buf.Bytes()
}

// WriteOCIDir writes the image as an OCI image layout directory, which
// skopeo copies from as oci:DIR.
func (img *Image) WriteOCIDir(dir, name string) error {
	tr := tar.NewReader(bytes.NewReader(img.OCILayout(name)))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
}
