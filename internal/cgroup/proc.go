package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ProcCgroupEntry is one line of /proc/<pid>/cgroup: a hierarchy and the
// process's cgroup in it.
type ProcCgroupEntry struct {
	// ID is the hierarchy ID; 0 for cgroup2.
	ID int
	// Controllers are the v1 controllers of the hierarchy, in the order
	// the kernel lists them ("cpu", "cpuacct"; "name=systemd" for a named
	// hierarchy). Empty for cgroup2.
	Controllers []string
	// Path is the cgroup, relative to the hierarchy root.
	Path string
}

// ParseProcCgroupEntries parses the lines of a /proc/<pid>/cgroup file,
// keeping which controllers share a hierarchy (which the rootfs code needs
// to mount "cpu,cpuacct" together).
func ParseProcCgroupEntries(r io.Reader) ([]ProcCgroupEntry, error) {
	var out []ProcCgroupEntry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("parse cgroup line %d %q: want id:controllers:path", n, line)
		}
		id, err := strconv.Atoi(parts[0])
		if err != nil || id < 0 {
			return nil, fmt.Errorf("parse cgroup line %d %q: bad hierarchy id", n, line)
		}
		e := ProcCgroupEntry{ID: id, Path: parts[2]}
		if parts[1] != "" {
			e.Controllers = strings.Split(parts[1], ",")
		}
		if id == 0 && len(e.Controllers) > 0 {
			return nil, fmt.Errorf("parse cgroup line %d %q: hierarchy 0 is cgroup2 and has no controller list", n, line)
		}
		if id != 0 && len(e.Controllers) == 0 {
			return nil, fmt.Errorf("parse cgroup line %d %q: missing controllers", n, line)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse cgroup file: %w", err)
	}
	return out, nil
}

// ParseProcCgroup parses a /proc/<pid>/cgroup file into a map from
// controller to cgroup path. Controllers that share a hierarchy
// ("cpu,cpuacct") each get an entry; named hierarchies keep their
// "name=systemd" form; the cgroup2 hierarchy has the key "".
func ParseProcCgroup(r io.Reader) (map[string]string, error) {
	entries, err := ParseProcCgroupEntries(r)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		if len(e.Controllers) == 0 {
			out[""] = e.Path
			continue
		}
		for _, c := range e.Controllers {
			out[c] = e.Path
		}
	}
	return out, nil
}
