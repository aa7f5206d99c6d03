package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"berth/internal/imagetest"
	"berth/internal/snapshot"
)

// pipe hides that r can be read again, as a pipe would.
type pipe struct{ io.Reader }

// savedLayers saves the image name and returns its layers as save wrote
// them, bottom first.
func savedLayers(t *testing.T, s *Store, name string) ([][]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Save(&buf, []SaveItem{{Image: mustLookup(t, s, name)}}, DockerArchive); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
	var m []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 {
		t.Fatalf("manifest.json: %s, %v", files["manifest.json"], err)
	}
	var out [][]byte
	for _, l := range m[0].Layers {
		out = append(out, files[l])
	}
	return out, nil
}

func sameLayers(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d layers saved, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("layer %d: saved %d bytes, not the %d bytes loaded", i, len(got[i]), len(want[i]))
		}
	}
}

// records counts the snapshot directories with a split record.
func records(t *testing.T, s *Store) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(s.Snaps.Root(), "*", snapshot.SplitRecord))
	return len(m)
}

// A load from a file keeps uncompressed layers as split records, not
// blobs, and save gives back their exact bytes; from a pipe they are
// stored as blobs, as before, and save gives back the same.
func TestLoadKeepsSplitRecords(t *testing.T) {
	img := imagetest.Build([][]byte{baseLayer, appLayer}, false, "/app/main")
	arch := img.DockerArchive("split:1")
	for _, c := range []struct {
		name           string
		r              io.Reader
		blobs, records int
	}{
		{"file", bytes.NewReader(arch), 2, 2}, // config, manifest
		{"pipe", pipe{bytes.NewReader(arch)}, 4, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			if _, err := s.Load(context.Background(), c.r, nil); err != nil {
				t.Fatal(err)
			}
			blobs, _ := counts(t, s)
			if blobs != c.blobs || records(t, s) != c.records {
				t.Errorf("%d blobs and %d split records, want %d and %d", blobs, records(t, s), c.blobs, c.records)
			}
			got, err := savedLayers(t, s, "split:1")
			if err != nil {
				t.Fatal(err)
			}
			sameLayers(t, got, img.Layers)
			// Collection keeps what the image needs to be saved.
			if _, err := s.Collect(true); err != nil {
				t.Fatal(err)
			}
			if got, err = savedLayers(t, s, "split:1"); err != nil {
				t.Fatalf("save after a collection: %v", err)
			}
			sameLayers(t, got, img.Layers)
		})
	}
}

// A layer whose files cannot give its tar back (it lists a file twice)
// is read again from the file and stored as a blob.
func TestLoadLayerThatCannotBeRebuilt(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, body := range []string{"first\n", "second\n"} {
		tw.WriteHeader(&tar.Header{Name: "etc/motd", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	twice := buf.Bytes()
	img := imagetest.Build([][]byte{baseLayer, twice}, false)
	s := newStore(t)
	load(t, s, img.DockerArchive("twice:1"))
	if !s.Content.Has(digest.FromBytes(twice)) || records(t, s) != 1 {
		t.Errorf("blob stored: %v, %d split records; want the blob and the base layer's record", s.Content.Has(digest.FromBytes(twice)), records(t, s))
	}
	got, err := savedLayers(t, s, "twice:1")
	if err != nil {
		t.Fatal(err)
	}
	sameLayers(t, got, img.Layers)
	dirs, err := s.Snaps.LowerDirs(mustLookup(t, s, "twice:1").Chain)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], "etc/motd")); string(b) != "second\n" {
		t.Errorf("etc/motd = %q, %v", b, err)
	}
}

// A layer whose files were changed is not saved as if it were the
// layer.
func TestSaveRefusesChangedLayer(t *testing.T) {
	img := imagetest.Build([][]byte{baseLayer}, false)
	s := newStore(t)
	load(t, s, img.DockerArchive("changed:1"))
	dirs, err := s.Snaps.LowerDirs(mustLookup(t, s, "changed:1").Chain)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirs[0], "etc/os-name"), []byte("TEST\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = savedLayers(t, s, "changed:1")
	if err == nil || !strings.Contains(err.Error(), "files were changed") {
		t.Errorf("save of a changed layer: %v", err)
	}
}

// An import from a file keeps the layer as a split record.
func TestImportKeepsSplitRecord(t *testing.T) {
	s := newStore(t)
	img, err := s.Import(context.Background(), bytes.NewReader(baseLayer), ImportOptions{Names: []string{"docker.io/library/imp:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Content.Has(digest.FromBytes(baseLayer)) || records(t, s) != 1 {
		t.Errorf("the layer's blob is stored, or not its split record")
	}
	if img.Chain[0] != digest.FromBytes(baseLayer) {
		t.Errorf("chain %v", img.Chain)
	}
	got, err := savedLayers(t, s, "imp:1")
	if err != nil {
		t.Fatal(err)
	}
	sameLayers(t, got, [][]byte{baseLayer})
}

// A layer already unpacked without a record (pulled compressed, say)
// gets the record of a load of the same layer uncompressed, so the
// loaded image can be saved once the first one is gone.
func TestRecordJoinsExistingLayer(t *testing.T) {
	s := newStore(t)
	load(t, s, imagetest.Build([][]byte{baseLayer}, true).DockerArchive("gz:1"))
	plain := imagetest.Build([][]byte{baseLayer}, false, "/bin/hello")
	load(t, s, plain.DockerArchive("plain:1"))
	if _, err := s.Remove("gz:1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collect(true); err != nil {
		t.Fatal(err)
	}
	got, err := savedLayers(t, s, "plain:1")
	if err != nil {
		t.Fatal(err)
	}
	sameLayers(t, got, plain.Layers)
}

// A reader that reads a rebuilt blob's size and no further still gets
// the check.
func TestRebuiltBlobCheckedAtItsLastByte(t *testing.T) {
	img := imagetest.Build([][]byte{baseLayer}, false)
	s := newStore(t)
	load(t, s, img.DockerArchive("last:1"))
	d, size := digest.FromBytes(baseLayer), int64(len(baseLayer))
	read := func() error {
		b, err := s.openBlob(context.Background(), d, size)
		if err != nil {
			return err
		}
		defer b.Close()
		buf := make([]byte, size)
		_, err = io.ReadFull(b, buf)
		return err
	}
	if err := read(); err != nil {
		t.Fatalf("the unchanged blob: %v", err)
	}
	dirs, err := s.Snaps.LowerDirs(mustLookup(t, s, "last:1").Chain)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirs[0], "etc/os-name"), []byte("TEST\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := read(); err == nil || !strings.Contains(err.Error(), "files were changed") {
		t.Errorf("the changed blob, read to its size: %v", err)
	}
}

// A build on top of a loaded image names the base layers, kept as split
// records, by digest; they get their sizes and type from the records.
func TestBuiltOnSplitLayers(t *testing.T) {
	img := imagetest.Build([][]byte{baseLayer, appLayer}, false)
	s := newStore(t)
	load(t, s, img.DockerArchive("base:1"))
	built, err := s.StoreBuilt(context.Background(), img.Config, []digest.Digest{digest.FromBytes(baseLayer), digest.FromBytes(appLayer)}, []string{"docker.io/library/built:1"})
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := s.Manifest(built)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range m.Layers {
		if l.Size != int64(len(img.Layers[i])) || l.MediaType != "application/vnd.oci.image.layer.v1.tar" {
			t.Errorf("layer %d: %+v", i, l)
		}
	}
	got, err := savedLayers(t, s, "built:1")
	if err != nil {
		t.Fatal(err)
	}
	sameLayers(t, got, img.Layers)
}
