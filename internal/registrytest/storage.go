package registrytest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// PutManifest stores manifest under repo:tag straight into the registry's
// storage, past the checks of its API, for tests of manifests that the
// registry would not take from a client, such as schema 1. The registry
// serves what it stores if it can parse it, as it does for old manifests.
// It returns the manifest's digest.
func (r *Registry) PutManifest(t testing.TB, repo, tag string, manifest []byte) string {
	t.Helper()
	sum := sha256.Sum256(manifest)
	hash := hex.EncodeToString(sum[:])
	dgst := "sha256:" + hash
	root := filepath.Join(r.Dir, "storage", "docker", "registry", "v2")
	repoDir := filepath.Join(root, "repositories", filepath.FromSlash(repo), "_manifests")
	for path, data := range map[string][]byte{
		filepath.Join(root, "blobs", "sha256", hash[:2], hash, "data"):       manifest,
		filepath.Join(repoDir, "revisions", "sha256", hash, "link"):          []byte(dgst),
		filepath.Join(repoDir, "tags", tag, "current", "link"):               []byte(dgst),
		filepath.Join(repoDir, "tags", tag, "index", "sha256", hash, "link"): []byte(dgst),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dgst
}

// Schema1Manifest returns a Docker schema 1 manifest for repo:tag without
// layers. Its signature block has the form the registry parses, but the
// signature itself is not valid: registries stopped taking schema 1
// pushes, and berth refuses such manifests before it would check one.
func Schema1Manifest(repo, tag string) []byte {
	body := fmt.Sprintf(`{"schemaVersion":1,"name":%q,"tag":%q,"architecture":"amd64","fsLayers":[],"history":[]`, repo, tag)
	protected := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil,
		`{"formatLength":%d,"formatTail":"fQ","time":"2020-01-01T00:00:00Z"}`, len(body)))
	return fmt.Appendf(nil, `%s,"signatures":[{"header":{"jwk":{"crv":"P-256","kty":"EC","x":"AA","y":"AA"},"alg":"ES256"},"signature":"AA","protected":%q}]}`,
		body, protected)
}
