package engine

import (
	"sort"
	"strconv"

	units "github.com/docker/go-units"

	"berth/internal/errdefs"
	"berth/internal/logs"
	"berth/internal/metadata"
)

// LogConfig is how a container's log rotates: json-file's max-size and
// max-file, as Docker's log options name them. Zero values are the
// defaults (10 MiB, 3 files).
type LogConfig struct {
	MaxSize  int64 `json:"maxSize,omitempty"`
	MaxFiles int   `json:"maxFiles,omitempty"`
}

// maxLogFiles is the most files a log may keep, as the monitor allows.
const maxLogFiles = 100

// ParseLogOptions reads a log driver and its options. berth writes
// Docker's json-file format; "local" is accepted as its like. Options
// other than max-size and max-file are refused.
func ParseLogOptions(driver string, opts map[string]string) (*LogConfig, error) {
	switch driver {
	case "", "json-file", "local":
	default:
		return nil, errdefs.Unsupportedf("log driver %q: berth writes json-file logs only", driver)
	}
	if len(opts) == 0 {
		return nil, nil
	}
	var c LogConfig
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := opts[k]
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return nil, errdefs.Invalidf("log option max-size %q: want a size such as 10m", v)
			}
			c.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxLogFiles {
				return nil, errdefs.Invalidf("log option max-file %q: want a number from 1 to %d", v, maxLogFiles)
			}
			c.MaxFiles = n
		default:
			return nil, errdefs.Unsupportedf("log option %q: berth takes max-size and max-file only", k)
		}
	}
	return &c, nil
}

// LogFiles is how many files container c's log keeps, the current one
// included: what a reader of its log reads.
func (e *Engine) LogFiles(c *metadata.Container) int {
	if cfg, err := configOf(c); err == nil && cfg.Log != nil && cfg.Log.MaxFiles > 0 {
		return cfg.Log.MaxFiles
	}
	return logs.DefaultMaxFiles
}
