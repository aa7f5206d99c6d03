// Package volume is berth's storage that outlives containers: named and
// anonymous volumes (records in the metadata store, data under
// ROOT/volumes/NAME/_data as Docker keeps it), and the mounts a container
// asks for with -v, --mount and --volumes-from, parsed as Docker parses
// them. It fills a new volume from the image (copy-up) and hands
// ownership to a container's user (:U), resolving every image path
// inside the container's root.
package volume

import (
	"path"
	"strings"
)

// Mount types, as Docker names them.
const (
	TypeBind   = "bind"
	TypeVolume = "volume"
	TypeTmpfs  = "tmpfs"
)

// Mount is one mount a container asked for. Records written before
// volumes existed hold binds only, with no Type.
type Mount struct {
	Type string `json:"type,omitempty"`
	// Source is a bind's host path.
	Source string `json:"source,omitempty"`
	// Name is a volume's name; empty until an anonymous volume is made.
	Name        string `json:"name,omitempty"`
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	// Propagation is a bind's; rprivate unless asked otherwise.
	Propagation string `json:"propagation,omitempty"`
	// Create makes a missing bind source directory, as -v does and
	// --mount does not.
	Create bool `json:"create,omitempty"`
	// NoCopy leaves a new volume empty instead of filling it with what
	// the image has at Destination.
	NoCopy bool `json:"noCopy,omitempty"`
	// Chown (:U) gives the source to the container's user at each start.
	Chown bool `json:"chown,omitempty"`
	// Anonymous marks a volume made for this container alone.
	Anonymous bool `json:"anonymous,omitempty"`
	// Labels label a volume that --mount volume-label= creates.
	Labels map[string]string `json:"labels,omitempty"`
	// TmpfsOptions are a tmpfs's size= and mode=.
	TmpfsOptions string `json:"tmpfsOptions,omitempty"`
	// Mode is what -v gave after the second colon, for inspect.
	Mode string `json:"mode,omitempty"`
	// Relabel records :z or :Z, which mean nothing without SELinux.
	Relabel bool `json:"relabel,omitempty"`
	// Spec is the -v value as given, for inspect's HostConfig.Binds.
	Spec string `json:"spec,omitempty"`
}

// Kind is m's type, bind for records from before volumes.
func (m Mount) Kind() string {
	if m.Type == "" {
		return TypeBind
	}
	return m.Type
}

// CleanDest is m's destination, cleaned, for comparing mount points.
func (m Mount) CleanDest() string { return path.Clean(m.Destination) }

// Options are the mount options of m's bind mount (volumes are binds of
// their data directory).
func (m Mount) Options() []string {
	opts := []string{"rbind", firstOf(m.Propagation, "rprivate")}
	if m.ReadOnly {
		// rro: read-only all the way down, so that a mount under the
		// source does not stay writable (the kernel's ro is per mount).
		opts = append(opts, "ro", "rro")
	}
	return opts
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ValidName says whether name is a volume name Docker's local driver
// takes.
func ValidName(name string) error {
	if len(name) < 2 {
		return invalidf("volume name is too short, names should be at least two alphanumeric characters")
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && strings.ContainsRune("_.-", r)
		if !ok {
			return invalidf("%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name)
		}
	}
	return nil
}
