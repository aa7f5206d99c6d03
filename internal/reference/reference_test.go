package reference

import (
	"errors"
	"strings"
	"testing"

	"berth/internal/errdefs"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in                        string
		full, familiar            string
		domain, path, tag, digest string
		repository, familiarRepo  string
	}{
		{in: "busybox", full: "docker.io/library/busybox:latest", familiar: "busybox:latest",
			domain: "docker.io", path: "library/busybox", tag: "latest",
			repository: "docker.io/library/busybox", familiarRepo: "busybox"},
		{in: "user/app", full: "docker.io/user/app:latest", familiar: "user/app:latest",
			domain: "docker.io", path: "user/app", tag: "latest",
			repository: "docker.io/user/app", familiarRepo: "user/app"},
		{in: "library/busybox:1.36", full: "docker.io/library/busybox:1.36", familiar: "busybox:1.36",
			domain: "docker.io", path: "library/busybox", tag: "1.36",
			repository: "docker.io/library/busybox", familiarRepo: "busybox"},
		{in: "docker.io/busybox", full: "docker.io/library/busybox:latest", familiar: "busybox:latest",
			domain: "docker.io", path: "library/busybox", tag: "latest",
			repository: "docker.io/library/busybox", familiarRepo: "busybox"},
		{in: "index.docker.io/user/app:v1", full: "docker.io/user/app:v1", familiar: "user/app:v1",
			domain: "docker.io", path: "user/app", tag: "v1",
			repository: "docker.io/user/app", familiarRepo: "user/app"},
		{in: "library/a/b", full: "docker.io/library/a/b:latest", familiar: "library/a/b:latest",
			domain: "docker.io", path: "library/a/b", tag: "latest",
			repository: "docker.io/library/a/b", familiarRepo: "library/a/b"},
		{in: "host:5000/ns/name:tag", full: "host:5000/ns/name:tag", familiar: "host:5000/ns/name:tag",
			domain: "host:5000", path: "ns/name", tag: "tag",
			repository: "host:5000/ns/name", familiarRepo: "host:5000/ns/name"},
		{in: "localhost/x", full: "localhost/x:latest", familiar: "localhost/x:latest",
			domain: "localhost", path: "x", tag: "latest",
			repository: "localhost/x", familiarRepo: "localhost/x"},
		{in: "localhost:5000/x", full: "localhost:5000/x:latest", familiar: "localhost:5000/x:latest",
			domain: "localhost:5000", path: "x", tag: "latest",
			repository: "localhost:5000/x", familiarRepo: "localhost:5000/x"},
		{in: "example.com/x", full: "example.com/x:latest", familiar: "example.com/x:latest",
			domain: "example.com", path: "x", tag: "latest",
			repository: "example.com/x", familiarRepo: "example.com/x"},
		{in: "127.0.0.1:5000/a/b/c:T_1.x-y", full: "127.0.0.1:5000/a/b/c:T_1.x-y", familiar: "127.0.0.1:5000/a/b/c:T_1.x-y",
			domain: "127.0.0.1:5000", path: "a/b/c", tag: "T_1.x-y",
			repository: "127.0.0.1:5000/a/b/c", familiarRepo: "127.0.0.1:5000/a/b/c"},
		{in: "[::1]:5000/x", full: "[::1]:5000/x:latest", familiar: "[::1]:5000/x:latest",
			domain: "[::1]:5000", path: "x", tag: "latest",
			repository: "[::1]:5000/x", familiarRepo: "[::1]:5000/x"},
		{in: "Foo/bar", full: "Foo/bar:latest", familiar: "Foo/bar:latest",
			domain: "Foo", path: "bar", tag: "latest",
			repository: "Foo/bar", familiarRepo: "Foo/bar"},
		{in: "docker.io/a.b/c", full: "docker.io/a.b/c:latest", familiar: "docker.io/a.b/c:latest",
			domain: "docker.io", path: "a.b/c", tag: "latest",
			repository: "docker.io/a.b/c", familiarRepo: "docker.io/a.b/c"},
		{in: "localhost:5000", full: "docker.io/library/localhost:5000", familiar: "localhost:5000",
			domain: "docker.io", path: "library/localhost", tag: "5000",
			repository: "docker.io/library/localhost", familiarRepo: "localhost"},
		{in: "a__b-c---d/e_f.g", full: "docker.io/a__b-c---d/e_f.g:latest", familiar: "a__b-c---d/e_f.g:latest",
			domain: "docker.io", path: "a__b-c---d/e_f.g", tag: "latest",
			repository: "docker.io/a__b-c---d/e_f.g", familiarRepo: "a__b-c---d/e_f.g"},
		{in: "busybox@sha256:" + hex64, full: "docker.io/library/busybox@sha256:" + hex64, familiar: "busybox@sha256:" + hex64,
			domain: "docker.io", path: "library/busybox", digest: "sha256:" + hex64,
			repository: "docker.io/library/busybox", familiarRepo: "busybox"},
		{in: "busybox:1@sha256:" + hex64, full: "docker.io/library/busybox:1@sha256:" + hex64, familiar: "busybox:1@sha256:" + hex64,
			domain: "docker.io", path: "library/busybox", tag: "1", digest: "sha256:" + hex64,
			repository: "docker.io/library/busybox", familiarRepo: "busybox"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			for _, c := range []struct{ what, got, want string }{
				{"String", r.String(), tc.full},
				{"Familiar", r.Familiar(), tc.familiar},
				{"Domain", r.Domain(), tc.domain},
				{"Path", r.Path(), tc.path},
				{"Tag", r.Tag(), tc.tag},
				{"Digest", string(r.Digest()), tc.digest},
				{"Repository", r.Repository(), tc.repository},
				{"FamiliarRepository", r.FamiliarRepository(), tc.familiarRepo},
			} {
				if c.got != c.want {
					t.Errorf("%s() = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "invalid reference format"},
		{"Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"},
		{"library/Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"},
		{"host:5000/Ns/x", "invalid reference format: repository name (Ns/x) must be lowercase"},
		{hex64, "invalid repository name (" + hex64 + "), cannot specify 64-byte hexadecimal strings"},
		{"busybox:", "invalid reference format"},
		{"busybox:-x", "invalid reference format"},
		{"busybox@sha256:abc", "invalid reference format"},
		{"busybox@sha256:" + hex64[:40], "invalid checksum digest length"},
		{"busybox@md5:" + hex64[:32], "unsupported digest algorithm"},
		{"a//b", "invalid reference format"},
		{"-a/b", "invalid reference format"},
		{"a/b/", "invalid reference format"},
		{"host:port/x", "invalid reference format"},
		{"a_b.c/x", "invalid reference format"},
		{"x:" + strings.Repeat("t", 129), "invalid reference format"},
		{strings.Repeat("a", 256), "repository name must not be more than 255 characters"},
	} {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want %q", tc.in, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, err, tc.want)
		}
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Parse(%q) error is not errdefs.ErrInvalid", tc.in)
		}
	}
}

func TestParseRepository(t *testing.T) {
	r, err := ParseRepository("busybox")
	if err != nil {
		t.Fatal(err)
	}
	if r.String() != "docker.io/library/busybox" || r.Tag() != "" {
		t.Errorf("ParseRepository(busybox) = %q tag %q", r, r.Tag())
	}
	for _, bad := range []string{"busybox:latest", "busybox@sha256:" + hex64, "Busybox", ""} {
		if _, err := ParseRepository(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseRepository(%q) = %v, want an ErrInvalid", bad, err)
		}
	}
}

func TestWithTagDigest(t *testing.T) {
	r, _ := Parse("busybox")
	tagged, err := r.WithTag("1.36")
	if err != nil || tagged.String() != "docker.io/library/busybox:1.36" {
		t.Errorf("WithTag = %q, %v", tagged, err)
	}
	if _, err := r.WithTag("-bad"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("WithTag(-bad) = %v", err)
	}
	d := digest.Digest("sha256:" + hex64)
	both, err := tagged.WithDigest(d)
	if err != nil || both.String() != "docker.io/library/busybox:1.36@"+string(d) {
		t.Errorf("WithDigest = %q, %v", both, err)
	}
	if _, err := r.WithDigest("sha256:xyz"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("WithDigest(bad) = %v", err)
	}
	if n := both.Name(); n.String() != "docker.io/library/busybox" || n.Tag() != "" || n.Digest() != "" {
		t.Errorf("Name() = %q", n)
	}
}

func TestNameReference(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"busybox", "index.docker.io/library/busybox:latest"},
		{"user/app:v1", "index.docker.io/user/app:v1"},
		{"127.0.0.1:5000/x:y", "127.0.0.1:5000/x:y"},
		{"busybox:1@sha256:" + hex64, "index.docker.io/library/busybox@sha256:" + hex64},
	} {
		r, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		n, err := r.NameReference()
		if err != nil {
			t.Fatalf("NameReference(%s): %v", r, err)
		}
		if n.Name() != tc.want {
			t.Errorf("NameReference(%s) = %q, want %q", r, n.Name(), tc.want)
		}
		back, err := FromNameReference(n)
		if err != nil {
			t.Fatalf("FromNameReference(%s): %v", n, err)
		}
		want := r
		if r.Digest() != "" {
			want = Ref{domain: r.domain, path: r.path, digest: r.digest}
		}
		if back != want {
			t.Errorf("FromNameReference(%s) = %s, want %s", n, back, want)
		}
	}
	n, err := name.ParseReference("ubuntu")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := FromNameReference(n); err != nil || r.String() != "docker.io/library/ubuntu:latest" {
		t.Errorf("FromNameReference(ubuntu) = %s, %v", r, err)
	}
	if _, err := (Ref{}).NameReference(); err == nil {
		t.Error("NameReference of the zero Ref succeeded")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"busybox", "user/app:tag", "host:5000/ns/name:tag", "localhost/x",
		"busybox@sha256:" + hex64, "a:b@sha256:" + hex64, "[::1]:5000/x",
		"Foo/bar", "docker.io/x", "index.docker.io/library/y", "a__b/c-d.e", "docker.io/0.0/0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if r != (Ref{}) {
				t.Fatalf("Parse(%q) failed but returned %#v", s, r)
			}
			return
		}
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, r, err)
		}
		if again != r {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v", s, r, r.String(), again)
		}
		fam, err := Parse(r.Familiar())
		if err != nil || fam != r {
			t.Fatalf("Parse(Familiar(%q) = %q) = %#v, %v; want %#v", s, r.Familiar(), fam, err, r)
		}
	})
}

func TestParseLong(t *testing.T) {
	for _, s := range []string{strings.Repeat("a", 1000), "a:" + strings.Repeat("b", 1020), "a@sha256:" + strings.Repeat("0", 1014)} {
		if _, err := Parse(s); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Parse(%d characters) = %v, want an ErrInvalid", len(s), err)
		}
	}
	if _, err := Parse(strings.Repeat("a", 5000)); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Parse(5000 characters) = %v", err)
	}
}

// FuzzSimple: where parseSimple reads a reference, the grammar's regular
// expressions read the same.
func FuzzSimple(f *testing.F) {
	for _, s := range []string{
		"docker.io/library/busybox", "docker.io/library/busybox:1.36", "docker.io/a__b/c-d.e:T_1",
		"docker.io/a___b/c", "docker.io/a._b", "docker.io/a--b-c/d", "docker.io/-a", "docker.io/a-",
		"docker.io/A/b", "docker.io/a:", "docker.io/a:.b", "docker.io/a:b:c", "docker.io/a/b:" + strings.Repeat("t", 128),
		"docker.io/a/b:" + strings.Repeat("t", 129), "docker.io//a", "docker.io/a/", "docker.io/a@sha256:" + hex64,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		simple, ok := parseSimple(s)
		if !ok {
			return
		}
		full, err := parseFull(s)
		if err != nil || full != simple {
			t.Fatalf("parseSimple(%q) = %#v; the grammar gives %#v, %v", s, simple, full, err)
		}
	})
}
