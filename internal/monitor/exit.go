package monitor

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Exit is what the exit file records about the container's last exit, as
// one line of JSON:
//
//	{"code":137,"finished":"2026-11-28T12:00:00.123456789Z","restarts":2,"restarting":false,"stopped":true}
//
// with "error":"..." added when a restart failed or the cleanup command did.
type Exit struct {
	// Code is the exit status, or 128 plus the signal that killed the
	// container, as Docker reports it.
	Code int `json:"code"`
	// FinishedAt is when the monitor saw the container exit.
	FinishedAt time.Time `json:"finished"`
	// Restarts counts the times the monitor started the container again
	// before this exit.
	Restarts int `json:"restarts"`
	// Restarting says that the monitor will start the container again
	// after its backoff. When false, this was the last exit: the monitor
	// runs the cleanup command, which reads this record, and exits.
	Restarting bool `json:"restarting"`
	// Stopped says that the monitor was asked not to restart the
	// container (Stop, or SIGTERM). An unless-stopped container with a
	// Stopped exit stays down when containers are brought back.
	Stopped bool `json:"stopped"`
	// Error says why the monitor gave up: the message of a restart that
	// failed, or how the cleanup command failed.
	Error string `json:"error,omitempty"`
}

// ReadExit reads an exit file. A missing file (the container has not
// exited, its monitor was killed, or the first start failed) is an error
// for which errors.Is(err, fs.ErrNotExist) holds.
func ReadExit(path string) (Exit, error) {
	var e Exit
	b, err := os.ReadFile(path)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return Exit{}, fmt.Errorf("exit file %s: %w", path, err)
	}
	return e, nil
}
