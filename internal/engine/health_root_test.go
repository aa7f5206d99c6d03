package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// healthOf returns inspect's State.Health of container name.
func healthOf(t *testing.T, c *cli, name string) (status string, streak int, log []map[string]any) {
	t.Helper()
	var out []struct {
		State struct {
			Health *struct {
				Status        string
				FailingStreak int
				Log           []map[string]any
			}
		}
	}
	if err := json.Unmarshal([]byte(c.run("inspect", name)), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	if out[0].State.Health == nil {
		return "", 0, nil
	}
	h := out[0].State.Health
	return h.Status, h.FailingStreak, h.Log
}

func TestHealthcheck(t *testing.T) {
	c := newCLI(t)
	c.run("run", "-d", "--name", "hc", "--health-cmd", "test -e /tmp/ok && echo fine",
		"--health-interval", "100ms", "--health-retries", "2", "busybox:test", "sleep", "1000")
	if st, _, _ := healthOf(t, c, "hc"); st != "starting" {
		t.Fatalf("health before the first check = %q, want starting", st)
	}
	if ps := c.run("ps", "--format", "{{.Status}}"); !strings.Contains(ps, "(health: starting)") {
		t.Errorf("ps status = %q, want (health: starting)", ps)
	}
	eventually(t, "unhealthy after 2 failures", func() bool {
		st, streak, _ := healthOf(t, c, "hc")
		return st == "unhealthy" && streak >= 2
	})
	if ps := c.run("ps", "--filter", "health=unhealthy", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(ps, "hc Up") || !strings.Contains(ps, "(unhealthy)") {
		t.Errorf("ps --filter health=unhealthy = %q", ps)
	}
	c.run("exec", "hc", "touch", "/tmp/ok")
	eventually(t, "healthy once the check passes", func() bool {
		st, streak, _ := healthOf(t, c, "hc")
		return st == "healthy" && streak == 0
	})
	_, _, log := healthOf(t, c, "hc")
	last := log[len(log)-1]
	if last["ExitCode"] != float64(0) || last["Output"] != "fine\n" || len(log) > 5 {
		t.Errorf("health log = %v; want at most 5 results, the last exit 0 with its output", log)
	}
	if ps := c.run("ps", "--filter", "health=healthy", "-q"); strings.TrimSpace(ps) == "" {
		t.Error("ps --filter health=healthy lists nothing")
	}

	// A check that outlives its timeout fails, and is killed.
	c.run("run", "-d", "--name", "slow", "--health-cmd", "sleep 30", "--health-timeout", "200ms",
		"--health-interval", "100ms", "--health-retries", "1", "busybox:test", "sleep", "1000")
	eventually(t, "unhealthy after a timeout", func() bool {
		st, _, _ := healthOf(t, c, "slow")
		return st == "unhealthy"
	})
	_, _, log = healthOf(t, c, "slow")
	if out, _ := log[0]["Output"].(string); !strings.Contains(out, "exceeded timeout") {
		t.Errorf("timed-out check's output = %q", out)
	}
	time.Sleep(300 * time.Millisecond)
	if top := c.run("top", "slow"); strings.Count(top, "sleep 30") > 1 {
		t.Errorf("timed-out checks were left running:\n%s", top)
	}

	// Bad values are refused before anything is created.
	if out, err := c.runErr(nil, "run", "--health-interval", "-1s", "busybox:test", "true"); err == nil || !strings.Contains(out, "--health-interval") {
		t.Errorf("run --health-interval -1s: %v %s", err, out)
	}
	if out, err := c.runErr(nil, "run", "--no-healthcheck", "--health-cmd", "true", "busybox:test", "true"); err == nil || !strings.Contains(out, "--no-healthcheck") {
		t.Errorf("run --no-healthcheck --health-cmd: %v %s", err, out)
	}
	if st, _, _ := healthOf(t, c, "hc"); st == "" {
		t.Fatal("lost hc")
	}
	c.run("run", "-d", "--name", "none", "--no-healthcheck", "busybox:test", "sleep", "1000")
	if st, _, _ := healthOf(t, c, "none"); st != "" {
		t.Errorf("--no-healthcheck container has health %q", st)
	}
}

// A container run in the foreground has no monitor: the run command
// itself runs its checks.
func TestHealthcheckForeground(t *testing.T) {
	c := newCLI(t)
	done := make(chan string, 1)
	go func() {
		out, _ := c.runErr(nil, "run", "--name", "fg", "--health-cmd", "true", "--health-interval", "100ms",
			"busybox:test", "sleep", "2")
		done <- out
	}()
	eventually(t, "the foreground container healthy", func() bool {
		var out []struct {
			State struct{ Health *struct{ Status string } }
		}
		b, err := c.runErr(nil, "inspect", "fg")
		return err == nil && json.Unmarshal([]byte(b), &out) == nil && len(out) == 1 &&
			out[0].State.Health != nil && out[0].State.Health.Status == "healthy"
	})
	<-done
}
