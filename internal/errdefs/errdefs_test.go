package errdefs

import (
	"errors"
	"io"
	"testing"
)

func TestClassified(t *testing.T) {
	err := Conflictf("container %q is running: %w", "c1", io.ErrUnexpectedEOF)
	if got, want := err.Error(), `container "c1" is running: unexpected EOF`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		t.Errorf("class of %v is wrong", err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("wrapped cause of %v is lost", err)
	}
}
