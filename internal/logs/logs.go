// Package logs reads and writes container logs in Docker's json-file
// format: one JSON object per line with the text, the stream and the
// time. Files rotate at a size limit (log, log.1, log.2...), so a chatty
// container cannot fill the disk, as it can under Docker's default.
package logs

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// Defaults for rotation: 10 MiB per file, 3 files.
const (
	DefaultMaxSize  = 10 << 20
	DefaultMaxFiles = 3
)

// Entry is one log line.
type Entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Writer appends entries to a log file, rotating it. It is safe for
// concurrent use by the stdout and stderr copiers.
type Writer struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
}

// NewWriter opens path for appending, rotating at maxSize bytes into at
// most maxFiles files (0 means the defaults).
func NewWriter(path string, maxSize int64, maxFiles int) (*Writer, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if maxFiles <= 0 {
		maxFiles = DefaultMaxFiles
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{path: path, f: f, size: fi.Size(), maxSize: maxSize, maxFiles: maxFiles}, nil
}

// Write logs one line (or a part of one) of stream.
func (w *Writer) Write(stream string, text []byte, t time.Time) error {
	b, err := json.Marshal(Entry{Log: string(text), Stream: stream, Time: t.UTC()})
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.size > 0 && w.size+int64(len(b)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	return err
}

func (w *Writer) rotate() error {
	w.f.Close()
	for i := w.maxFiles - 1; i >= 1; i-- {
		from := w.path
		if i > 1 {
			from = w.path + "." + strconv.Itoa(i-1)
		}
		os.Rename(from, w.path+"."+strconv.Itoa(i))
	}
	if w.maxFiles == 1 {
		os.Remove(w.path)
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	w.f, w.size = f, 0
	return nil
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// LineWriter is an io.Writer for one stream that logs each line as it is
// completed, and copies everything to a mirror (the user's terminal).
type LineWriter struct {
	w      *Writer
	stream string
	mirror interface{ Write([]byte) (int, error) }
	buf    []byte
}

// maxLine is where a line without a newline is cut into a partial entry.
const maxLine = 16 << 10

// Stream returns a LineWriter for stream that also writes to mirror.
func (w *Writer) Stream(stream string, mirror interface{ Write([]byte) (int, error) }) *LineWriter {
	return &LineWriter{w: w, stream: stream, mirror: mirror}
}

func (l *LineWriter) Write(p []byte) (int, error) {
	if l.mirror != nil {
		l.mirror.Write(p)
	}
	now := time.Now()
	l.buf = append(l.buf, p...)
	for {
		i := indexByte(l.buf, '\n')
		if i < 0 || i >= maxLine {
			// No whole line yet: a long one is logged in parts, as
			// Docker does.
			if len(l.buf) >= maxLine {
				l.w.Write(l.stream, l.buf[:maxLine], now)
				l.buf = append(l.buf[:0], l.buf[maxLine:]...)
				continue
			}
			return len(p), nil
		}
		l.w.Write(l.stream, l.buf[:i+1], now)
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
	}
}

// Flush logs what is left of an unfinished line.
func (l *LineWriter) Flush() {
	if len(l.buf) > 0 {
		l.w.Write(l.stream, l.buf, time.Now())
		l.buf = l.buf[:0]
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
