// Package content stores blobs (layers, image configs, manifests) under
// their digest, so that a blob shared by many images is stored once and a
// blob is never stored unless it matches its digest.
//
// A blob is written to a temporary file in ingest/, checked against the
// digest and size it was announced with, fsynced, and only then renamed
// into blobs/. A crash leaves at most a stray file in ingest/, which
// CleanIngest removes; blobs/ only ever holds whole, verified blobs.
package content

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
)

// Store is a directory of blobs. Several processes may use one at once.
type Store struct {
	root string
}

// New opens (creating if need be) the store at root.
func New(root string) (*Store, error) {
	for _, d := range []string{"blobs/sha256", "ingest"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("content store: %w", err)
		}
	}
	return &Store{root: root}, nil
}

// Path is where blob d lives, whether or not it is there.
func (s *Store) Path(d digest.Digest) string {
	return filepath.Join(s.root, "blobs", d.Algorithm().String(), d.Encoded())
}

func checkDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return errdefs.Invalidf("invalid digest %q: %v", d, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return errdefs.Unsupportedf("digest %s: only sha256 is supported", d)
	}
	return nil
}

// Size returns the size of blob d, or an errdefs.ErrNotFound error.
func (s *Store) Size(d digest.Digest) (int64, error) {
	if err := checkDigest(d); err != nil {
		return 0, err
	}
	fi, err := os.Stat(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errdefs.NotFoundf("blob %s not found", d)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Has reports whether blob d is stored.
func (s *Store) Has(d digest.Digest) bool {
	_, err := s.Size(d)
	return err == nil
}

// Open opens blob d for reading.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	if err := checkDigest(d); err != nil {
		return nil, err
	}
	f, err := os.Open(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFoundf("blob %s not found", d)
	}
	return f, err
}

// ReadAll reads blob d whole, refusing one larger than max bytes: small
// blobs (manifests, configs) are read this way, and a bound keeps a
// hostile one from filling memory.
func (s *Store) ReadAll(d digest.Digest, max int64) ([]byte, error) {
	f, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errdefs.Invalidf("blob %s is larger than %d bytes", d, max)
	}
	return b, nil
}

// Put stores data, which must match expected unless expected is empty,
// and returns its digest.
func (s *Store) Put(data []byte, expected digest.Digest) (digest.Digest, error) {
	w, err := s.Writer(expected, int64(len(data)))
	if err != nil {
		return "", err
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		return "", err
	}
	return w.Commit()
}

// Delete removes blob d. A blob that is not there is not an error.
func (s *Store) Delete(d digest.Digest) error {
	if err := checkDigest(d); err != nil {
		return err
	}
	if err := os.Remove(s.Path(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Walk calls fn for every stored blob.
func (s *Store) Walk(fn func(d digest.Digest, size int64) error) error {
	dir := filepath.Join(s.root, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if err := fn(d, fi.Size()); err != nil {
			return err
		}
	}
	return nil
}

// CleanIngest removes temporary files older than age: what a killed
// writer left behind. Files of writers still running are younger.
func (s *Store) CleanIngest(age time.Duration) error {
	dir := filepath.Join(s.root, "ingest")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-age)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return nil
}
