package cgroup

// Saved is a manager's layout: the host's hierarchies and the container's
// directory in each. A container's state keeps it, so that the commands
// that come later (exec, state, kill, pause, delete) find its cgroup
// without reading the mount table again, which on a host running
// thousands of containers is long.
type Saved struct {
	Mode Mode       `json:"mode"`
	Dirs []SavedDir `json:"dirs"`
}

// SavedDir is the container's directory in one hierarchy.
type SavedDir struct {
	// Controllers are a v1 hierarchy's; none for cgroup2.
	Controllers []string `json:"controllers,omitempty"`
	Mount       string   `json:"mount"`
	Root        string   `json:"root"`
	Dir         string   `json:"dir"`
}

// Save returns m's layout.
func (m *Manager) Save() *Saved {
	s := &Saved{Mode: m.mode}
	for _, d := range m.dirs {
		s.Dirs = append(s.Dirs, SavedDir{Controllers: d.controllers, Mount: d.mount, Root: d.root, Dir: d.dir})
	}
	return s
}

// Restore returns the manager whose layout s is.
func Restore(s *Saved) *Manager {
	m := &Manager{mode: s.Mode, attachDevices: attachDeviceFilter, write: writeFile}
	for _, d := range s.Dirs {
		m.dirs = append(m.dirs, cgroupDir{hierarchy: hierarchy{controllers: d.Controllers, mount: d.Mount, root: d.Root}, dir: d.Dir})
	}
	return m
}
