package logs

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// ReadOptions select what Read returns.
type ReadOptions struct {
	// Tail is how many of the last entries to return; negative for all.
	Tail         int
	Since, Until time.Time
}

// Read returns the entries of the log at path and its rotated files,
// oldest first.
func Read(path string, maxFiles int, opts ReadOptions) ([]Entry, error) {
	if maxFiles <= 0 {
		maxFiles = DefaultMaxFiles
	}
	var all []Entry
	for i := maxFiles - 1; i >= 0; i-- {
		p := path
		if i > 0 {
			p = path + "." + strconv.Itoa(i)
		}
		entries, err := readFile(p, opts)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		all = append(all, entries...)
	}
	if opts.Tail >= 0 && len(all) > opts.Tail {
		all = all[len(all)-opts.Tail:]
	}
	return all, nil
}

func readFile(path string, opts ReadOptions) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var e Entry
			if json.Unmarshal(line, &e) == nil && keep(e, opts) {
				out = append(out, e)
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func keep(e Entry, opts ReadOptions) bool {
	if !opts.Since.IsZero() && e.Time.Before(opts.Since) {
		return false
	}
	if !opts.Until.IsZero() && !e.Time.Before(opts.Until) {
		return false
	}
	return true
}

// Follow calls fn for every entry appended to the log at path after
// offset, until stop returns true, following rotation.
func Follow(path string, stop func() bool, fn func(Entry)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	f.Seek(0, io.SeekEnd)
	return follow(f, bufio.NewReader(f), nil, path, stop, fn)
}

// ReadFollow calls fn for the entries of the log at path that opts
// select, its rotated files included, then for every entry appended
// after them until stop returns true. No entry falls between the two,
// as one could between a Read and a Follow.
func ReadFollow(path string, maxFiles int, opts ReadOptions, stop func() bool, fn func(Entry)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if maxFiles <= 0 {
		maxFiles = DefaultMaxFiles
	}
	var all []Entry
	for i := maxFiles - 1; i >= 1; i-- {
		entries, err := readFile(path+"."+strconv.Itoa(i), opts)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.Close()
			return err
		}
		all = append(all, entries...)
	}
	r := bufio.NewReader(f)
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		partial = append(partial, line...)
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return err
		}
		var e Entry
		if json.Unmarshal(partial, &e) == nil && keep(e, opts) {
			all = append(all, e)
		}
		partial = partial[:0]
	}
	if opts.Tail >= 0 && len(all) > opts.Tail {
		all = all[len(all)-opts.Tail:]
	}
	for _, e := range all {
		fn(e)
	}
	return follow(f, r, partial, path, stop, fn)
}

// follow reads entries from r, which reads f, the log at path, until
// stop returns true; partial is the start of a line already read.
func follow(f *os.File, r *bufio.Reader, partial []byte, path string, stop func() bool, fn func(Entry)) error {
	defer func() { f.Close() }()
	// Once stop says so, what was written before is still read.
	done := false
	for {
		line, err := r.ReadBytes('\n')
		partial = append(partial, line...)
		if err == nil {
			var e Entry
			if json.Unmarshal(partial, &e) == nil {
				fn(e)
			}
			partial = partial[:0]
			continue
		}
		if err != io.EOF {
			return err
		}
		if done {
			return nil
		}
		if stop() {
			done = true
			continue
		}
		// Rotated: the path now names a new file.
		if fi, err := os.Stat(path); err == nil {
			if cur, err := f.Stat(); err == nil && !os.SameFile(fi, cur) {
				f.Close()
				if f, err = os.Open(path); err != nil {
					return err
				}
				r.Reset(f)
				continue
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}
