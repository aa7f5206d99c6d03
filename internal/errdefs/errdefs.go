// Package errdefs classifies errors so that every face of berth can map
// them to the same exit codes and messages, whichever layer raised them.
// A classified error reads as its message alone; errors.Is finds its class.
package errdefs

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the caller's input is wrong; nothing was changed.
	ErrInvalid = errors.New("invalid argument")
	// ErrConflict: the object exists, or is in a state that forbids the operation.
	ErrConflict = errors.New("conflict")
	// ErrUnsupported: valid input that this host or build cannot honour.
	ErrUnsupported = errors.New("not supported")
)

type classified struct {
	class, err error
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.class, c.err} }

func classify(class error, format string, args []any) error {
	return &classified{class: class, err: fmt.Errorf(format, args...)}
}

// NotFoundf formats an ErrNotFound error.
func NotFoundf(format string, args ...any) error { return classify(ErrNotFound, format, args) }

// Invalidf formats an ErrInvalid error.
func Invalidf(format string, args ...any) error { return classify(ErrInvalid, format, args) }

// Conflictf formats an ErrConflict error.
func Conflictf(format string, args ...any) error { return classify(ErrConflict, format, args) }

// Unsupportedf formats an ErrUnsupported error.
func Unsupportedf(format string, args ...any) error { return classify(ErrUnsupported, format, args) }

// IsNotFound reports whether err is of class ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
