package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"berth/internal/imagetest"
)

// berth runs the CLI with its own root and returns stdout, stderr and the
// exit code.
func berth(t *testing.T, root string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"berth", "--root", root}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func mustBerth(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, errs, code := berth(t, root, args...)
	if code != 0 {
		t.Fatalf("berth %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// imageFile writes an archive to a temp file and returns its path.
func imageFile(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImageCommands(t *testing.T) {
	root := t.TempDir()
	layer := imagetest.Tar(map[string]imagetest.File{"etc/": {Dir: true}, "etc/hostname": {Body: "x\n"}})
	img := imagetest.Build([][]byte{layer}, true, "sh")
	out := mustBerth(t, root, "load", "-i", imageFile(t, img.DockerArchive("app:1", "quay.io/org/app:2")))
	if out != "Loaded image: app:1\nLoaded image: quay.io/org/app:2\n" {
		t.Errorf("load said %q", out)
	}
	short := img.ConfigDigest.Encoded()[:12]

	out = mustBerth(t, root, "images")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "REPOSITORY TAG IMAGE ID CREATED SIZE" {
		t.Fatalf("images:\n%s", out)
	}
	if f := strings.Fields(lines[1]); f[0] != "app" || f[1] != "1" || f[2] != short {
		t.Errorf("first row %q", lines[1])
	}
	if got := mustBerth(t, root, "images", "-q"); got != short+"\n" {
		t.Errorf("images -q = %q", got)
	}
	if got := mustBerth(t, root, "images", "--format", "{{.Repository}}:{{.Tag}}", "quay.io/org/app"); got != "quay.io/org/app:2\n" {
		t.Errorf("images with a repository and a template = %q", got)
	}
	if got := mustBerth(t, root, "images", "-f", "reference=app*", "--format", "{{.Repository}}"); got != "app\n" {
		t.Errorf("reference filter = %q", got)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(strings.Split(mustBerth(t, root, "images", "--format", "json"), "\n")[0]), &row); err != nil || row["ID"] != short {
		t.Errorf("images --format json: %v, %v", row, err)
	}
	if _, errs, code := berth(t, root, "images", "-f", "color=blue"); code == 0 || !strings.Contains(errs, "color") {
		t.Errorf("unknown filter: exit %d, %q", code, errs)
	}
	if got := mustBerth(t, root, "image", "inspect", "-f", "{{.Id}} {{.Os}}", "app:1"); got != img.ConfigDigest.String()+" linux\n" {
		t.Errorf("inspect -f = %q", got)
	}
	mustBerth(t, root, "tag", "app:1", "app:latest")
	if got := mustBerth(t, root, "rmi", "app:latest"); got != "Untagged: app:latest\n" {
		t.Errorf("rmi of one name = %q", got)
	}
	if _, errs, code := berth(t, root, "rmi", short); code != 1 || !strings.Contains(errs, "must be forced") {
		t.Errorf("rmi by ID of a twice-named image: exit %d, %q", code, errs)
	}
	if _, errs, code := berth(t, root, "rmi", "nosuch"); code != 1 || !strings.Contains(errs, "No such image: nosuch") {
		t.Errorf("rmi of a missing image: exit %d, %q", code, errs)
	}
	out = mustBerth(t, root, "rmi", "-f", short)
	if !strings.Contains(out, "Untagged: app:1\n") || !strings.Contains(out, "Deleted: "+img.ConfigDigest.String()) {
		t.Errorf("rmi -f = %q", out)
	}
	if got := mustBerth(t, root, "images", "-q"); got != "" {
		t.Errorf("images after rmi = %q", got)
	}
}

func TestSaveRefusesTerminalAndLoadRejectsJunk(t *testing.T) {
	root := t.TempDir()
	if _, errs, code := berth(t, root, "load", "-i", imageFile(t, []byte("not a tar"))); code == 0 || !strings.Contains(errs, "not an image archive") {
		t.Errorf("load of junk: exit %d, %q", code, errs)
	}
	if _, errs, code := berth(t, root, "save", "-o", filepath.Join(t.TempDir(), "x.tar"), "nosuch:1"); code == 0 || !strings.Contains(errs, "No such image") {
		t.Errorf("save of a missing image: exit %d, %q", code, errs)
	}
	if _, errs, code := berth(t, root, "pull", "Not/Valid"); code == 0 || !strings.Contains(errs, "invalid reference format") {
		t.Errorf("pull of a bad name: exit %d, %q", code, errs)
	}
}

func TestImportWithChanges(t *testing.T) {
	root := t.TempDir()
	layer := imagetest.Tar(map[string]imagetest.File{"bin/": {Dir: true}, "bin/app": {Body: "x", Mode: 0o755}})
	p := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	os.WriteFile(p, imagetest.Gzip(layer), 0o644)
	id := strings.TrimSpace(mustBerth(t, root, "import", "-c", `ENTRYPOINT ["/bin/app"]`, "-c", "USER 1000", "-m", "hello", p, "imp:1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import printed %q", id)
	}
	got := mustBerth(t, root, "image", "inspect", "-f", "{{json .Config.Entrypoint}} {{.Config.User}}", "imp:1")
	if got != `["/bin/app"] 1000`+"\n" {
		t.Errorf("config after --change: %q", got)
	}
	if h := mustBerth(t, root, "history", "--format", "{{.Comment}}", "imp:1"); h != "hello\n" {
		t.Errorf("history comment = %q", h)
	}
}
