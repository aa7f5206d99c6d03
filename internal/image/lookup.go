package image

import (
	"errors"
	"regexp"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
	"berth/internal/metadata"
	"berth/internal/reference"
)

var hexPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(sha256:)?[a-f0-9]{1,64}$`) })

// Lookup finds the image a user means by arg, as Docker does: a name
// ("busybox", "host:5000/app:1"), a name with a digest, a full image ID
// ("sha256:..."), or a unique prefix of one.
func (s *Store) Lookup(arg string) (*metadata.Image, error) {
	var img *metadata.Image
	err := s.DB.View(func(tx *metadata.Tx) error {
		var err error
		img, err = lookup(tx, arg)
		return err
	})
	return img, err
}

func lookup(tx *metadata.Tx, arg string) (*metadata.Image, error) {
	if ref, err := reference.Parse(arg); err == nil {
		if img, err := byRef(tx, ref); err == nil || !errors.Is(err, errdefs.ErrNotFound) {
			return img, err
		}
	}
	if hexPrefix().MatchString(arg) {
		return byIDPrefix(tx, strings.TrimPrefix(arg, "sha256:"), arg)
	}
	return nil, errdefs.NotFoundf("No such image: %s", arg)
}

func byRef(tx *metadata.Tx, ref reference.Ref) (*metadata.Image, error) {
	if d := ref.Digest(); d != "" {
		want := ref.Repository() + "@" + d.String()
		var found *metadata.Image
		err := tx.Images(func(img *metadata.Image) error {
			for _, rd := range img.RepoDigests {
				if rd == want {
					found = img
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if found == nil {
			return nil, errdefs.NotFoundf("No such image: %s", ref.Familiar())
		}
		return found, nil
	}
	id, err := tx.Name(ref.String())
	if err != nil {
		return nil, errdefs.NotFoundf("No such image: %s", ref.Familiar())
	}
	return tx.Image(id)
}

func byIDPrefix(tx *metadata.Tx, prefix, arg string) (*metadata.Image, error) {
	var found []*metadata.Image
	err := tx.Images(func(img *metadata.Image) error {
		if strings.HasPrefix(img.ID.Encoded(), prefix) {
			found = append(found, img)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, errdefs.NotFoundf("No such image: %s", arg)
	case 1:
		return found[0], nil
	}
	return nil, errdefs.Invalidf("image ID prefix %q is ambiguous: it matches %d images", arg, len(found))
}

// namesOf returns the names that point at image id.
func namesOf(tx *metadata.Tx, id digest.Digest) ([]string, error) {
	var names []string
	err := tx.Names(func(name string, target digest.Digest) error {
		if target == id {
			names = append(names, name)
		}
		return nil
	})
	return names, err
}

// ShortID is an image ID as Docker prints it by default.
func ShortID(id digest.Digest) string {
	e := id.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}
