package archive

import "io"

// endReader tells a tar stream that ends with the end-of-archive marker
// from one cut off between two entries, which archive/tar both report as
// io.EOF: it counts the zero bytes that end what was read while watching,
// that is while tar.Reader.Next read headers.
type endReader struct {
	r        io.Reader
	watching bool
	zeros    int
}

func (e *endReader) watch()   { e.watching, e.zeros = true, 0 }
func (e *endReader) unwatch() { e.watching = false }

// sawMarker says whether the last header read was a zero block: the
// marker, or at least its first half.
func (e *endReader) sawMarker() bool { return e.zeros >= 512 }

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if e.watching && n > 0 {
		i := n - 1
		for i >= 0 && p[i] == 0 {
			i--
		}
		if i < 0 {
			e.zeros += n
		} else {
			e.zeros = n - 1 - i
		}
	}
	return n, err
}
