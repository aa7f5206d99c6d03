package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/gzip"
	splittar "github.com/vbatts/tar-split/archive/tar"
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

// splitChunk is how much of the stream the Splitter hands to its
// recording goroutine at once, and splitQueue how many chunks may wait:
// handing over in large chunks, without waiting for the recorder, keeps
// the unpacking from pausing for it after every header.
const (
	splitChunk = 1 << 20
	splitQueue = 8
)

// Splitter passes a tar stream through unchanged while a goroutine of
// its own hashes the stream and writes its split record.
type Splitter struct {
	r     io.Reader
	buf   []byte
	queue chan []byte
	free  chan []byte // chunks the recorder is done with
	done  chan error
}

// Split returns a Splitter that reads the tar stream r, writes its split
// record to rec, and writes every byte of it to h. Read the Splitter to
// its end (EOF), then call Finish; or call Close to give up.
func Split(r io.Reader, rec io.Writer, h hash.Hash) *Splitter {
	s := &Splitter{r: r, queue: make(chan []byte, splitQueue), free: make(chan []byte, splitQueue+2), done: make(chan error, 1)}
	go func() {
		in := &chunkReader{s: s, h: h}
		err := record(in, rec)
		// Drain, so that the reading side never waits on a recorder
		// that gave up, and the hash covers every byte.
		for c := range s.queue {
			h.Write(c)
		}
		s.done <- err
	}()
	return s
}

// Read reads the tar stream.
func (s *Splitter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	for b := p[:n]; len(b) > 0; {
		if s.buf == nil {
			select {
			case s.buf = <-s.free:
			default:
				s.buf = make([]byte, 0, splitChunk)
			}
		}
		m := min(len(b), cap(s.buf)-len(s.buf))
		s.buf = append(s.buf, b[:m]...)
		b = b[m:]
		if len(s.buf) == cap(s.buf) {
			s.queue <- s.buf
			s.buf = nil
		}
	}
	return n, err
}

// Finish waits for the record to be complete, once the stream has been
// read to its end, and flushes it. An error says that the record could
// not be made; the stream itself was read whole.
func (s *Splitter) Finish() error {
	if len(s.buf) > 0 {
		s.queue <- s.buf
		s.buf = nil
	}
	close(s.queue)
	if err := <-s.done; err != nil {
		return fmt.Errorf("split record: %w", err)
	}
	return nil
}

// Close stops the splitting, when the stream is not read to its end.
func (s *Splitter) Close() error {
	close(s.queue)
	<-s.done
	return nil
}

// record reads the tar stream r and writes its split record to w, as
// tar-split's disassembler does: the raw bytes before each entry's
// content, the entry, and at the end whatever follows the tar.
func record(r io.Reader, w io.Writer) error {
	// The fastest level: the record is small beside the layer, and the
	// time is the unpacking's.
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(zw)
	add := func(e storage.Entry) error { return enc.Encode(e) }
	segment := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		return add(storage.Entry{Type: storage.SegmentType, Payload: b})
	}
	tr := splittar.NewReader(r)
	tr.RawAccounting = true
	buf := make([]byte, 256<<10)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if err := segment(tr.RawBytes()); err != nil {
				return err
			}
			break
		}
		if err != nil {
			return err
		}
		if err := segment(tr.RawBytes()); err != nil {
			return err
		}
		// The content, read rather than skipped: skipped bytes would
		// count as raw bytes.
		for hdr.Size > 0 {
			if _, err := tr.Read(buf); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return err
			}
		}
		e := storage.Entry{Type: storage.FileType, Size: hdr.Size}
		e.SetName(hdr.Name)
		if err := add(e); err != nil {
			return err
		}
		if err := segment(tr.RawBytes()); err != nil {
			return err
		}
	}
	// What follows the tar, in bounded pieces.
	for {
		n, err := r.Read(buf)
		if err := segment(buf[:n]); err != nil {
			return err
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	return zw.Close()
}

// chunkReader reads the chunks a Splitter queues, writing them to h.
type chunkReader struct {
	s     *Splitter
	chunk []byte // the chunk being read, given back when done
	cur   []byte // what is left of it
	h     hash.Hash
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		if c.chunk != nil {
			select {
			case c.s.free <- c.chunk[:0]:
			default:
			}
			c.chunk = nil
		}
		b, ok := <-c.s.queue
		if !ok {
			return 0, io.EOF
		}
		c.h.Write(b)
		c.chunk, c.cur = b, b
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}
