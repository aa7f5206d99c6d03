package engine

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"berth/internal/metadata"
)

// Event is one thing that happened to a container, as `berth events`
// prints it, with Docker's field names.
type Event struct {
	Type   string `json:"Type"`   // "container"
	Action string `json:"Action"` // create, start, die, destroy, kill, stop, pause, unpause, rename
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	Time     int64 `json:"time"`
	TimeNano int64 `json:"timeNano"`
}

// maxEvents bounds the event log: past it, the oldest half goes.
const maxEvents = 4 << 20

func (e *Engine) eventsPath() string { return filepath.Join(e.root, "events.log") }

// emit appends an event for c. Events are a convenience: a failure to
// record one never fails the command that caused it.
func (e *Engine) emit(c *metadata.Container, action string, attrs map[string]string) {
	ev := Event{Type: "container", Action: action}
	ev.Actor.ID = c.ID
	ev.Actor.Attributes = map[string]string{"name": c.Name, "image": c.ImageName}
	// The container's labels too, as Docker's events carry them.
	if cfg, err := configOf(c); err == nil {
		for k, v := range cfg.Labels {
			ev.Actor.Attributes[k] = v
		}
	}
	for k, v := range attrs {
		ev.Actor.Attributes[k] = v
	}
	now := time.Now()
	ev.Time, ev.TimeNano = now.Unix(), now.UnixNano()
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	f, err := os.OpenFile(e.eventsPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	// One write of a whole line under an exclusive lock: lines of
	// several commands never interleave.
	if unix.Flock(int(f.Fd()), unix.LOCK_EX) != nil {
		return
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > maxEvents {
		e.trimEvents()
	}
	f.Write(append(b, '\n'))
}

// trimEvents keeps the newer half of the event log; the caller holds
// the log's lock.
func (e *Engine) trimEvents() {
	b, err := os.ReadFile(e.eventsPath())
	if err != nil || len(b) < 2 {
		return
	}
	half := b[len(b)/2:]
	for i, c := range half {
		if c == '\n' {
			half = half[i+1:]
			break
		}
	}
	tmp := e.eventsPath() + ".tmp"
	if os.WriteFile(tmp, half, 0o600) == nil {
		os.Rename(tmp, e.eventsPath())
	}
}

// Events calls fn for every recorded event from since on, then, with
// follow, for new ones as they come until stop returns true.
func (e *Engine) Events(since time.Time, follow bool, stop func() bool, fn func(Event)) error {
	f, err := os.OpenFile(e.eventsPath(), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		partial = append(partial, line...)
		if err == nil {
			var ev Event
			if json.Unmarshal(partial, &ev) == nil && ev.TimeNano >= since.UnixNano() {
				fn(ev)
			}
			partial = partial[:0]
			continue
		}
		if err != io.EOF {
			return err
		}
		if !follow || stop() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
