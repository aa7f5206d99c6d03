package container

import (
	"encoding/json"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/seccomp"
)

// The parent (berth create/exec) and the child (berth's init, already in
// the container's new namespaces) talk over a socketpair with typed,
// newline-delimited JSON messages:
//
//	parent                                   child (init)
//	  |  start child with clone flags, in its    | (nsenter.c: join the v1
//	  |  cgroup (v2) or moving itself there (v1) |  cgroups, single-threaded)
//	  |  (user ns: Go writes uid/gid maps)       |
//	  |------------- msgConfig ----------------->|
//	  |  set limits, oom_score_adj               | unshare time ns, mount
//	  |------------- msgCgroup ----------------->| rootfs (new mount ns),
//	  |                                          | unshare cgroup ns at the
//	  |                                          | first cgroup mount; wait
//	  |                                          | for msgCgroup
//	  |<------------ msgHooks -------------------| (only if prestart/createRuntime hooks)
//	  |  run prestart, createRuntime hooks       |
//	  |------------- msgHooksDone -------------->|
//	  |                                          | createContainer hooks
//	  |                                          | pivot_root, sysctls, masks
//	  |                                          | console, rlimits, user, caps
//	  |<------------ msgReady -------------------|
//	  |  write state.json, exit (create)         |
//	  |                                          | block opening exec.fifo
//	berth start: open exec.fifo --------------->| startContainer hooks, execve
//
// Any failure in the child is sent as msgError and ends the child; the
// parent then removes everything it created, so a failed create leaves
// nothing behind. Exec follows the same exchange without the rootfs and
// hooks steps.
type msgType string

const (
	msgConfig    msgType = "config"
	msgCgroup    msgType = "cgroup"
	msgHooks     msgType = "hooks"
	msgHooksDone msgType = "hooks-done"
	msgReady     msgType = "ready"
	msgError     msgType = "error"
)

type message struct {
	Type msgType `json:"type"`
	// Config is the init's *initConfig, encoded. Only the init decodes
	// it: decoding a type makes encoding/json build codecs for every type
	// it can hold, and the spec holds many, which the parent, reading
	// only short replies, would pay for on every create and exec.
	Config json.RawMessage `json:"config,omitempty"`
	Error  string          `json:"error,omitempty"`
	// ExitCode is what a caller should exit with for this error: 127
	// when the executable is missing, 126 when it cannot be run.
	ExitCode int `json:"exitCode,omitempty"`
}

// initConfig is everything the init needs, sent as soon as it has started.
type initConfig struct {
	// Exec is true for a process joining a running container.
	Exec bool        `json:"exec,omitempty"`
	Spec *specs.Spec `json:"spec"`
	// Seccomp is the spec's seccomp filter, compiled; nil when there is
	// none, or when the init must build it (notify rules).
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
	Process *specs.Process   `json:"process"`
	Rootfs  string           `json:"rootfs"`
	// State is handed to createContainer and startContainer hooks.
	State *specs.State `json:"state,omitempty"`
	// CgroupNS, TimeNS: create these namespaces after the cgroup move.
	CgroupNS bool `json:"cgroupNS,omitempty"`
	TimeNS   bool `json:"timeNS,omitempty"`
	NewMount bool `json:"newMount,omitempty"`
	NoPivot  bool `json:"noPivot,omitempty"`
	NewUTS   bool `json:"newUTS,omitempty"`
	InUserNS bool `json:"inUserNS,omitempty"`
	// HasHooks: ask the parent to run prestart/createRuntime hooks.
	HasHooks bool `json:"hasHooks,omitempty"`
	// WaitStart: block on the exec fifo before running the process.
	WaitStart bool `json:"waitStart,omitempty"`
}

type channel struct {
	enc *json.Encoder
	dec *json.Decoder
	// readySent: the parent has stopped listening.
	readySent bool
}

func newChannel(rw io.ReadWriter) *channel {
	return &channel{enc: json.NewEncoder(rw), dec: json.NewDecoder(rw)}
}

// sendConfig sends the init its config.
func (c *channel) sendConfig(cfg *initConfig) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return c.send(&message{Type: msgConfig, Config: b})
}

func (c *channel) send(m *message) error {
	c.readySent = c.readySent || m.Type == msgReady
	return c.enc.Encode(m)
}

// recv reads the next message; an error message from the other side comes
// back as an *InitError.
func (c *channel) recv(want msgType) (*message, error) {
	var m message
	if err := c.dec.Decode(&m); err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("container init exited before sending %q", want)
		}
		return nil, fmt.Errorf("read %q from container init: %w", want, err)
	}
	if m.Type == msgError {
		return nil, &InitError{Msg: m.Error, ExitCode: m.ExitCode}
	}
	if m.Type != want {
		return nil, fmt.Errorf("container init sent %q, want %q", m.Type, want)
	}
	return &m, nil
}

// InitError is a failure inside the container's init, carried back to the
// caller. ExitCode follows the shell's convention (126, 127) where one
// applies, else 0.
type InitError struct {
	Msg      string
	ExitCode int
}

func (e *InitError) Error() string { return e.Msg }
