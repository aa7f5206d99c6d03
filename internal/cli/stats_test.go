package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"berth/internal/engine"
)

func TestStatsRows(t *testing.T) {
	id := strings.Repeat("ab", 32)
	prev := &engine.ContainerStats{ID: id, Name: "web", Running: true, CPU: 1e9, System: 100e9, OnlineCPUs: 2}
	cur := &engine.ContainerStats{ID: id, Name: "web", Running: true, CPU: 15e8, System: 102e9, OnlineCPUs: 2,
		Memory: 3 << 20, MemoryLimit: 64 << 20, NetRx: 1500, NetTx: 648, BlockRead: 3568000, BlockWrite: 512000, Pids: 4}
	rows := []any{statsRowOf("web", cur, prev, false), invalidStatsRow("gone", nil, false)}
	var b bytes.Buffer
	l := &lister{w: &b, headers: statsHeaders}
	if err := l.write(statsTable, rows); err != nil {
		t.Fatal(err)
	}
	want := "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O        PIDS\n" +
		"abababababab   web       50.00%    3MiB / 64MiB        4.69%     1.5kB / 648B   3.57MB / 512kB   4\n" +
		"               --        --        -- / --             --        --             --               --\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	l = &lister{w: &b, format: "json", headers: statsHeaders}
	if err := l.write(statsTable, rows[:1]); err != nil {
		t.Fatal(err)
	}
	// Docker's keys, in Docker's (alphabetical) order.
	wantJSON := `{"BlockIO":"3.57MB / 512kB","CPUPerc":"50.00%","Container":"web","ID":"abababababab","MemPerc":"4.69%",` +
		`"MemUsage":"3MiB / 64MiB","Name":"web","NetIO":"1.5kB / 648B","PIDs":"4"}` + "\n"
	if b.String() != wantJSON {
		t.Errorf("json:\n%s\nwant:\n%s", b.String(), wantJSON)
	}
	if r := statsRowOf("web", cur, prev, true); r.ID != id {
		t.Errorf("--no-trunc ID %q", r.ID)
	}
}

func TestPruneFilters(t *testing.T) {
	o, err := pruneFilters([]string{"until=2h", "until=1h", "label=a=b", "label!=c"})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(o.Until); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Errorf("until: %v ago, want the earliest, 2h", d)
	}
	if len(o.Labels) != 1 || o.Labels[0] != "a=b" || len(o.NotLabels) != 1 || o.NotLabels[0] != "c" {
		t.Errorf("labels: %v, not %v", o.Labels, o.NotLabels)
	}
	for _, bad := range []string{"until", "color=red", "until=soon"} {
		if _, err := pruneFilters([]string{bad}); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
