package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"berth/internal/errdefs"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Error is a registry's refusal: its own message and the HTTP status, as
// in "pull 127.0.0.1:5000/x:y: manifest unknown (404)". A 404 is also an
// errdefs.ErrNotFound.
type Error struct {
	Op      string // what berth was doing: "pull", "push", "copy", "login"
	Target  string // the reference or host it was doing it to
	Status  int    // the HTTP status code
	Message string // the registry's message, or the status text

	cause error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %s (%d)", e.Op, e.Target, e.Message, e.Status)
}

func (e *Error) Unwrap() []error {
	if e.Status == http.StatusNotFound {
		return []error{errdefs.ErrNotFound, e.cause}
	}
	return []error{e.cause}
}

// refusal is an error of berth's own policy, raised inside the transport;
// it reads without the request that net/http wraps around it.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

// describe turns an error from go-containerregistry or net/http into one
// that says what berth was doing to what, and what the registry said.
func describe(op, target string, err error) error {
	if err == nil {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return &Error{Op: op, Target: target, Status: terr.StatusCode, Message: registryMessage(terr), cause: err}
	}
	var ref refusal
	if errors.As(err, &ref) {
		return fmt.Errorf("%s %s: %w", op, target, ref.err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, target, err)
	}
	if connectionClosed(err) {
		return fmt.Errorf("%s %s: the registry closed the connection: %w", op, target, err)
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%s %s: %w (a registry that serves plain HTTP must be configured insecure)", op, target, err)
	}
	return fmt.Errorf("%s %s: %w", op, target, err)
}

// registryMessage is what the registry said: the messages of its error
// body, or the status text when it sent none.
func registryMessage(e *transport.Error) string {
	var msgs []string
	for _, d := range e.Errors {
		m := d.Message
		if m == "" {
			m = strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return strings.ToLower(http.StatusText(e.StatusCode))
	}
	return strings.Join(msgs, "; ")
}

// transient reports whether a failed request may succeed if sent again:
// the connection broke, or the error says it is temporary (a 5xx or 429
// from the registry, a timeout).
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ref refusal
	if errors.As(err, &ref) {
		return false
	}
	if connectionClosed(err) {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func connectionClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}
