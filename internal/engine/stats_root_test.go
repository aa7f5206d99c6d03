package engine

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestStats(t *testing.T) {
	c := newCLI(t)
	c.stopAtEnd()
	// 20 MB in /dev/shm is memory that no cache dropping frees; the
	// shell and its two children are three processes.
	c.run("run", "-d", "--name", "hold", "--network", "none", "busybox:test", "sh", "-c",
		"head -c 20000000 /dev/zero > /dev/shm/x; sleep 1000 & sleep 1000 & wait")
	c.run("run", "-d", "--name", "busy", "busybox:test", "sh", "-c", "while :; do :; done")
	c.run("create", "--name", "idle", "busybox:test", "true")
	eventually(t, "the memory to be used", func() bool {
		e, err := Open(c.root, filepath.Join(c.root, "runtime"))
		if err != nil {
			t.Fatal(err)
		}
		ctr, err := e.Lookup("hold")
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.Stats(ctr)
		return err == nil && s.Memory >= 20000000 && s.Pids == 3
	})

	// Docker's columns, running containers only.
	out := c.run("stats", "--no-stream")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	header := strings.Join(strings.Fields(lines[0]), " ")
	if header != "CONTAINER ID NAME CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS" || len(lines) != 3 {
		t.Errorf("stats --no-stream:\n%s", out)
	}

	var row map[string]string
	if err := json.Unmarshal([]byte(c.run("stats", "--no-stream", "--format", "json", "hold")), &row); err != nil {
		t.Fatal(err)
	}
	mib, _, _ := strings.Cut(row["MemUsage"], "MiB / ")
	if v, err := strconv.ParseFloat(mib, 64); err != nil || v < 19 || v > 40 {
		t.Errorf("memory of hold: %q, want about 20MiB", row["MemUsage"])
	}
	if row["Container"] != "hold" || row["Name"] != "hold" || len(row["ID"]) != 12 || row["PIDs"] != "3" || row["NetIO"] != "0B / 0B" {
		t.Errorf("stats of hold: %v", row)
	}

	// One CPU kept busy is about 100%.
	perc := strings.TrimSpace(c.run("stats", "--no-stream", "--format", "{{.CPUPerc}}", "busy"))
	if v, err := strconv.ParseFloat(strings.TrimSuffix(perc, "%"), 64); err != nil || v < 50 || v > 150 {
		t.Errorf("CPU of a busy loop: %q, want about 100%%", perc)
	}

	// -a shows stopped containers too, as zeros.
	out = c.run("stats", "--no-stream", "-a", "--no-trunc", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}} {{len .ID}}")
	if !strings.Contains(out, "idle 0.00% 0B / 0B 0 64\n") || strings.Count(out, "\n") != 3 {
		t.Errorf("stats -a:\n%s", out)
	}
	if out, err := c.runErr(nil, "stats", "--no-stream", "nope"); err == nil || !strings.Contains(out, "No such container: nope") {
		t.Errorf("stats of a missing container: %v, %q", err, out)
	}
}
