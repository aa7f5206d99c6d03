package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/cgroup"
	"berth/internal/errdefs"
	"berth/internal/sysfile"
)

// record is what berth keeps on disk for one container, in
// STATEDIR/ID/state.json. It holds the spec so that exec, update and
// delete act on exactly what create was given, even if the bundle changes.
type record struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Spec is kept in spec.json beside state.json (records written
	// before that have it here): state and list, which `ps` calls for
	// every container, read state.json alone.
	Spec *specs.Spec `json:"spec,omitempty"`
	// specJSON, when set, is Spec as encoded JSON, the config.json it
	// was read from; save writes it as it is.
	specJSON []byte
	// CgroupsPath is the config's cgroupsPath. A relative one is taken
	// relative to CreatorCgroups, the cgroups of the process that ran
	// create: later commands may run in other cgroups.
	CgroupsPath    string            `json:"cgroupsPath"`
	CreatorCgroups map[string]string `json:"creatorCgroups,omitempty"`
	// Cgroup is where the container's cgroup was made, so that later
	// commands need not work it out from the mount table again. Records
	// written before it was kept lack it.
	Cgroup *cgroup.Saved `json:"cgroup,omitempty"`
}

// State is the runtime state of a container as the OCI spec defines it,
// plus the fields runc prints, so tools that parse `runc state` work.
type State struct {
	OCIVersion  string               `json:"ociVersion"`
	ID          string               `json:"id"`
	Pid         int                  `json:"pid"`
	Status      specs.ContainerState `json:"status"`
	Bundle      string               `json:"bundle"`
	Rootfs      string               `json:"rootfs"`
	Created     time.Time            `json:"created"`
	Owner       string               `json:"owner"`
	Annotations map[string]string    `json:"annotations,omitempty"`
}

// StatusPaused is reported while the container's cgroup is frozen. The OCI
// spec leaves pausing to runtimes; runc reports it the same way.
const StatusPaused specs.ContainerState = "paused"

var idPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$`) })

// ValidateID rejects ids that could not be a directory name under the
// state root, or that could climb out of it.
func ValidateID(id string) error {
	if id == "" {
		return errdefs.Invalidf("container id is empty")
	}
	if len(id) > 1024 || !idPattern().MatchString(id) {
		return errdefs.Invalidf("invalid container id %q: use letters, digits and _ . + -", id)
	}
	return nil
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

func (r *Runtime) load(id string) (*record, error) {
	b, err := r.readState(id)
	if err != nil {
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("state of %s is damaged: %w", id, err)
	}
	if rec.Spec == nil {
		b, err := os.ReadFile(filepath.Join(r.dir(id), specFile))
		if err != nil {
			return nil, fmt.Errorf("read state of %s: %w", id, err)
		}
		if err := json.Unmarshal(b, &rec.Spec); err != nil {
			return nil, fmt.Errorf("state of %s is damaged: %w", id, err)
		}
	}
	return &rec, nil
}

// specFile holds a container's spec, beside state.json.
const specFile = "spec.json"

// loadHead is load without the spec, which state and list do not need:
// `ps` reads one record per container. A record written before the spec
// had a file of its own still holds it; it is skipped.
func (r *Runtime) loadHead(id string) (*record, error) {
	rec, _, err := r.loadRaw(id)
	return rec, err
}

// loadRaw is loadHead that also returns the spec a record written before
// spec.json holds, undecoded.
func (r *Runtime) loadRaw(id string) (*record, json.RawMessage, error) {
	b, err := r.readState(id)
	if err != nil {
		return nil, nil, err
	}
	var head struct {
		record
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, nil, fmt.Errorf("state of %s is damaged: %w", id, err)
	}
	return &head.record, head.Spec, nil
}

// execSpec is the part of a container's spec that exec reads. Decoding
// it alone is much cheaper than decoding the whole spec: encoding/json
// builds its codecs for every type a value's type can hold, and
// specs.Spec holds a great many (every cgroup resource, Windows, VMs)
// that exec never looks at.
type execSpec struct {
	Process *specs.Process `json:"process,omitempty"`
	Linux   *struct {
		Namespaces  []specs.LinuxNamespace  `json:"namespaces,omitempty"`
		UIDMappings []specs.LinuxIDMapping  `json:"uidMappings,omitempty"`
		GIDMappings []specs.LinuxIDMapping  `json:"gidMappings,omitempty"`
		Seccomp     *specs.LinuxSeccomp     `json:"seccomp,omitempty"`
		Personality *specs.LinuxPersonality `json:"personality,omitempty"`
	} `json:"linux,omitempty"`
}

// loadExec is load with only the part of the spec that exec reads.
func (r *Runtime) loadExec(id string) (*record, error) {
	rec, raw, err := r.loadRaw(id)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 || string(raw) == "null" {
		if raw, err = os.ReadFile(filepath.Join(r.dir(id), specFile)); err != nil {
			return nil, fmt.Errorf("read state of %s: %w", id, err)
		}
	}
	var v execSpec
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("state of %s is damaged: %w", id, err)
	}
	rec.Spec = &specs.Spec{Process: v.Process}
	if l := v.Linux; l != nil {
		rec.Spec.Linux = &specs.Linux{
			Namespaces: l.Namespaces, UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings,
			Seccomp: l.Seccomp, Personality: l.Personality,
		}
	}
	return rec, nil
}

func (r *Runtime) readState(id string) ([]byte, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	b, err := sysfile.Read(filepath.Join(r.dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errdefs.NotFoundf("container %q does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	return b, nil
}

// save writes the record atomically, the spec first: a crash leaves the
// old or the new files, never a torn one, and a state.json whose spec is
// not there yet.
func (r *Runtime) save(rec *record) error {
	if rec.Spec != nil {
		b := rec.specJSON
		if b == nil {
			var err error
			if b, err = json.Marshal(rec.Spec); err != nil {
				return err
			}
		}
		if err := writeFileAtomic(filepath.Join(r.dir(rec.ID), specFile), b, 0o600); err != nil {
			return err
		}
	}
	// The spec field is shadowed, so that encoding/json does not build
	// its encoders for every spec type to write a record that has none.
	head := struct {
		*record
		Spec json.RawMessage `json:"spec,omitempty"`
	}{record: rec}
	b, err := json.Marshal(&head)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(r.dir(rec.ID), "state.json"), b, 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// procStart returns the start time of pid in clock ticks since boot, and
// whether the process is a zombie. Comparing start times tells a
// container's init apart from a later process that reused its pid.
func procStart(pid int) (start uint64, zombie bool, err error) {
	b, err := sysfile.Read("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, err
	}
	// The command name may hold spaces and parentheses: fields start
	// after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, f[0] == "Z" || f[0] == "X", err
}

// alive reports whether the container's init still runs.
func (rec *record) alive() bool {
	if rec.Pid <= 0 {
		return false
	}
	start, zombie, err := procStart(rec.Pid)
	return err == nil && !zombie && start == rec.PidStart
}

func (r *Runtime) status(rec *record) specs.ContainerState {
	if !rec.alive() {
		return specs.StateStopped
	}
	if _, err := os.Lstat(filepath.Join(r.dir(rec.ID), execFifo)); err == nil {
		return specs.StateCreated
	}
	if cg, err := r.cgroupOf(rec); err == nil {
		if frozen, err := cg.Frozen(); err == nil && frozen {
			return StatusPaused
		}
	}
	return specs.StateRunning
}

func (r *Runtime) stateOf(rec *record) *State {
	st := &State{
		OCIVersion:  specs.Version,
		ID:          rec.ID,
		Status:      r.status(rec),
		Bundle:      rec.Bundle,
		Rootfs:      rec.Rootfs,
		Created:     rec.Created,
		Owner:       rec.Owner,
		Annotations: rec.Annotations,
	}
	if st.Status != specs.StateStopped {
		st.Pid = rec.Pid
	}
	return st
}

// specState is the state handed to hooks on their stdin.
func (rec *record) specState(status specs.ContainerState) *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          rec.ID,
		Status:      status,
		Pid:         rec.Pid,
		Bundle:      rec.Bundle,
		Annotations: rec.Annotations,
	}
}

// State returns the state of container id.
func (r *Runtime) State(id string) (*State, error) {
	rec, err := r.loadHead(id)
	if err != nil {
		return nil, err
	}
	return r.stateOf(rec), nil
}

// List returns the state of every container under the runtime's root.
func (r *Runtime) List() ([]*State, error) {
	ents, err := os.ReadDir(r.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, e := range ents {
		if !e.IsDir() || ValidateID(e.Name()) != nil {
			continue
		}
		rec, err := r.loadHead(e.Name())
		if err != nil {
			continue // a create in flight has no state.json yet
		}
		out = append(out, r.stateOf(rec))
	}
	return out, nil
}
