package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// mountEntry is the part of a /proc/<pid>/mountinfo line that matters for
// finding cgroup hierarchies.
type mountEntry struct {
	root, mountpoint, fstype string
	superOpts                []string
}

// parseMountInfo parses the cgroup and cgroup2 mounts of a mountinfo file.
func parseMountInfo(r io.Reader) ([]mountEntry, error) {
	var out []mountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(fields) < sep+4 {
			if len(fields) == 0 {
				continue
			}
			return nil, fmt.Errorf("parse mountinfo line %d: malformed", n)
		}
		fstype := fields[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		out = append(out, mountEntry{
			root:       unescapeMount(fields[3]),
			mountpoint: unescapeMount(fields[4]),
			fstype:     fstype,
			superOpts:  strings.Split(fields[sep+3], ","),
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse mountinfo: %w", err)
	}
	return out, nil
}

// unescapeMount undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountFlags are cgroup v1 super options that are not controller names.
var mountFlags = map[string]bool{
	"rw": true, "ro": true, "xattr": true, "noprefix": true,
	"clone_children": true, "cpuset_v2_mode": true, "favordynmods": true,
	"nofavordynmods": true, "all": true, "none": true,
}

// v1Controllers extracts the controller names from v1 super options.
func v1Controllers(opts []string) []string {
	var out []string
	for _, o := range opts {
		if strings.HasPrefix(o, "name=") {
			out = append(out, o)
			continue
		}
		if mountFlags[o] || strings.Contains(o, "=") || o == "" {
			continue
		}
		out = append(out, o)
	}
	return out
}

// hierarchiesFromMounts picks one mount per hierarchy for mode, preferring
// mounts under root. In Legacy mode a cgroup2 mount under root (the hybrid
// layout's "unified") is included too.
func hierarchiesFromMounts(mounts []mountEntry, mode Mode, root string) []hierarchy {
	under := func(p string) bool {
		rel, err := filepath.Rel(root, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
	}
	if mode == Unified {
		for _, m := range mounts {
			if m.fstype == "cgroup2" && filepath.Clean(m.mountpoint) == filepath.Clean(root) {
				return []hierarchy{{mount: m.mountpoint, root: m.root}}
			}
		}
		return []hierarchy{{mount: root, root: "/"}}
	}
	var hs []hierarchy
	index := map[string]int{}
	for _, m := range mounts {
		var h hierarchy
		switch m.fstype {
		case "cgroup2":
			if !under(m.mountpoint) {
				continue
			}
			h = hierarchy{mount: m.mountpoint, root: m.root}
		case "cgroup":
			ctrls := v1Controllers(m.superOpts)
			if len(ctrls) == 0 {
				continue
			}
			h = hierarchy{controllers: ctrls, mount: m.mountpoint, root: m.root}
		}
		key := strings.Join(h.controllers, ",")
		if i, ok := index[key]; ok {
			if !under(hs[i].mount) && under(h.mount) {
				hs[i] = h
			}
			continue
		}
		index[key] = len(hs)
		hs = append(hs, h)
	}
	return hs
}
