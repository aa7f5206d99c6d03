package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Compression is how a layer blob is compressed.
type Compression int

const (
	None Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// zstdMaxWindow is the largest zstd window, and so the most memory, that a
// layer may make the decoder use. It is what the zstd tool itself accepts
// without being told --memory: 128 MiB, the window of `zstd --long`.
const zstdMaxWindow = 128 << 20

// Decompress returns the tar stream that r holds, telling gzip and zstd
// from a plain tar by the first bytes, so that a layer's media type need
// not be trusted (Docker labels some zstd layers as gzip). Closing the
// result releases the decompressor, not r.
//
// Gzip is decoded by pgzip, in a goroutine of its own that reads ahead
// (four 1 MiB blocks) while Apply writes files: on a 2-core host this
// unpacks a layer 10 to 20% faster than klauspost/compress/gzip decoding
// in Apply's goroutine, though either decodes alone at the same speed.
// zstd decodes blocks ahead in goroutines too.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(len(zstdMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, None, fmt.Errorf("read layer: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, gzipMagic):
		zr, err := pgzip.NewReader(br)
		if err != nil {
			return nil, Gzip, fmt.Errorf("gzip layer: %w", err)
		}
		return zr, Gzip, nil
	case bytes.HasPrefix(magic, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, Zstd, fmt.Errorf("zstd layer: %w", err)
		}
		return zr.IOReadCloser(), Zstd, nil
	}
	return io.NopCloser(br), None, nil
}
