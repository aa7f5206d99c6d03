// Package errdefs classifies errors so that every face of berth can map
// them to the same exit codes and messages, whichever layer raised them.
// Wrap one of these sentinels with context: fmt.Errorf("%w: ...", ErrNotFound).
package errdefs

import "errors"

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

// Is reports whether err is of class target; a shorthand for errors.Is.
func Is(err, target error) bool { return errors.Is(err, target) }
