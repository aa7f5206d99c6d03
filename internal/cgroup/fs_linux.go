package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"berth/internal/sysfile"
)

// writeFile writes one value to a cgroup control file. The file must
// exist: cgroupfs creates every file a controller supports, so a missing
// one means the controller or feature is absent.
func writeFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	if err := sysfile.Write(p, []byte(value)); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			if pe.Op == "open" {
				return fmt.Errorf("write %q: %w", value, err)
			}
			err = pe.Err
		}
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

// readFile returns the trimmed contents of a cgroup file.
func readFile(dir, name string) (string, error) {
	b, err := sysfile.Read(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// exists reports whether a cgroup file exists in dir.
func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// parseUint parses a cgroup number; "max" is math.MaxUint64. Negative
// values (v1 reports -1 in some files) clamp to 0.
func parseUint(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("parse %q: not a number", s)
	}
	return v, nil
}

// readUint reads a file holding one number.
func readUint(dir, name string) (uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return 0, err
	}
	v, err := parseUint(s)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
	}
	return v, nil
}

// readKV reads a flat-keyed file of "key value" lines (memory.stat,
// cpu.stat, memory.events). Lines that do not parse are skipped.
func readKV(dir, name string) (map[string]uint64, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := parseUint(v); err == nil {
			out[k] = n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, name), err)
	}
	return out, nil
}

// optional turns a missing file into a nil error, so that stats readers
// can skip files a kernel does not provide.
func optional(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func itoa(v int64) string  { return strconv.FormatInt(v, 10) }
func utoa(v uint64) string { return strconv.FormatUint(v, 10) }
