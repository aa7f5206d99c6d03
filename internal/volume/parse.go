package volume

import (
	"encoding/csv"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"

	"berth/internal/errdefs"
)

func invalidf(format string, args ...any) error { return errdefs.Invalidf(format, args...) }

var propagations = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// modeSet is what one -v mode string (ro,z,rshared...) asked for.
type modeSet struct {
	readOnly, relabel, noCopy, chown bool
	propagation                      string
}

// parseMode reads -v's third field as Docker does: each kind of option
// at most once. U (chown to the container's user) is podman's.
func parseMode(mode string) (modeSet, bool) {
	var m modeSet
	if mode == "" {
		return m, true
	}
	seen := map[string]bool{}
	for _, o := range strings.Split(mode, ",") {
		var kind string
		switch {
		case o == "ro" || o == "rw":
			kind, m.readOnly = "rw", o == "ro"
		case o == "z" || o == "Z":
			kind, m.relabel = "label", true
		case propagations[o]:
			kind, m.propagation = "propagation", o
		case o == "nocopy" || o == "copy":
			kind, m.noCopy = "copy", o == "nocopy"
		case o == "consistent" || o == "cached" || o == "delegated":
			kind = "consistency"
		case o == "U":
			kind, m.chown = "U", true
		default:
			return m, false
		}
		if seen[kind] {
			return m, false
		}
		seen[kind] = true
	}
	return m, true
}

func badSpec(raw string) error { return invalidf("invalid volume specification: '%s'", raw) }

// ParseVolume reads -v [SRC:]DST[:MODE] as Docker does: an absolute SRC
// is a host path to bind, another SRC names a volume, and a lone DST
// asks for an anonymous volume.
func ParseVolume(raw string) (Mount, error) {
	arr := strings.SplitN(raw, ":", 4)
	if arr[0] == "" {
		return Mount{}, badSpec(raw)
	}
	var m Mount
	var mode string
	switch len(arr) {
	case 1:
		m.Destination = arr[0]
	case 2:
		if _, ok := parseMode(arr[1]); ok {
			// DST:MODE is not a volume: volumes need a source to take a mode.
			return Mount{}, badSpec(raw)
		}
		m.Source, m.Destination = arr[0], arr[1]
	case 3:
		m.Source, m.Destination, mode = arr[0], arr[1], arr[2]
	default:
		return Mount{}, badSpec(raw)
	}
	ms, ok := parseMode(mode)
	if !ok {
		return Mount{}, invalidf("invalid mode: %s", mode)
	}
	if err := checkTarget(m.Destination); err != nil {
		return Mount{}, invalidf("%v: %v", badSpec(raw), err)
	}
	m.Destination = path.Clean(m.Destination)
	m.ReadOnly, m.Relabel, m.NoCopy, m.Chown, m.Mode = ms.readOnly, ms.relabel, ms.noCopy, ms.chown, mode
	if m.Source != "" {
		m.Spec = raw
	}
	switch {
	case m.Source == "":
		m.Type, m.Anonymous = TypeVolume, true
		m.Mode = firstOf(mode, "z")
	case path.IsAbs(m.Source):
		m.Type, m.Source, m.Create = TypeBind, path.Clean(m.Source), true
		m.Propagation = ms.propagation
		if ms.noCopy {
			return Mount{}, invalidf("%v: nocopy is for volumes, not for a host path", badSpec(raw))
		}
	default:
		if err := ValidName(m.Source); err != nil {
			return Mount{}, err
		}
		// Docker's inspect shows the mode of a -v volume given none as "z".
		m.Type, m.Name, m.Source, m.Mode = TypeVolume, m.Source, "", firstOf(mode, "z")
		if ms.propagation != "" {
			return Mount{}, invalidf("%v: a propagation mode is for host paths, not for volumes", badSpec(raw))
		}
	}
	return m, nil
}

func checkTarget(p string) error {
	if p == "" {
		return fmt.Errorf("field Target must not be empty")
	}
	if !path.IsAbs(p) {
		return fmt.Errorf("invalid mount path: '%s' mount path must be absolute", p)
	}
	if path.Clean(p) == "/" {
		return fmt.Errorf("invalid specification: destination can't be '/'")
	}
	return nil
}

func mountConfigErr(typ string, err error) error {
	return invalidf("invalid mount config for type %q: %v", typ, err)
}

// ParseMount reads --mount type=volume|bind|tmpfs,src=,dst=,... as
// Docker's CLI and daemon do; type defaults to volume.
func ParseMount(value string) (Mount, error) {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return Mount{}, invalidf("--mount %q: %v", value, err)
	}
	m := Mount{Type: TypeVolume}
	var volOpts, bindOpts, tmpfsOpts bool
	var size int64
	var mode uint64
	boolOf := func(key, val string) (bool, error) {
		b, err := strconv.ParseBool(val)
		if err != nil {
			return false, invalidf("invalid value for %s: %s", key, val)
		}
		return b, nil
	}
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			switch key {
			case "readonly", "ro":
				m.ReadOnly = true
			case "volume-nocopy":
				m.NoCopy, volOpts = true, true
			case "bind-nonrecursive":
				return Mount{}, errdefs.Unsupportedf("--mount %q: bind-nonrecursive: berth binds recursively only", value)
			default:
				return Mount{}, invalidf("invalid field '%s' must be a key=value pair", field)
			}
			continue
		}
		switch key {
		case "type":
			m.Type = strings.ToLower(val)
		case "source", "src":
			m.Source = val
			if strings.HasPrefix(val, "./") || val == "." {
				if abs, err := filepath.Abs(val); err == nil {
					m.Source = abs
				}
			}
		case "target", "dst", "destination":
			m.Destination = val
		case "readonly", "ro":
			if m.ReadOnly, err = boolOf(key, val); err != nil {
				return Mount{}, err
			}
		case "consistency":
		case "bind-propagation":
			m.Propagation, bindOpts = strings.ToLower(val), true
		case "bind-nonrecursive":
			if nr, err := boolOf(key, val); err != nil {
				return Mount{}, err
			} else if nr {
				return Mount{}, errdefs.Unsupportedf("--mount %q: bind-nonrecursive: berth binds recursively only", value)
			}
			bindOpts = true
		case "volume-nocopy":
			if m.NoCopy, err = boolOf(key, val); err != nil {
				return Mount{}, err
			}
			volOpts = true
		case "volume-label":
			k, v, _ := strings.Cut(val, "=")
			if k != "" {
				if m.Labels == nil {
					m.Labels = map[string]string{}
				}
				m.Labels[k] = v
			}
			volOpts = true
		case "volume-driver":
			if val != "" && val != "local" {
				return Mount{}, errdefs.Unsupportedf("--mount %q: volume driver %q: berth has the local driver only", value, val)
			}
			volOpts = true
		case "volume-chown":
			// berth's own, the --mount spelling of -v's :U.
			if m.Chown, err = boolOf(key, val); err != nil {
				return Mount{}, err
			}
		case "tmpfs-size":
			if size, err = units.RAMInBytes(val); err != nil || size < 0 {
				return Mount{}, invalidf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts = true
		case "tmpfs-mode":
			if mode, err = strconv.ParseUint(val, 8, 32); err != nil {
				return Mount{}, invalidf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts = true
		default:
			return Mount{}, invalidf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if m.Type == "" {
		return Mount{}, invalidf("type is required")
	}
	if m.Destination == "" {
		return Mount{}, invalidf("target is required")
	}
	if volOpts && m.Type != TypeVolume {
		return Mount{}, invalidf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if bindOpts && m.Type != TypeBind {
		return Mount{}, invalidf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if tmpfsOpts && m.Type != TypeTmpfs {
		return Mount{}, invalidf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	if err := checkTarget(m.Destination); err != nil {
		return Mount{}, mountConfigErr(m.Type, err)
	}
	m.Destination = path.Clean(m.Destination)
	switch m.Type {
	case TypeBind:
		if m.Source == "" {
			return Mount{}, mountConfigErr(m.Type, fmt.Errorf("field Source must not be empty"))
		}
		if m.Propagation != "" && !propagations[m.Propagation] {
			return Mount{}, mountConfigErr(m.Type, fmt.Errorf("invalid propagation mode: %s", m.Propagation))
		}
		if !path.IsAbs(m.Source) {
			return Mount{}, mountConfigErr(m.Type, fmt.Errorf("invalid mount path: '%s' mount path must be absolute", m.Source))
		}
		m.Source = path.Clean(m.Source)
		if _, err := os.Stat(m.Source); err != nil {
			return Mount{}, mountConfigErr(m.Type, fmt.Errorf("bind source path does not exist: %s", m.Source))
		}
	case TypeVolume:
		m.Name, m.Source = m.Source, ""
		if m.Name == "" {
			if m.ReadOnly {
				return Mount{}, mountConfigErr(m.Type, fmt.Errorf("must not set ReadOnly mode when using anonymous volumes"))
			}
			m.Anonymous = true
		} else if err := ValidName(m.Name); err != nil {
			return Mount{}, err
		}
	case TypeTmpfs:
		if m.Source != "" {
			return Mount{}, mountConfigErr(m.Type, fmt.Errorf("field Source must not be specified"))
		}
		var opts []string
		if mode != 0 {
			opts = append(opts, fmt.Sprintf("mode=%o", mode))
		}
		if size != 0 {
			opts = append(opts, "size="+strconv.FormatInt(size, 10))
		}
		m.TmpfsOptions = strings.Join(opts, ",")
	default:
		return Mount{}, mountConfigErr(m.Type, fmt.Errorf("mount type unknown"))
	}
	return m, nil
}

// ParseVolumesFrom reads --volumes-from CONTAINER[:ro|rw].
func ParseVolumesFrom(spec string) (container, mode string, err error) {
	if spec == "" {
		return "", "", invalidf("volumes-from specification cannot be an empty string")
	}
	id, mode, _ := strings.Cut(spec, ":")
	switch mode {
	case "", "rw", "ro":
		return id, mode, nil
	case "z", "Z", "ro,z", "ro,Z", "rw,z", "rw,Z", "z,ro", "Z,ro", "z,rw", "Z,rw":
		ro := strings.Contains(mode, "ro")
		if ro {
			return id, "ro", nil
		}
		return id, "rw", nil
	}
	return "", "", invalidf("invalid mode: %s", mode)
}
