package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"berth/internal/archive"
	"berth/internal/errdefs"
	"berth/internal/imagetest"
	"berth/internal/metadata"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	baseLayer = imagetest.Tar(map[string]imagetest.File{
		"bin/":        {Dir: true},
		"bin/hello":   {Body: "#!/bin/sh\necho hello\n", Mode: 0o755},
		"etc/":        {Dir: true},
		"etc/os-name": {Body: "test\n"},
	})
	appLayer = imagetest.Tar(map[string]imagetest.File{
		"app/":     {Dir: true},
		"app/main": {Body: "main\n", Mode: 0o755},
	})
	otherLayer = imagetest.Tar(map[string]imagetest.File{
		"srv/":     {Dir: true},
		"srv/data": {Body: "data\n"},
	})
)

func load(t *testing.T, s *Store, archive []byte) []Loaded {
	t.Helper()
	out, err := s.Load(context.Background(), bytes.NewReader(archive), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// counts returns how many blobs and snapshot directories the store holds.
func counts(t *testing.T, s *Store) (blobs, snaps int) {
	t.Helper()
	s.Content.Walk(func(digest.Digest, int64) error { blobs++; return nil })
	entries, err := os.ReadDir(filepath.Join(s.root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	return blobs, len(entries)
}

func TestLoadDockerArchiveAndOCILayout(t *testing.T) {
	s := newStore(t)
	img := imagetest.Build([][]byte{baseLayer, appLayer}, false, "/app/main")
	got := load(t, s, img.DockerArchive("app:1", "registry.local:5000/team/app:1"))
	if len(got) != 1 || got[0].ID != img.ConfigDigest {
		t.Fatalf("loaded %+v, want image %s", got, img.ConfigDigest)
	}
	if strings.Join(got[0].Names, ",") != "app:1,registry.local:5000/team/app:1" {
		t.Errorf("names %v", got[0].Names)
	}
	for _, name := range []string{"app:1", "docker.io/library/app:1", "registry.local:5000/team/app:1", img.ConfigDigest.Encoded()[:8]} {
		found, err := s.Lookup(name)
		if err != nil || found.ID != img.ConfigDigest {
			t.Errorf("Lookup(%q) = %v, %v", name, found, err)
		}
	}
	// The layer directories hold the files.
	dirs, err := s.Snaps.LowerDirs(mustLookup(t, s, "app:1").Chain)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], "app/main")); err != nil || string(b) != "main\n" {
		t.Errorf("top layer's app/main: %q, %v", b, err)
	}

	oci := imagetest.Build([][]byte{baseLayer, otherLayer}, true)
	got = load(t, s, oci.OCILayout("docker.io/library/other:latest"))
	if len(got) != 1 || got[0].ID != oci.ConfigDigest || got[0].Names[0] != "other:latest" {
		t.Fatalf("loaded %+v", got)
	}
}

func mustLookup(t *testing.T, s *Store, name string) *metadata.Image {
	t.Helper()
	img, err := s.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Two images with the same base layer unpack it once.
func TestSharedBaseLayerStoredOnce(t *testing.T) {
	s := newStore(t)
	load(t, s, imagetest.Build([][]byte{baseLayer, appLayer}, true).DockerArchive("a:1"))
	load(t, s, imagetest.Build([][]byte{baseLayer, otherLayer}, true).DockerArchive("b:1"))
	_, snaps := counts(t, s)
	if snaps != 3 {
		t.Errorf("%d snapshot directories, want 3 (one base, two tops)", snaps)
	}
	a, b := mustLookup(t, s, "a:1"), mustLookup(t, s, "b:1")
	if a.Chain[0] != b.Chain[0] {
		t.Errorf("base chains differ: %s, %s", a.Chain[0], b.Chain[0])
	}
	// What du would count: the base layer's files once.
	var total int64
	filepath.Walk(filepath.Join(s.root, "snapshots"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			total += fi.Size()
		}
		return nil
	})
	want := int64(len("#!/bin/sh\necho hello\n") + len("test\n") + len("main\n") + len("data\n"))
	if total != want {
		t.Errorf("unpacked layers hold %d bytes of files, want %d (the base once)", total, want)
	}
}

func TestRemoveFreesOnlyWhatIsUnused(t *testing.T) {
	s := newStore(t)
	load(t, s, imagetest.Build([][]byte{baseLayer, appLayer}, true).DockerArchive("a:1", "a:2"))
	load(t, s, imagetest.Build([][]byte{baseLayer, otherLayer}, true).DockerArchive("b:1"))
	blobs0, _ := counts(t, s)

	// One name of two: only the name goes.
	del, err := s.Remove("a:2", false)
	if err != nil || len(del) != 1 || del[0].Untagged != "a:2" {
		t.Fatalf("rmi a:2 = %+v, %v", del, err)
	}
	a := mustLookup(t, s, "a:1")
	// By ID while it has one name: the image goes, and with it what
	// only it used; the shared base stays.
	if _, err := s.Remove(a.ID.String(), false); err != nil {
		t.Fatal(err)
	}
	blobs, snaps := counts(t, s)
	// Its config, manifest and top layer go; the base layer stays.
	if snaps != 2 || blobs != blobs0-3 {
		t.Errorf("after rmi: %d blobs (was %d), %d snapshots; want 3 blobs fewer and 2 snapshots", blobs, blobs0, snaps)
	}
	if _, err := s.Lookup("a:1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a:1 still found: %v", err)
	}
	b := mustLookup(t, s, "b:1")
	dirs, err := s.Snaps.LowerDirs(b.Chain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "bin/hello")); err != nil {
		t.Errorf("the shared base layer lost its files: %v", err)
	}
	if _, err := s.Remove("nosuch:1", false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("rmi of a missing image: %v", err)
	}
}

func TestRemoveByIDWithSeveralNamesNeedsForce(t *testing.T) {
	s := newStore(t)
	img := imagetest.Build([][]byte{baseLayer}, false)
	load(t, s, img.DockerArchive("x:1", "y:1"))
	_, err := s.Remove(img.ConfigDigest.Encoded()[:12], false)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "must be forced") {
		t.Fatalf("rmi by ID of a twice-named image: %v", err)
	}
	del, err := s.Remove(img.ConfigDigest.Encoded()[:12], true)
	if err != nil || len(del) != 3 {
		t.Fatalf("rmi -f = %+v, %v", del, err)
	}
}

type fakeUsers map[digest.Digest]bool

func (f fakeUsers) ImageUser(_ *metadata.Tx, id digest.Digest) (string, bool, error) {
	if running, ok := f[id]; ok {
		return "c0ffee", running, nil
	}
	return "", false, nil
}

func TestImageInUse(t *testing.T) {
	s := newStore(t)
	img := imagetest.Build([][]byte{baseLayer}, false)
	load(t, s, img.DockerArchive("used:1"))
	s.Users = fakeUsers{img.ConfigDigest: false}
	if _, err := s.Remove("used:1", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("rmi of an image a container uses: %v", err)
	}
	// Forced: the name goes, the image stays for its container.
	if _, err := s.Remove("used:1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(img.ConfigDigest.String()); err != nil {
		t.Errorf("the image a container uses was deleted: %v", err)
	}
	rep, err := s.Prune(true)
	if err != nil || len(rep.Deleted) != 0 {
		t.Errorf("prune -a removed a used image: %+v, %v", rep, err)
	}
	s.Users = fakeUsers{img.ConfigDigest: true}
	if _, err := s.Remove(img.ConfigDigest.String(), true); err == nil || !strings.Contains(err.Error(), "cannot be forced") {
		t.Errorf("rmi -f of an image a running container uses: %v", err)
	}
}

func TestPruneDangling(t *testing.T) {
	s := newStore(t)
	old := imagetest.Build([][]byte{baseLayer}, false)
	load(t, s, old.DockerArchive("app:latest"))
	load(t, s, imagetest.Build([][]byte{baseLayer, appLayer}, false).DockerArchive("app:latest"))
	// The first image lost its name to the second: it is dangling.
	rep, err := s.Prune(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 1 || rep.Deleted[0].Deleted != old.ConfigDigest.String() {
		t.Errorf("prune deleted %+v, want only %s", rep.Deleted, old.ConfigDigest)
	}
	if _, err := s.Lookup("app:latest"); err != nil {
		t.Errorf("the named image went: %v", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := newStore(t)
	img := imagetest.Build([][]byte{baseLayer, appLayer}, true, "/app/main")
	load(t, s, img.DockerArchive("round:trip"))
	for _, f := range []SaveFormat{DockerArchive, OCIArchive} {
		var buf bytes.Buffer
		if err := s.Save(&buf, []SaveItem{{Image: mustLookup(t, s, "round:trip"), Names: []string{"docker.io/library/round:trip"}}}, f); err != nil {
			t.Fatal(err)
		}
		s2 := newStore(t)
		got := load(t, s2, buf.Bytes())
		if len(got) != 1 || got[0].ID != img.ConfigDigest || got[0].Names[0] != "round:trip" {
			t.Errorf("%s: loaded %+v", f, got)
		}
	}
}

func TestImport(t *testing.T) {
	s := newStore(t)
	cfg := ContainerConfig{}
	if err := ApplyChanges(&cfg, []string{`CMD ["/bin/hello"]`, "ENV A=1 B=2", "EXPOSE 80", "WORKDIR /srv", "LABEL k=v"}); err != nil {
		t.Fatal(err)
	}
	img, err := s.Import(context.Background(), bytes.NewReader(imagetest.Gzip(baseLayer)), ImportOptions{Names: []string{"docker.io/library/imp:1"}, Config: cfg, Comment: "Imported from -"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Inspect(img)
	if err != nil {
		t.Fatal(err)
	}
	c := in.Config
	if strings.Join(c.Cmd, " ") != "/bin/hello" || strings.Join(c.Env, ",") != "A=1,B=2" || c.WorkingDir != "/srv" || c.Labels["k"] != "v" {
		t.Errorf("config %+v", c)
	}
	if _, ok := c.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if in.RootFS.Layers[0] != digest.FromBytes(baseLayer).String() {
		t.Errorf("diff ID %v", in.RootFS.Layers)
	}
	if err := ApplyChanges(&cfg, []string{"RUN rm -rf /"}); err == nil {
		t.Error("--change RUN was accepted")
	}
}

// Bad input leaves a clear error and no image.
func TestBadArchives(t *testing.T) {
	img := imagetest.Build([][]byte{baseLayer}, true)
	// An OCI layout whose layer blob is not what its name says.
	files := map[string]imagetest.File{
		"index.json": {Body: `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + img.ManifestDigest().String() + `","size":` + itoa(len(img.Manifest)) + `}]}`},
		"blobs/sha256/" + img.ManifestDigest().Encoded():     {Body: string(img.Manifest)},
		"blobs/sha256/" + img.ConfigDigest.Encoded():         {Body: string(img.Config)},
		"blobs/sha256/" + img.LayerDescs[0].Digest.Encoded(): {Body: string(imagetest.Gzip(appLayer))},
	}
	notJSON := imagetest.Build([][]byte{baseLayer}, false)
	notJSON.Config = []byte("{not json")
	wrongDiff := imagetest.Build([][]byte{baseLayer}, false)
	wrongDiff.Layers[0] = appLayer
	cases := []struct {
		name, want string
		archive    []byte
	}{
		{"not a tar", "not an image archive", []byte("hello, this is not a tar file at all........................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................")},
		{"empty", "empty", nil},
		{"no manifest", "neither manifest.json", imagetest.Tar(map[string]imagetest.File{"x": {Body: "y"}})},
		{"digest mismatch", "digest mismatch", imagetest.Tar(files)},
		{"config not JSON", "not valid JSON", notJSON.DockerArchive("bad:1")},
		{"layer does not match config", "diff ID", wrongDiff.DockerArchive("bad:1")},
		{"truncated", "", img.OCILayout("bad:1")[:1500]},
	}
	for _, c := range cases {
		// From a file, which unpacks as it reads, and from a pipe, which
		// stores the blobs first.
		for _, r := range []io.Reader{bytes.NewReader(c.archive), pipe{bytes.NewReader(c.archive)}} {
			t.Run(c.name, func(t *testing.T) {
				s := newStore(t)
				_, err := s.Load(context.Background(), r, nil)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Load = %v, want an error with %q", err, c.want)
				}
				sums, err := s.List()
				if err != nil || len(sums) != 0 {
					t.Errorf("images after a failed load: %+v, %v", sums, err)
				}
			})
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestDecompressionBomb(t *testing.T) {
	s := newStore(t)
	s.Limits = archive.Limits{MaxBytes: 1 << 20}
	big := imagetest.Tar(map[string]imagetest.File{"zeros": {Body: strings.Repeat("\x00", 4<<20)}})
	_, err := s.Import(context.Background(), bytes.NewReader(imagetest.Gzip(big)), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "1048576") {
		t.Fatalf("bomb: %v, want an error naming the limit", err)
	}
	if sums, _ := s.List(); len(sums) != 0 {
		t.Errorf("images after a bomb: %v", sums)
	}
}

// Loads of the same archive at once all succeed and unpack it once.
func TestConcurrentLoads(t *testing.T) {
	s := newStore(t)
	arch := imagetest.Build([][]byte{baseLayer, appLayer}, true).DockerArchive("same:1")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each load opens its own store, as separate commands do.
			s2, err := Open(s.root)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s2.Load(context.Background(), bytes.NewReader(arch), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, err := s.Collect(true); err != nil {
		t.Fatal(err)
	}
	if _, snaps := counts(t, s); snaps != 2 {
		t.Errorf("%d snapshot directories, want 2", snaps)
	}
}

// One archive with two images whose same top layer sits on different
// chains: the layer, unpacked once as the archive is read, serves one
// chain and is unpacked again for the other.
func TestLoadSameLayerOnTwoChains(t *testing.T) {
	s := newStore(t)
	a := imagetest.Build([][]byte{baseLayer, appLayer}, false)
	b := imagetest.Build([][]byte{otherLayer, appLayer}, false)
	// Two images in one OCI layout: blobs of both, index naming both.
	files := map[string]imagetest.File{
		"oci-layout": {Body: `{"imageLayoutVersion":"1.0.0"}`},
		"index.json": {Body: `{"schemaVersion":2,"manifests":[` +
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + a.ManifestDigest().String() + `","size":` + itoa(len(a.Manifest)) + `,"annotations":{"io.containerd.image.name":"docker.io/library/a:1"}},` +
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + b.ManifestDigest().String() + `","size":` + itoa(len(b.Manifest)) + `,"annotations":{"io.containerd.image.name":"docker.io/library/b:1"}}]}`},
	}
	for _, img := range []*imagetest.Image{a, b} {
		for _, blob := range append(img.Layers, img.Config, img.Manifest) {
			files["blobs/sha256/"+digest.FromBytes(blob).Encoded()] = imagetest.File{Body: string(blob)}
		}
	}
	got := load(t, s, imagetest.Tar(files))
	if len(got) != 2 {
		t.Fatalf("loaded %+v", got)
	}
	for _, name := range []string{"a:1", "b:1"} {
		dirs, err := s.Snaps.LowerDirs(mustLookup(t, s, name).Chain)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dirs[0], "app/main")); err != nil {
			t.Errorf("%s: top layer: %v", name, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(s.root, "snapshots"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "tmp-") {
			t.Errorf("temporary layer %s left", e.Name())
		}
	}
}
