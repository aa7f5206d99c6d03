package image

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Source is where an image comes from: a registry or an archive.
type Source interface {
	// Fetch returns the image's manifest and config, already read.
	Fetch(ctx context.Context) (*Fetched, error)
	// Blob opens one of the image's blobs (a layer).
	Blob(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error)
}

// Fetched is an image's small blobs, read and checked by the source.
type Fetched struct {
	// Target is the descriptor of what was asked for: an index or a
	// manifest.
	Target ocispec.Descriptor
	// Manifest is the descriptor of the platform's manifest.
	Manifest ocispec.Descriptor
	// Config is the descriptor of the image config, and Layers those of
	// its layers, bottom first.
	Config ocispec.Descriptor
	Layers []ocispec.Descriptor
	// Raw holds the bytes of the index (if any), manifest and config by
	// digest; they are stored as they came.
	Raw map[digest.Digest][]byte
	// Unpacked are layers already unpacked into temporary snapshot
	// directories, by blob digest (a load unpacks as it reads).
	Unpacked map[digest.Digest]preUnpacked
}

// Progress receives what an ingest does to each layer.
type Progress interface {
	Layer(d ocispec.Descriptor) LayerProgress
}

// LayerProgress follows one layer.
type LayerProgress interface {
	// Status says what is happening: "Waiting", "Downloading",
	// "Extracting", "Already exists", "Pull complete".
	Status(s string)
	// Add counts n more bytes of the layer's blob read.
	Add(n int64)
	// Done ends the layer, with its error if it failed.
	Done(err error)
}

type noProgress struct{}

func (noProgress) Layer(ocispec.Descriptor) LayerProgress { return noProgress{} }
func (noProgress) Status(string)                          {}
func (noProgress) Add(int64)                              {}
func (noProgress) Done(error)                             {}

// countingReader reports bytes read to a LayerProgress.
type countingReader struct {
	r io.Reader
	p LayerProgress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.p.Add(int64(n))
	}
	return n, err
}
