package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/errdefs"
	"berth/internal/reference"
)

// dockerManifest is one entry of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// archiveFiles is what reading an archive stream found: small JSON files
// in memory, uncompressed layers unpacked with split records (when the
// archive is a file), everything else in the content store by digest.
type archiveFiles struct {
	small map[string][]byte
	blobs map[string]digest.Digest
	links map[string]string // symlink -> target, both archive paths
	// unpacked are layers unpacked as the archive was read, by blob
	// digest, waiting to be committed once the manifest says which
	// chain each is.
	unpacked map[digest.Digest]preUnpacked
	pending  map[digest.Digest]bool
	// split are the layers kept as split records, with their sizes.
	split map[digest.Digest]int64
	err   error // the first error of a layer unpacked ahead
	mu    sync.Mutex
	wg    sync.WaitGroup
	sem   chan struct{}
}

func (a *archiveFiles) blob(p string) (digest.Digest, bool) {
	for i := 0; i < 10; i++ { // a few symlinks deep at most
		if d, ok := a.blobs[p]; ok {
			return d, true
		}
		t, ok := a.links[p]
		if !ok {
			break
		}
		p = t
	}
	return "", false
}

// maxSmall bounds the JSON files of an archive kept in memory.
const maxSmall = 8 << 20

// Loaded is one image a load brought in, with the names it was given.
type Loaded struct {
	ID    digest.Digest
	Names []string // familiar names
}

// Load reads a docker-archive (from `docker save`, berth save) or an OCI
// image layout archive from r and stores its images. The stream is read
// once: every blob goes into the content store, checked against its
// digest where the archive names one, and only then are the images put
// together. On error nothing new is named, and what was stored is
// garbage for the next collection.
func (s *Store) Load(ctx context.Context, r io.Reader, prog Progress) ([]Loaded, error) {
	release, err := s.writing()
	if err != nil {
		return nil, err
	}
	files, err := s.readArchive(ctx, r)
	if files != nil {
		defer files.discard(s)
	}
	if err == nil {
		var out []Loaded
		out, err = s.loadFiles(ctx, files, prog)
		release()
		if err == nil {
			return out, nil
		}
	} else {
		release()
	}
	s.Collect(false)
	return nil, err
}

func (s *Store) readArchive(ctx context.Context, r io.Reader) (*archiveFiles, error) {
	a := &archiveFiles{small: map[string][]byte{}, blobs: map[string]digest.Digest{}, links: map[string]string{},
		unpacked: map[digest.Digest]preUnpacked{}, pending: map[digest.Digest]bool{},
		split: map[digest.Digest]int64{}, sem: make(chan struct{}, max(s.Parallel, 1))}
	src, _, _ := rereadable(r)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out, err := s.readEntries(ctx, a, r, src)
	if err != nil {
		cancel()
	}
	a.wg.Wait() // every unpack ahead is done before the images are put together
	if err == nil && a.err != nil {
		out, err = a, a.err
	}
	return out, err
}

// readEntries reads the archive's entries into a. When src is set, r
// can be read again through it, and uncompressed layers are unpacked as
// they are read, kept as split records.
func (s *Store) readEntries(ctx context.Context, a *archiveFiles, r io.Reader, src io.ReaderAt) (*archiveFiles, error) {
	tr := tar.NewReader(r)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				return nil, errdefs.Invalidf("the input is not an image archive (a tar file): %v", err)
			}
			return nil, errdefs.Invalidf("image archive: %v", err)
		}
		n++
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		switch h.Typeflag {
		case tar.TypeSymlink:
			a.links[name] = path.Join(path.Dir(name), h.Linkname)
			continue
		case tar.TypeLink:
			a.links[name] = path.Clean(h.Linkname)
			continue
		case tar.TypeReg:
		default:
			continue
		}
		var expected digest.Digest
		if strings.HasPrefix(name, "blobs/sha256/") {
			expected = digest.NewDigestFromEncoded(digest.SHA256, path.Base(name))
		}
		if strings.HasSuffix(name, ".json") || name == "oci-layout" || name == "repositories" {
			if h.Size > maxSmall {
				return nil, errdefs.Invalidf("image archive: %s is %d bytes, more than a metadata file may be", name, h.Size)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, errdefs.Invalidf("image archive: %s: %v", name, err)
			}
			a.small[name] = b
			continue
		}
		if src != nil {
			_, off, _ := rereadable(r)
			head := make([]byte, 512)
			n, _ := src.ReadAt(head, off)
			if isPlainTar(head[:n]) {
				s.splitAhead(ctx, a, name, io.NewSectionReader(src, off, h.Size), expected)
				continue
			}
		}
		d, layer, err := s.storeEntry(tr, expected, h.Size)
		if err != nil {
			return a, fmt.Errorf("image archive: %s: %w", name, err)
		}
		a.mu.Lock()
		a.blobs[name] = d
		a.mu.Unlock()
		if layer {
			s.unpackAhead(ctx, a, d)
		}
	}
	if n == 0 {
		return nil, errdefs.Invalidf("the input is empty, not an image archive")
	}
	return a, nil
}

// preUnpacked is a layer unpacked while the archive was read.
type preUnpacked struct {
	tmp    string
	diffID digest.Digest
	size   int64
	// split says that the layer's blob is not stored but kept as the
	// split record in tmp; blobSize is then its size.
	split    bool
	blobSize int64
}

// splitAhead unpacks an uncompressed layer of the archive, which sec
// reads, keeping it as a split record, while the archive goes on being
// read: several layers unpack at once, each straight from the archive.
// A layer that cannot be kept so is stored as a blob and unpacked from
// there, which says what is wrong with it, if anything.
func (s *Store) splitAhead(ctx context.Context, a *archiveFiles, name string, sec *io.SectionReader, expected digest.Digest) {
	a.sem <- struct{}{}
	a.wg.Add(1)
	go func() {
		defer func() { <-a.sem; a.wg.Done() }()
		d, err := s.splitLayer(ctx, a, sec, expected)
		a.mu.Lock()
		defer a.mu.Unlock()
		if err != nil {
			if a.err == nil {
				a.err = fmt.Errorf("image archive: %s: %w", name, err)
			}
			return
		}
		a.blobs[name] = d
	}()
}

func (s *Store) splitLayer(ctx context.Context, a *archiveFiles, sec *io.SectionReader, expected digest.Digest) (digest.Digest, error) {
	pre, err := s.unpackSplit(ctx, bufio.NewReaderSize(sec, 64<<10))
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		d, _, err := s.storeEntry(io.NewSectionReader(sec, 0, sec.Size()), expected, sec.Size())
		if err == nil {
			s.unpackBlob(ctx, a, d)
		}
		return d, err
	}
	d := pre.diffID
	if expected != "" && d != expected {
		s.Snaps.Discard(pre.tmp)
		return "", errdefs.Invalidf("digest mismatch: expected %s, got %s", expected, d)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.unpacked[d]; ok || a.pending[d] {
		s.Snaps.Discard(pre.tmp) // the same layer twice in the archive
	} else {
		a.unpacked[d] = pre
	}
	a.split[d] = pre.blobSize
	return d, nil
}

// storeEntry stores one archive entry as a blob and says whether it
// looks like a layer (a tar, plain or compressed).
func (s *Store) storeEntry(r io.Reader, expected digest.Digest, size int64) (digest.Digest, bool, error) {
	w, err := s.Content.Writer(expected, size)
	if err != nil {
		return "", false, err
	}
	defer w.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	layer := looksLikeLayer(head)
	if _, err := io.Copy(w, br); err != nil {
		return "", false, errdefs.Invalidf("%v", err)
	}
	d, err := w.Commit()
	return d, layer, err
}

// unpackAhead unpacks a stored layer blob into a temporary snapshot
// while the archive goes on being read: copying the next blob and
// unpacking this one overlap, and several layers unpack at once. A blob
// that will not unpack is left to the ingest, which reports why.
func (s *Store) unpackAhead(ctx context.Context, a *archiveFiles, d digest.Digest) {
	a.mu.Lock()
	if _, ok := a.unpacked[d]; ok || a.pending[d] {
		a.mu.Unlock()
		return
	}
	a.pending[d] = true
	a.mu.Unlock()
	a.sem <- struct{}{}
	a.wg.Add(1)
	go func() {
		defer func() { <-a.sem; a.wg.Done() }()
		s.unpackBlob(ctx, a, d)
	}()
}

// unpackBlob unpacks stored layer blob d into a temporary snapshot for
// a.unpacked. A blob that will not unpack is left to the ingest, which
// reports why.
func (s *Store) unpackBlob(ctx context.Context, a *archiveFiles, d digest.Digest) {
	f, err := s.Content.Open(d)
	if err != nil {
		return
	}
	defer f.Close()
	tmp, diffID, n, err := s.apply(ctx, f)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.unpacked[d]; ok {
		s.Snaps.Discard(tmp)
		return
	}
	a.unpacked[d] = preUnpacked{tmp: tmp, diffID: diffID, size: n}
}

// looksLikeLayer says whether an entry starting with head is a tar,
// gzip or zstd stream rather than metadata.
func looksLikeLayer(head []byte) bool {
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return true
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return true
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return true
	}
	return false
}

// discard removes the unpacked layers that no image took.
func (a *archiveFiles) discard(s *Store) {
	a.wg.Wait()
	for _, p := range a.unpacked {
		s.Snaps.Discard(p.tmp)
	}
}

func (s *Store) loadFiles(ctx context.Context, a *archiveFiles, prog Progress) ([]Loaded, error) {
	if raw, ok := a.small["manifest.json"]; ok {
		return s.loadDocker(ctx, a, raw, prog)
	}
	if raw, ok := a.small["index.json"]; ok {
		return s.loadOCI(ctx, a, raw, prog)
	}
	return nil, errdefs.Invalidf("image archive has neither manifest.json (docker-archive) nor index.json (OCI layout)")
}

func (s *Store) loadDocker(ctx context.Context, a *archiveFiles, raw []byte, prog Progress) ([]Loaded, error) {
	var ms []dockerManifest
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, errdefs.Invalidf("image archive: manifest.json: %v", err)
	}
	var out []Loaded
	for _, m := range ms {
		config, err := a.read(s, m.Config)
		if err != nil {
			return nil, err
		}
		var layers []digest.Digest
		for _, l := range m.Layers {
			d, ok := a.blob(path.Clean(l))
			if !ok {
				return nil, errdefs.Invalidf("image archive: layer %s named in manifest.json is not in the archive", l)
			}
			layers = append(layers, d)
		}
		f, err := s.synthesize(config, layers, a.split)
		if err != nil {
			return nil, err
		}
		f.Unpacked = a.unpacked
		names, err := fullNames(m.RepoTags)
		if err != nil {
			return nil, err
		}
		img, err := s.Ingest(ctx, &localSource{s: s, f: f}, IngestOptions{Names: names, Progress: prog})
		if err != nil {
			return nil, err
		}
		out = append(out, Loaded{ID: img.ID, Names: familiarAll(names)})
	}
	return out, nil
}

// read returns an archive file's bytes, small or stored as a blob.
func (a *archiveFiles) read(s *Store, p string) ([]byte, error) {
	p = path.Clean(p)
	if b, ok := a.small[p]; ok {
		return b, nil
	}
	if d, ok := a.blob(p); ok {
		return s.Content.ReadAll(d, maxConfig)
	}
	return nil, errdefs.Invalidf("image archive: %s is named but not in the archive", p)
}

func (s *Store) loadOCI(ctx context.Context, a *archiveFiles, raw []byte, prog Progress) ([]Loaded, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, errdefs.Invalidf("image archive: index.json: %v", err)
	}
	var out []Loaded
	for _, desc := range idx.Manifests {
		f, err := s.fetchLocal(desc)
		if err != nil {
			return nil, err
		}
		f.Unpacked = a.unpacked
		var names []string
		if n := ociName(desc.Annotations); n != "" {
			if names, err = fullNames([]string{n}); err != nil {
				return nil, err
			}
		}
		img, err := s.Ingest(ctx, &localSource{s: s, f: f}, IngestOptions{Names: names, Progress: prog})
		if err != nil {
			return nil, err
		}
		out = append(out, Loaded{ID: img.ID, Names: familiarAll(names)})
	}
	return out, nil
}

// ociName is the image name an OCI layout gives a manifest: containerd's
// full name, or a ref.name that is a whole reference (a bare tag names
// no repository).
func ociName(ann map[string]string) string {
	if n := ann["io.containerd.image.name"]; n != "" {
		return n
	}
	n := ann[ocispec.AnnotationRefName]
	if strings.ContainsAny(n, "/:") {
		return n
	}
	return ""
}

// fetchLocal reads a manifest (choosing from an index by platform) and
// its config from the content store.
func (s *Store) fetchLocal(target ocispec.Descriptor) (*Fetched, error) {
	f := &Fetched{Target: target, Raw: map[digest.Digest][]byte{}}
	desc := target
	for depth := 0; ; depth++ {
		raw, err := s.Content.ReadAll(desc.Digest, maxManifest)
		if err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
		f.Raw[desc.Digest] = raw
		if !isIndex(desc.MediaType) {
			break
		}
		if depth > 2 {
			return nil, errdefs.Invalidf("image archive: indexes nested too deep")
		}
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return nil, errdefs.Invalidf("image archive: index %s: %v", desc.Digest, err)
		}
		if desc, err = choosePlatform(idx.Manifests, nil); err != nil {
			return nil, err
		}
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(f.Raw[desc.Digest], &m); err != nil {
		return nil, errdefs.Invalidf("image archive: manifest %s: %v", desc.Digest, err)
	}
	f.Manifest, f.Config, f.Layers = desc, m.Config, m.Layers
	cfg, err := s.Content.ReadAll(m.Config.Digest, maxConfig)
	if err != nil {
		return nil, fmt.Errorf("image archive: config: %w", err)
	}
	f.Raw[m.Config.Digest] = cfg
	return f, nil
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

func fullNames(tags []string) ([]string, error) {
	var out []string
	for _, t := range tags {
		ref, err := reference.Parse(t)
		if err != nil {
			return nil, fmt.Errorf("image archive: name %q: %w", t, err)
		}
		out = append(out, ref.String())
	}
	return out, nil
}

func familiarAll(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, familiar(n))
	}
	return out
}

var errNoPlatform = errors.New("no manifest for this platform")

// choosePlatform picks the manifest for want (nil: this host).
func choosePlatform(ms []ocispec.Descriptor, want *ocispec.Platform) (ocispec.Descriptor, error) {
	if want == nil {
		want = HostPlatform()
	}
	for _, m := range ms {
		if m.Platform != nil && PlatformMatches(*m.Platform, *want) {
			return m, nil
		}
	}
	var have []string
	for _, m := range ms {
		if m.Platform != nil {
			have = append(have, PlatformString(*m.Platform))
		}
	}
	return ocispec.Descriptor{}, errdefs.NotFoundf("%v: want %s, the image has %s", errNoPlatform, PlatformString(*want), strings.Join(have, ", "))
}
