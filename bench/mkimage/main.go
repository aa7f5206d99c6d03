// Command mkimage writes the test image of the image benchmarks
// (bench/images.sh) from real files of the host: one layer per host
// directory, each cut at a size, so that the image is about as large on
// every host. Into the output directory it writes:
//
//	layers/NN.tar  each layer, an uncompressed tar (the tar -x baseline)
//	flat.tar       every layer's files in one tar (for import)
//	image.tar      a docker-archive, layers uncompressed, as docker save writes
//	oci/           an OCI image layout with gzip layers (pushed to a registry)
//	summary.json   what each layer holds, for the report
//
//	go run ./bench/mkimage -o DIR -name bench/big:1 /usr/lib:160 /usr/bin:100
//
// Each argument is DIR:MB: the files of DIR, walked in lexical order,
// until their contents add up to MB megabytes (10^6 bytes), leaving out
// files that would go past that. Regular files, directories, symlinks and
// hard links go in; devices, sockets, fifos and extended attributes do
// not.
package main

import (
	"archive/tar"
	"bufio"
	_ "crypto/sha256" // go-digest hashes with it once it is linked in
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

type layerSpec struct {
	dir   string
	limit int64
}

// layerInfo is one layer, as summary.json records it.
type layerInfo struct {
	Dir       string        `json:"dir"`
	Files     int           `json:"files"`      // regular files and hard links
	Entries   int           `json:"entries"`    // every tar entry
	Bytes     int64         `json:"bytes"`      // the regular files' contents
	TarBytes  int64         `json:"tar_bytes"`  // the uncompressed tar
	GzipBytes int64         `json:"gzip_bytes"` // the gzip blob
	DiffID    digest.Digest `json:"diff_id"`
	Digest    digest.Digest `json:"digest"`
}

type summary struct {
	Name      string      `json:"name"`
	Layers    []layerInfo `json:"layers"`
	Files     int         `json:"files"`
	Bytes     int64       `json:"bytes"`
	TarBytes  int64       `json:"tar_bytes"`
	GzipBytes int64       `json:"gzip_bytes"`
	FlatBytes int64       `json:"flat_bytes"`
	Archive   int64       `json:"archive_bytes"`
}

func main() {
	out := flag.String("o", "", "output directory (must not exist)")
	name := flag.String("name", "bench/big:1", "the image's name in image.tar")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mkimage -o DIR [-name NAME] HOSTDIR:MB...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if i := strings.LastIndex(*name, ":"); i < 0 || strings.Contains((*name)[i:], "/") {
		fatalf("-name %q: want REPOSITORY:TAG", *name)
	}
	var specsList []layerSpec
	for _, a := range flag.Args() {
		dir, mb, ok := strings.Cut(a, ":")
		n, err := strconv.ParseFloat(mb, 64)
		if !ok || err != nil || n <= 0 || !filepath.IsAbs(dir) {
			fatalf("layer %q: want /ABSOLUTE/DIR:MB", a)
		}
		specsList = append(specsList, layerSpec{dir: filepath.Clean(dir), limit: int64(n * 1e6)})
	}
	if err := run(*out, *name, specsList); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mkimage: "+format+"\n", args...)
	os.Exit(1)
}

func run(out, name string, layers []layerSpec) error {
	if err := os.Mkdir(out, 0o755); err != nil {
		return err
	}
	for _, d := range []string{"layers", "oci/blobs/sha256"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	sum := summary{Name: name, Layers: make([]layerInfo, len(layers))}

	// Layers are walked and compressed in parallel: gzip is most of the
	// time, and it uses one core per stream.
	var wg sync.WaitGroup
	errs := make([]error, len(layers))
	sem := make(chan struct{}, runtime.NumCPU())
	for i, l := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			sum.Layers[i], errs[i] = writeLayer(out, i, l)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, l := range sum.Layers {
		sum.Files += l.Files
		sum.Bytes += l.Bytes
		sum.TarBytes += l.TarBytes
		sum.GzipBytes += l.GzipBytes
	}

	config, err := imageConfig(sum.Layers)
	if err != nil {
		return err
	}
	if sum.FlatBytes, err = writeFlat(out, len(layers)); err != nil {
		return err
	}
	if err := writeOCI(out, name, config, sum.Layers); err != nil {
		return err
	}
	if sum.Archive, err = writeDockerArchive(out, name, config, sum.Layers); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "summary.json"), append(b, '\n'), 0o644)
}

func layerPath(out string, i int) string {
	return filepath.Join(out, "layers", fmt.Sprintf("%02d.tar", i))
}

// countWriter counts what passes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeLayer writes layer i, in one pass over the host's files: the tar
// goes to layers/NN.tar and, through gzip, into the OCI layout's blobs.
func writeLayer(out string, i int, l layerSpec) (layerInfo, error) {
	info := layerInfo{Dir: l.dir}
	tf, err := os.Create(layerPath(out, i))
	if err != nil {
		return info, err
	}
	defer tf.Close()
	gzTmp := filepath.Join(out, "oci", "blobs", fmt.Sprintf("layer-%02d.tmp", i))
	gf, err := os.Create(gzTmp)
	if err != nil {
		return info, err
	}
	defer gf.Close()

	tarBuf := bufio.NewWriterSize(tf, 1<<20)
	gzBuf := bufio.NewWriterSize(gf, 1<<20)
	diffID := digest.SHA256.Digester()
	blobID := digest.SHA256.Digester()
	gzCount := &countWriter{w: io.MultiWriter(gzBuf, blobID.Hash())}
	gz, err := gzip.NewWriterLevel(gzCount, gzip.DefaultCompression)
	if err != nil {
		return info, err
	}
	tarCount := &countWriter{w: io.MultiWriter(tarBuf, diffID.Hash(), gz)}
	tw := tar.NewWriter(tarCount)

	// The directories above l.dir come first, as in any image's layer.
	var parents []string
	for d := filepath.Dir(l.dir); d != "/"; d = filepath.Dir(d) {
		parents = append([]string{d}, parents...)
	}
	for _, d := range parents {
		fi, err := os.Lstat(d)
		if err != nil {
			return info, err
		}
		if err := writeEntry(tw, d, fi, nil, &info); err != nil {
			return info, err
		}
	}
	links := map[[2]uint64]string{} // (dev, inode) -> first name, for hard links
	err = filepath.WalkDir(l.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(os.Stderr, "mkimage: skipping %s: %v\n", p, err)
			if e != nil && e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		// Within 1% of the size, the layer is done. Before that, a file
		// that would take it past the size is left out, so that the
		// layer comes out at its size whatever the host's largest files.
		if info.Bytes >= l.limit-l.limit/100 {
			return fs.SkipAll
		}
		fi, err := e.Info()
		if err != nil {
			fmt.Fprintf(os.Stderr, "mkimage: skipping %s: %v\n", p, err)
			return nil
		}
		if fi.Mode().IsRegular() && info.Bytes+fi.Size() > l.limit {
			return nil
		}
		return writeEntry(tw, p, fi, links, &info)
	})
	if err != nil {
		return info, fmt.Errorf("%s: %w", l.dir, err)
	}
	if err := tw.Close(); err != nil {
		return info, err
	}
	if err := gz.Close(); err != nil {
		return info, err
	}
	for _, c := range []struct {
		b *bufio.Writer
		f *os.File
	}{{tarBuf, tf}, {gzBuf, gf}} {
		if err := c.b.Flush(); err != nil {
			return info, err
		}
		if err := c.f.Close(); err != nil {
			return info, err
		}
	}
	info.TarBytes, info.GzipBytes = tarCount.n, gzCount.n
	info.DiffID, info.Digest = diffID.Digest(), blobID.Digest()
	return info, os.Rename(gzTmp, blobPath(out, info.Digest))
}

// writeEntry writes the host file p, whose Lstat is fi, as an entry of
// its layer. links, when not nil, turns a second name of a file into a
// hard link.
func writeEntry(tw *tar.Writer, p string, fi fs.FileInfo, links map[[2]uint64]string, info *layerInfo) error {
	st, _ := fi.Sys().(*syscall.Stat_t)
	h := &tar.Header{
		Name:    strings.TrimPrefix(p, "/"),
		Mode:    int64(fi.Mode().Perm()),
		ModTime: fi.ModTime().Truncate(time.Second),
	}
	if st != nil {
		h.Uid, h.Gid = int(st.Uid), int(st.Gid)
	}
	if fi.Mode()&fs.ModeSetuid != 0 {
		h.Mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		h.Mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		h.Mode |= 0o1000
	}
	switch {
	case fi.IsDir():
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		h.Typeflag, h.Linkname = tar.TypeSymlink, target
	case fi.Mode().IsRegular():
		if st != nil && st.Nlink > 1 && links != nil {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := links[key]; ok {
				h.Typeflag, h.Linkname = tar.TypeLink, first
				info.Files++
				info.Entries++
				return tw.WriteHeader(h)
			}
			written, err := writeFile(tw, p, h, info)
			if written {
				links[key] = h.Name
			}
			return err
		}
		_, err := writeFile(tw, p, h, info)
		return err
	default:
		return nil // devices, sockets and fifos: not what images are made of
	}
	info.Entries++
	return tw.WriteHeader(h)
}

// writeFile writes the regular file p with header h, and says whether it
// did: a file that cannot be opened is left out.
func writeFile(tw *tar.Writer, p string, h *tar.Header, info *layerInfo) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: skipping %s: %v\n", p, err)
		return false, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	if err := tw.WriteHeader(h); err != nil {
		return false, err
	}
	n, err := io.CopyN(tw, f, h.Size)
	if err != nil {
		return false, fmt.Errorf("%s: %d of %d bytes read (did it change?): %w", p, n, h.Size, err)
	}
	info.Files++
	info.Entries++
	info.Bytes += n
	return true, nil
}

// writeFlat writes flat.tar: every layer's entries, in order, with the
// directories that several layers share only once.
func writeFlat(out string, n int) (int64, error) {
	f, err := os.Create(filepath.Join(out, "flat.tar"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: bw}
	tw := tar.NewWriter(cw)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		if err := copyEntries(tw, layerPath(out, i), seen); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, f.Close()
}

func copyEntries(tw *tar.Writer, layer string, seen map[string]bool) error {
	f, err := os.Open(layer)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", layer, err)
		}
		if h.Typeflag == tar.TypeDir && seen[h.Name] {
			continue
		}
		seen[h.Name] = true
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

func imageConfig(layers []layerInfo) ([]byte, error) {
	now := time.Now().UTC().Truncate(time.Second)
	img := ocispec.Image{
		Created:  &now,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config: ocispec.ImageConfig{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"/usr/bin/true"},
		},
		RootFS: ocispec.RootFS{Type: "layers"},
	}
	for _, l := range layers {
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, l.DiffID)
		img.History = append(img.History, ocispec.History{
			Created:   &now,
			CreatedBy: "bench/mkimage: files of " + l.Dir,
		})
	}
	return json.Marshal(img)
}

func blobPath(out string, d digest.Digest) string {
	return filepath.Join(out, "oci", "blobs", d.Algorithm().String(), d.Encoded())
}

// writeOCI completes the OCI layout whose layer blobs writeLayer wrote.
func writeOCI(out, name string, config []byte, layers []layerInfo) error {
	put := func(b []byte) (digest.Digest, error) {
		d := digest.FromBytes(b)
		return d, os.WriteFile(blobPath(out, d), b, 0o644)
	}
	cd, err := put(config)
	if err != nil {
		return err
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(config))},
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: l.Digest, Size: l.GzipBytes})
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return err
	}
	md, err := put(mb)
	if err != nil {
		return err
	}
	tag := name[strings.LastIndex(name, ":")+1:]
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{
			MediaType:   ocispec.MediaTypeImageManifest,
			Digest:      md,
			Size:        int64(len(mb)),
			Annotations: map[string]string{ocispec.AnnotationRefName: tag},
		}},
	}
	ib, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "oci", "index.json"), ib, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "oci", ocispec.ImageLayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

// writeDockerArchive writes image.tar as docker save (before Docker 25)
// does: the config as HEX.json, each layer as DIFFID/layer.tar, then
// manifest.json and repositories.
func writeDockerArchive(out, name string, config []byte, layers []layerInfo) (int64, error) {
	f, err := os.Create(filepath.Join(out, "image.tar"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: bw}
	tw := tar.NewWriter(cw)
	now := time.Now().Truncate(time.Second)
	small := func(p string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(b)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	configName := digest.FromBytes(config).Encoded() + ".json"
	var layerNames []string
	for i, l := range layers {
		dir := l.DiffID.Encoded()
		if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, ModTime: now, Typeflag: tar.TypeDir}); err != nil {
			return 0, err
		}
		if err := small(path.Join(dir, "VERSION"), []byte("1.0")); err != nil {
			return 0, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: path.Join(dir, "layer.tar"), Mode: 0o644, Size: l.TarBytes, ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return 0, err
		}
		lf, err := os.Open(layerPath(out, i))
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(tw, lf)
		lf.Close()
		if err != nil {
			return 0, err
		}
		layerNames = append(layerNames, path.Join(dir, "layer.tar"))
	}
	if err := small(configName, config); err != nil {
		return 0, err
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{name}, "Layers": layerNames}})
	if err != nil {
		return 0, err
	}
	if err := small("manifest.json", manifest); err != nil {
		return 0, err
	}
	repo, tag := name[:strings.LastIndex(name, ":")], name[strings.LastIndex(name, ":")+1:]
	last := layers[len(layers)-1].DiffID.Encoded()
	repositories, err := json.Marshal(map[string]map[string]string{repo: {tag: last}})
	if err != nil {
		return 0, err
	}
	if err := small("repositories", repositories); err != nil {
		return 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, f.Close()
}
