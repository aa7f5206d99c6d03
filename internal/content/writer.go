package content

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"berth/internal/errdefs"
)

// Writer receives one blob. Nothing is visible in the store until Commit
// has verified it; Close without Commit discards it.
type Writer struct {
	s        *Store
	f        *os.File
	h        digest.Digester
	n        int64
	expected digest.Digest
	size     int64
	done     bool
}

// Writer starts a blob that must have digest expected and size bytes.
// An empty expected or a negative size is not checked: the digest is
// then whatever was written.
func (s *Store) Writer(expected digest.Digest, size int64) (*Writer, error) {
	if expected != "" {
		if err := checkDigest(expected); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), "blob-")
	if err != nil {
		return nil, fmt.Errorf("content store: %w", err)
	}
	return &Writer{s: s, f: f, h: digest.SHA256.Digester(), expected: expected, size: size}, nil
}

// Write adds p to the blob. Writing past the announced size fails at
// once, so an oversized blob is never downloaded in full.
func (w *Writer) Write(p []byte) (int, error) {
	if w.size >= 0 && w.n+int64(len(p)) > w.size {
		return 0, errdefs.Invalidf("blob %s: more than the %d bytes announced", w.expected, w.size)
	}
	n, err := w.f.Write(p)
	w.h.Hash().Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Written is the number of bytes written so far.
func (w *Writer) Written() int64 { return w.n }

// Commit checks the blob, makes it durable and moves it into the store.
func (w *Writer) Commit() (digest.Digest, error) {
	if w.done {
		return "", errors.New("content store: blob already committed or closed")
	}
	defer w.Close()
	got := w.h.Digest()
	if w.size >= 0 && w.n != w.size {
		return "", errdefs.Invalidf("blob %s: size mismatch: expected %d bytes, got %d", orDigest(w.expected, got), w.size, w.n)
	}
	if w.expected != "" && got != w.expected {
		return "", errdefs.Invalidf("digest mismatch: expected %s, got %s", w.expected, got)
	}
	dst := w.s.Path(got)
	if _, err := os.Stat(dst); err == nil {
		return got, nil // already stored, by us or by another process
	}
	if err := w.f.Sync(); err != nil {
		return "", fmt.Errorf("content store: %w", err)
	}
	if err := w.f.Chmod(0o444); err != nil {
		return "", fmt.Errorf("content store: %w", err)
	}
	if err := os.Rename(w.f.Name(), dst); err != nil {
		return "", fmt.Errorf("content store: %w", err)
	}
	w.done = true
	w.f.Close()
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return "", fmt.Errorf("content store: %w", err)
	}
	return got, nil
}

// Close discards the blob unless it was committed.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func orDigest(a, b digest.Digest) digest.Digest {
	if a != "" {
		return a
	}
	return b
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
