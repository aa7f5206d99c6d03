// Package sysfile reads the small files of procfs, cgroupfs and berth's
// own state with three system calls. os.ReadFile spends five more on
// each (it tries to register the file with the runtime's poller), and
// `berth ps` reads several such files for every container.
package sysfile

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSize bounds what Read takes: these files are a few kilobytes.
const maxSize = 1 << 20

// Read returns the contents of the file at path. Errors are *fs.PathError,
// as os.ReadFile's, so errors.Is(err, fs.ErrNotExist) works.
func Read(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxSize {
				return nil, &fs.PathError{Op: "read", Path: path, Err: syscall.EFBIG}
			}
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// Write writes data to the existing file at path in one write(2), as a
// control file of procfs or cgroupfs takes it, with three system calls.
// Errors are *fs.PathError.
func Write(path string, data []byte) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	n, err := unix.Write(fd, data)
	for err == unix.EINTR {
		n, err = unix.Write(fd, data)
	}
	cerr := unix.Close(fd)
	switch {
	case err != nil:
		return &fs.PathError{Op: "write", Path: path, Err: err}
	case n != len(data):
		return &fs.PathError{Op: "write", Path: path, Err: syscall.EIO}
	case cerr != nil:
		return &fs.PathError{Op: "close", Path: path, Err: cerr}
	}
	return nil
}
