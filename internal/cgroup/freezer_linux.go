package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// freezeTimeout bounds how long Freeze and Thaw wait for the kernel to
// settle. A task stuck in uninterruptible sleep can keep a cgroup
// FREEZING for a long time; giving up beats hanging `berth pause`.
var freezeTimeout = 5 * time.Second

// Freeze stops every process in the container's cgroup and waits until
// the kernel reports the cgroup frozen. On timeout the cgroup is thawed
// again and an error returned.
func (m *Manager) Freeze() error {
	if err := m.setFrozen(true); err != nil {
		return fmt.Errorf("freeze cgroup: %w", err)
	}
	return nil
}

// Thaw resumes the processes of a frozen cgroup and waits until the
// kernel reports it thawed.
func (m *Manager) Thaw() error {
	if err := m.setFrozen(false); err != nil {
		return fmt.Errorf("thaw cgroup: %w", err)
	}
	return nil
}

// Frozen reports whether the container's cgroup is frozen (also when a
// frozen ancestor is the cause).
func (m *Manager) Frozen() (bool, error) {
	if m.mode == Unified {
		dir, _ := m.unifiedDir()
		if ev, err := readKV(dir, "cgroup.events"); err == nil {
			if v, ok := ev["frozen"]; ok {
				return v == 1, nil
			}
		}
		s, err := readFile(dir, "cgroup.freeze")
		if err != nil {
			return false, fmt.Errorf("read freezer state: %w", err)
		}
		return s == "1", nil
	}
	dir, err := m.needDir("freezer")
	if err != nil {
		return false, fmt.Errorf("read freezer state: %w", err)
	}
	s, err := readFile(dir, "freezer.state")
	if err != nil {
		return false, fmt.Errorf("read freezer state: %w", err)
	}
	return s == "FROZEN", nil
}

func (m *Manager) setFrozen(frozen bool) error {
	if m.mode == Unified {
		dir, _ := m.unifiedDir()
		return freezeV2(dir, frozen)
	}
	dir, err := m.needDir("freezer")
	if err != nil {
		return err
	}
	return freezeV1(dir, frozen)
}

// freezeV1 drives freezer.state. While freezing, new tasks may be forked
// into the cgroup, so the request is repeated now and then until the
// state reads FROZEN.
func freezeV1(dir string, frozen bool) error {
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	deadline := time.Now().Add(freezeTimeout)
	for i := 0; ; i++ {
		if i%25 == 0 {
			if err := writeFile(dir, "freezer.state", want); err != nil {
				return err
			}
		}
		state, err := readFile(dir, "freezer.state")
		if err != nil {
			return err
		}
		if state == want {
			return nil
		}
		if time.Now().After(deadline) {
			if frozen {
				_ = writeFile(dir, "freezer.state", "THAWED")
			}
			return fmt.Errorf("%s stayed %s, wanted %s after %v",
				filepath.Join(dir, "freezer.state"), state, want, freezeTimeout)
		}
		time.Sleep(time.Duration(min(i+1, 10)) * time.Millisecond)
	}
}

// freezeV2 writes cgroup.freeze and waits for the "frozen" key of
// cgroup.events to follow.
func freezeV2(dir string, frozen bool) error {
	val, want := "0", "0"
	if frozen {
		val, want = "1", "1"
	}
	if err := writeFile(dir, "cgroup.freeze", val); err != nil {
		return err
	}
	deadline := time.Now().Add(freezeTimeout)
	for i := 0; ; i++ {
		got, err := eventsFrozen(dir)
		if err != nil {
			return err
		}
		if got == "" || got == want {
			return nil // no cgroup.events: nothing to wait on
		}
		if time.Now().After(deadline) {
			if frozen {
				_ = writeFile(dir, "cgroup.freeze", "0")
			}
			return fmt.Errorf("%s still says frozen %s after %v",
				filepath.Join(dir, "cgroup.events"), got, freezeTimeout)
		}
		time.Sleep(time.Duration(min(i+1, 10)) * time.Millisecond)
	}
}

// eventsFrozen returns the "frozen" value of cgroup.events, or "" when the
// file or key is missing.
func eventsFrozen(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "cgroup.events"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "frozen "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", sc.Err()
}
