package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"berth/internal/errdefs"
)

// givenInt is v when the user gave the flag name and nil when it keeps
// its default, for options where "not given" means something of its
// own (a stop timeout then is the container's).
func givenInt(cmd *cobra.Command, name string, v *int) *int {
	if cmd.Flags().Changed(name) {
		return v
	}
	return nil
}

// eachFilter calls fn with the key and the value of every --filter
// KEY=VALUE, in order, and stops at the first error.
func eachFilter(filters []string, fn func(f, k, v string) error) error {
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return errdefs.Invalidf("--filter %q: bad format of filter (expected name=value)", f)
		}
		if err := fn(f, k, v); err != nil {
			return err
		}
	}
	return nil
}

// filterValues reads --filter KEY=VALUE flags into the values of each
// key; check refuses a key or a value the command does not know.
func filterValues(filters []string, check func(k, v string) error) (map[string][]string, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errdefs.Invalidf("bad format of filter (expected name=value): %s", f)
		}
		if err := check(k, v); err != nil {
			return nil, err
		}
		byKey[k] = append(byKey[k], v)
	}
	return byKey, nil
}

// matchFilters is the predicate of filters read by filterValues, with
// one saying whether x matches one of them. Filters of one key are
// alternatives; different keys must all match, as in Docker.
func matchFilters[T any](byKey map[string][]string, one func(x T, k, v string) bool) func(T) bool {
	return func(x T) bool {
		for k, vs := range byKey {
			matched := false
			for _, v := range vs {
				matched = matched || one(x, k, v)
			}
			if !matched {
				return false
			}
		}
		return true
	}
}
