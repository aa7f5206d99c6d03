package registry

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Progress receives the progress of blob transfers, for progress bars.
// It is called from the goroutine that moves the blob, so several blobs
// may report at once; it should return quickly.
type Progress func(Update)

// Update is the state of one blob's transfer.
type Update struct {
	// Descriptor is the blob's: digest, size and media type.
	Descriptor ocispec.Descriptor
	// Done is how many bytes have been transferred so far.
	Done  int64
	State State
}

// State is where a blob's transfer stands.
type State int

const (
	// Transferring: bytes are moving; Done grows.
	Transferring State = iota
	// Complete: all bytes have moved and, on a pull, matched the digest.
	Complete
	// Exists: the registry had the blob already; nothing was sent.
	Exists
	// Mounted: the registry linked the blob from another repository.
	Mounted
)

func (s State) String() string {
	switch s {
	case Transferring:
		return "transferring"
	case Complete:
		return "complete"
	case Exists:
		return "exists"
	case Mounted:
		return "mounted"
	}
	return "unknown"
}

func (p Progress) report(desc ocispec.Descriptor, done int64, s State) {
	if p != nil {
		p(Update{Descriptor: desc, Done: done, State: s})
	}
}

// progressLayer reports the reads of its compressed stream, which is
// what an upload sends.
type progressLayer struct {
	v1.Layer
	desc     ocispec.Descriptor
	progress Progress
}

func (l *progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil || l.progress == nil {
		return rc, err
	}
	return &progressReader{rc: rc, desc: l.desc, progress: l.progress}, nil
}

type progressReader struct {
	rc       io.ReadCloser
	desc     ocispec.Descriptor
	n        int64
	progress Progress
}

func (r *progressReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n += int64(n)
	if n > 0 {
		r.progress.report(r.desc, r.n, Transferring)
	}
	if err == io.EOF {
		r.progress.report(r.desc, r.n, Complete)
	}
	return n, err
}

func (r *progressReader) Close() error { return r.rc.Close() }
