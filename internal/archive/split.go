package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"
)

// A split record keeps every byte of a layer's tar stream except the
// files' contents: the raw headers, the padding, and whatever follows the
// end-of-archive marker, in tar-split's format (JSON lines of
// storage.Entry, gzip-compressed), as Docker and containers/storage keep
// it. With the directory the layer was unpacked into, it gives back the
// exact tar stream (Rebuild), so a layer's uncompressed blob need not be
// kept beside its files. The file entries carry no checksum: whoever
// rebuilds a layer checks the whole stream against its digest.

// Splitter passes a tar stream through unchanged while it writes its
// split record.
type Splitter struct {
	r    io.ReadCloser
	done <-chan error
	zw   *gzip.Writer
	enc  *json.Encoder
	err  error
}

// Split returns a Splitter that reads the tar stream r and writes its
// split record to rec. Read the Splitter to its end (EOF), then call
// Finish; or Close it to give up.
func Split(r io.Reader, rec io.Writer) *Splitter {
	s := &Splitter{zw: gzip.NewWriter(rec)}
	s.enc = json.NewEncoder(s.zw)
	// The error is always nil: it is there for an API that once had one.
	s.r, s.done, _ = asm.NewInputTarStreamWithDone(r, s, &discardPutter{buf: make([]byte, 256<<10)})
	return s
}

// Read reads the tar stream.
func (s *Splitter) Read(p []byte) (int, error) { return s.r.Read(p) }

// AddEntry writes one entry of the record; the splitting goroutine calls
// it, as tar-split's storage.Packer.
func (s *Splitter) AddEntry(e storage.Entry) (int, error) {
	if err := s.enc.Encode(e); err != nil {
		return 0, err
	}
	return 0, nil
}

// Finish waits for the record to be complete, once the stream has been
// read to its end, and flushes it.
func (s *Splitter) Finish() error {
	if err := <-s.done; err != nil {
		return fmt.Errorf("split record: %w", err)
	}
	return s.zw.Close()
}

// Close stops the splitting, when the stream is not read to its end.
func (s *Splitter) Close() error {
	s.r.Close()
	<-s.done
	return nil
}

// discardPutter reads a file's content without keeping it: the content
// stays where the stream's reader writes it.
type discardPutter struct{ buf []byte }

func (d *discardPutter) Put(_ string, r io.Reader) (int64, []byte, error) {
	var n int64
	for {
		m, err := r.Read(d.buf)
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return n, nil, nil
		}
		if err != nil {
			return n, nil, err
		}
	}
}
