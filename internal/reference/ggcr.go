package reference

import (
	"fmt"

	"berth/internal/errdefs"

	"github.com/google/go-containerregistry/pkg/name"
)

// ggcrDockerHub is what go-containerregistry calls Docker Hub.
const ggcrDockerHub = "index.docker.io"

// NameReference returns r as a go-containerregistry reference: a
// name.Digest when r has a digest (the digest wins over a tag), otherwise
// a name.Tag. Docker Hub becomes "index.docker.io", as go-containerregistry
// names it. The options are name's, such as name.Insecure.
func (r Ref) NameReference(opts ...name.Option) (name.Reference, error) {
	if r.IsZero() {
		return nil, errdefs.Invalidf("empty image reference")
	}
	domain := r.domain
	if domain == DefaultDomain {
		domain = ggcrDockerHub
	}
	opts = append(opts, name.StrictValidation)
	repo := domain + "/" + r.path
	if r.digest != "" {
		return name.NewDigest(repo+"@"+string(r.digest), opts...)
	}
	if r.tag == "" {
		return nil, errdefs.Invalidf("reference %s names neither tag nor digest", r)
	}
	return name.NewTag(repo+":"+r.tag, opts...)
}

// FromNameReference converts a go-containerregistry reference back into a
// Ref, mapping "index.docker.io" to "docker.io".
func FromNameReference(n name.Reference) (Ref, error) {
	repo := n.Context()
	domain := repo.RegistryStr()
	if domain == ggcrDockerHub {
		domain = DefaultDomain
	}
	s := domain + "/" + repo.RepositoryStr()
	switch n := n.(type) {
	case name.Tag:
		s += ":" + n.TagStr()
	case name.Digest:
		s += "@" + n.DigestStr()
	default:
		return Ref{}, errdefs.Invalidf("unknown reference type %T", n)
	}
	r, err := parseNormalized(s)
	if err != nil {
		return Ref{}, fmt.Errorf("converting %s: %w", n, err)
	}
	return r, nil
}
