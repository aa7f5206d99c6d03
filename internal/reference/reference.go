// Package reference parses image references the way Docker does, so that
// `berth pull busybox` and `docker pull busybox` name the same image:
// docker.io/library/busybox:latest. Every layer that takes a name from a
// user, an image or a registry goes through Parse, and what it prints back
// comes from Familiar, as `docker images` shows it.
package reference

import (
	// Register the hash functions that digests in references may name.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"strings"

	"berth/internal/errdefs"

	"github.com/opencontainers/go-digest"
)

const (
	// DefaultDomain is the registry of names without one: Docker Hub.
	DefaultDomain = "docker.io"
	// DefaultTag is the tag of a reference that names neither tag nor digest.
	DefaultTag = "latest"

	legacyDefaultDomain = "index.docker.io"
	officialRepoPrefix  = "library/"
	maxNameLength       = 255
	// maxLength bounds the input before any regular expression sees it:
	// a name, a tag and a sha512 digest fit in well under it.
	maxLength = 1024
)

// Ref is a parsed, normalized image reference. The zero Ref is no reference.
// Refs are comparable with ==.
type Ref struct {
	domain string
	path   string
	tag    string
	digest digest.Digest
}

// Parse parses a reference as `docker pull` does and normalizes it:
//
//	busybox                -> docker.io/library/busybox:latest
//	user/app               -> docker.io/user/app:latest
//	localhost/x            -> localhost/x:latest
//	host:5000/ns/name:tag  -> host:5000/ns/name:tag
//	name@sha256:<hex>      -> docker.io/library/name@sha256:<hex>
//
// The first path component is a registry when it contains "." or ":", is
// "localhost", or has upper case letters; otherwise the name is on Docker
// Hub. A reference without tag and digest gets the tag "latest"; one with
// both keeps both, and the digest is what a pull fetches.
// Errors are errdefs.ErrInvalid and read as Docker's.
func Parse(s string) (Ref, error) {
	r, err := parseNormalized(s)
	if err != nil {
		return Ref{}, err
	}
	if r.tag == "" && r.digest == "" {
		r.tag = DefaultTag
	}
	return r, nil
}

// ParseRepository parses a repository name such as "busybox" or
// "host:5000/ns/app", normalized as Parse does, for commands that filter
// by repository. The name may carry neither tag nor digest.
func ParseRepository(s string) (Ref, error) {
	r, err := parseNormalized(s)
	if err != nil {
		return Ref{}, err
	}
	if r.tag != "" || r.digest != "" {
		return Ref{}, errdefs.Invalidf("invalid repository name (%s): it names a tag or digest", s)
	}
	return r, nil
}

func parseNormalized(s string) (Ref, error) {
	if len(s) > maxLength {
		return Ref{}, errdefs.Invalidf("invalid reference format: longer than %d characters", maxLength)
	}
	if isIdentifier(s) {
		return Ref{}, errdefs.Invalidf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, remainder := splitDockerDomain(s)
	remote, _, _ := strings.Cut(remainder, ":")
	if strings.ToLower(remote) != remote {
		return Ref{}, errdefs.Invalidf("invalid reference format: repository name (%s) must be lowercase", remote)
	}
	r, err := parse(domain + "/" + remainder)
	if err != nil {
		return Ref{}, err
	}
	if r.domain != domain {
		// The first component looked like a registry but is not a valid
		// host name, as in "a_b.c/x".
		return Ref{}, errdefs.Invalidf("invalid reference format")
	}
	return r, nil
}

// splitDockerDomain splits a name into its registry and the rest, and
// names Docker Hub's official images "library/...".
func splitDockerDomain(name string) (domain, remainder string) {
	first, rest, found := strings.Cut(name, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first) {
		domain, remainder = DefaultDomain, name
	} else {
		domain, remainder = first, rest
	}
	if domain == legacyDefaultDomain {
		domain = DefaultDomain
	}
	if domain == DefaultDomain && !strings.ContainsRune(remainder, '/') {
		remainder = officialRepoPrefix + remainder
	}
	return domain, remainder
}

// parse parses a full reference, domain included.
func parse(s string) (Ref, error) {
	if r, ok := parseSimple(s); ok {
		return r, nil
	}
	return parseFull(s)
}

// parseFull is parse by the grammar's regular expressions.
func parseFull(s string) (Ref, error) {
	m := referenceRegexp().FindStringSubmatch(s)
	if m == nil {
		if referenceRegexp().MatchString(strings.ToLower(s)) {
			return Ref{}, errdefs.Invalidf("repository name must be lowercase")
		}
		return Ref{}, errdefs.Invalidf("invalid reference format")
	}
	name, tag, dgst := m[1], m[2], m[3]
	if len(name) > maxNameLength {
		return Ref{}, errdefs.Invalidf("repository name must not be more than %d characters", maxNameLength)
	}
	nm := nameRegexp().FindStringSubmatch(name)
	r := Ref{domain: nm[1], path: nm[2], tag: tag}
	if dgst != "" {
		d, err := digest.Parse(dgst)
		if err != nil {
			return Ref{}, errdefs.Invalidf("%v", err)
		}
		r.digest = d
	}
	return r, nil
}

// IsZero reports whether r is the zero Ref.
func (r Ref) IsZero() bool { return r == Ref{} }

// Domain is the registry: "docker.io", "localhost", "host:5000".
func (r Ref) Domain() string { return r.domain }

// Path is the repository within the registry: "library/busybox".
func (r Ref) Path() string { return r.path }

// Tag is the tag, or "" when the reference names only a digest.
func (r Ref) Tag() string { return r.tag }

// Digest is the digest, or "" when the reference names only a tag.
func (r Ref) Digest() digest.Digest { return r.digest }

// Repository is the full repository name: "docker.io/library/busybox".
func (r Ref) Repository() string {
	if r.IsZero() {
		return ""
	}
	return r.domain + "/" + r.path
}

// FamiliarRepository is the repository as Docker shows it: "busybox",
// "user/app", "host:5000/x". A Docker Hub path whose first component
// would read as a registry, as in "docker.io/a.b/c", keeps its domain.
func (r Ref) FamiliarRepository() string {
	if r.domain != DefaultDomain {
		return r.Repository()
	}
	if rest, ok := strings.CutPrefix(r.path, officialRepoPrefix); ok && !strings.Contains(rest, "/") {
		return rest
	}
	if domain, _ := splitDockerDomain(r.path); domain != DefaultDomain {
		return r.Repository()
	}
	return r.path
}

// String is the full reference: "docker.io/library/busybox:latest".
func (r Ref) String() string { return r.Repository() + r.suffix() }

// Familiar is the reference as `docker images` shows it:
// "busybox:latest", "user/app:latest", "host:5000/x:tag".
func (r Ref) Familiar() string { return r.FamiliarRepository() + r.suffix() }

func (r Ref) suffix() string {
	var s string
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + string(r.digest)
	}
	return s
}

// WithTag returns r with its tag set to tag, keeping its digest.
func (r Ref) WithTag(tag string) (Ref, error) {
	if !isTag(tag) {
		return Ref{}, errdefs.Invalidf("invalid tag format")
	}
	r.tag = tag
	return r, nil
}

// WithDigest returns r with its digest set to d, keeping its tag.
func (r Ref) WithDigest(d digest.Digest) (Ref, error) {
	if err := d.Validate(); err != nil {
		return Ref{}, errdefs.Invalidf("invalid digest %q: %v", d, err)
	}
	r.digest = d
	return r, nil
}

// Name returns the repository alone, without tag and digest.
func (r Ref) Name() Ref { return Ref{domain: r.domain, path: r.path} }
