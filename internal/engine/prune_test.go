package engine

import (
	"testing"
	"time"

	"berth/internal/metadata"
)

func TestPruneMatches(t *testing.T) {
	now := time.Now()
	old := &metadata.Container{Created: now.Add(-2 * time.Hour)}
	labels := map[string]string{"tier": "a", "team": "x"}
	for _, tc := range []struct {
		opts PruneOptions
		want bool
	}{
		{PruneOptions{}, true},
		{PruneOptions{Until: now.Add(-time.Hour)}, true},
		{PruneOptions{Until: now.Add(-3 * time.Hour)}, false},
		{PruneOptions{Labels: []string{"tier"}}, true},
		{PruneOptions{Labels: []string{"tier=a", "team=x"}}, true},
		{PruneOptions{Labels: []string{"tier=a", "team=y"}}, false},
		{PruneOptions{Labels: []string{"owner"}}, false},
		{PruneOptions{NotLabels: []string{"tier=a"}}, false},
		{PruneOptions{NotLabels: []string{"tier=b"}}, true},
		// Docker keeps a container only when every label!= matches.
		{PruneOptions{NotLabels: []string{"tier=a", "owner"}}, true},
		{PruneOptions{NotLabels: []string{"tier", "team"}}, false},
	} {
		if got := tc.opts.matches(old, labels); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.opts, got, tc.want)
		}
	}
}
