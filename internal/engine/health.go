package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"berth/internal/errdefs"
	"berth/internal/image"
	"berth/internal/metadata"
)

// Health statuses, as Docker names them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Docker's defaults for a health check that leaves them out.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
	// healthLogLen is how many results the health record keeps, and
	// healthOutputMax how much of each check's output.
	healthLogLen    = 5
	healthOutputMax = 4096
)

// Health is a container's health, as Docker's State.Health shows it.
type Health struct {
	Status        string
	FailingStreak int
	Log           []HealthResult
}

// HealthResult is one check.
type HealthResult struct {
	Start    time.Time
	End      time.Time
	ExitCode int
	Output   string
}

// healthcheck is the check container c runs, with the defaults filled
// in, or nil when it has none.
func healthcheck(cfg *Config) *image.HealthConfig {
	hc := cfg.Healthcheck
	if hc == nil || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return nil
	}
	out := *hc
	if out.Interval == 0 {
		out.Interval = defaultHealthInterval
	}
	if out.Timeout == 0 {
		out.Timeout = defaultHealthTimeout
	}
	if out.Retries == 0 {
		out.Retries = defaultHealthRetries
	}
	return &out
}

// mergeHealthcheck lays the run flags' health settings over the image's,
// field by field, as Docker does.
func mergeHealthcheck(img *image.HealthConfig, flags *image.HealthConfig) *image.HealthConfig {
	if flags == nil {
		return img
	}
	var out image.HealthConfig
	if img != nil {
		out = *img
	}
	if len(flags.Test) > 0 {
		out.Test = flags.Test
	}
	if flags.Interval != 0 {
		out.Interval = flags.Interval
	}
	if flags.Timeout != 0 {
		out.Timeout = flags.Timeout
	}
	if flags.StartPeriod != 0 {
		out.StartPeriod = flags.StartPeriod
	}
	if flags.Retries != 0 {
		out.Retries = flags.Retries
	}
	return &out
}

// ValidateHealthcheck checks the health flags' values as Docker does.
func ValidateHealthcheck(hc *image.HealthConfig) error {
	if hc == nil {
		return nil
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--health-interval", hc.Interval}, {"--health-timeout", hc.Timeout}, {"--health-start-period", hc.StartPeriod}} {
		if d.v < 0 || (d.v > 0 && d.v < time.Millisecond) {
			return errdefs.Invalidf("%s: %s is less than the minimum of 1ms", d.flag, d.v)
		}
	}
	if hc.Retries < 0 {
		return errdefs.Invalidf("--health-retries: %d is negative", hc.Retries)
	}
	if len(hc.Test) > 0 {
		switch hc.Test[0] {
		case "NONE", "CMD", "CMD-SHELL":
		default:
			return errdefs.Invalidf("health check test %q: it must start with NONE, CMD or CMD-SHELL", hc.Test)
		}
		if hc.Test[0] != "NONE" && len(hc.Test) < 2 {
			return errdefs.Invalidf("health check test %q: no command", hc.Test)
		}
	}
	return nil
}

func (e *Engine) healthPath(id string) string { return filepath.Join(e.dir(id), "health.json") }

// health returns container c's health, or nil when it has no check.
// While it runs and no check has ended yet, it is starting.
func (e *Engine) health(c *metadata.Container, cfg *Config) *Health {
	if healthcheck(cfg) == nil {
		return nil
	}
	var h Health
	b, err := os.ReadFile(e.healthPath(c.ID))
	if err != nil || json.Unmarshal(b, &h) != nil {
		h = Health{Status: HealthStarting}
	}
	if h.Log == nil {
		h.Log = []HealthResult{}
	}
	return &h
}

// resetHealth forgets the checks of an earlier run: a container starts
// as starting.
func (e *Engine) resetHealth(id string) { os.Remove(e.healthPath(id)) }

// CheckHealth runs container id's health check once and records the
// result (`berth __health ID`, run by the monitor every interval). A
// check that fails Retries times in a row makes the container
// unhealthy, except during the start period; one that passes makes it
// healthy.
func (e *Engine) CheckHealth(id string) error {
	c, err := e.Lookup(id)
	if err != nil {
		return err
	}
	cfg, err := configOf(c)
	if err != nil {
		return err
	}
	hc := healthcheck(cfg)
	if hc == nil || e.status(c) != StatusRunning {
		return nil
	}
	res := e.probe(c, hc)
	h := e.health(c, cfg)
	prev := h.Status
	h.Log = append(h.Log, res)
	if len(h.Log) > healthLogLen {
		h.Log = h.Log[len(h.Log)-healthLogLen:]
	}
	inStartPeriod := res.Start.Sub(c.State.StartedAt) < hc.StartPeriod
	switch {
	case res.ExitCode == 0:
		h.Status, h.FailingStreak = HealthHealthy, 0
	case inStartPeriod && h.Status == HealthStarting:
		// failures while the container starts up do not count
	default:
		h.FailingStreak++
		if h.FailingStreak >= hc.Retries {
			h.Status = HealthUnhealthy
		}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := writeAtomic(e.healthPath(c.ID), b); err != nil {
		return err
	}
	if h.Status != prev {
		e.emit(c, "health_status: "+h.Status, nil)
	}
	return nil
}

// healthLoop runs container id's health check every interval from this
// process, for a container run in the foreground, which has no monitor to
// do it; stop ends the loop and waits for a check in progress.
func (e *Engine) healthLoop(id string, cfg *Config) (stop func()) {
	var hc *image.HealthConfig
	if cfg != nil {
		hc = healthcheck(cfg)
	}
	if hc == nil {
		return func() {}
	}
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(hc.Interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				e.CheckHealth(id)
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}

// probe runs the check's command in the container, for at most its
// timeout, and returns what came of it.
func (e *Engine) probe(c *metadata.Container, hc *image.HealthConfig) HealthResult {
	res := HealthResult{Start: time.Now().UTC(), ExitCode: -1}
	args := hc.Test[1:]
	if hc.Test[0] == "CMD-SHELL" {
		args = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	}
	r, w, err := os.Pipe()
	if err != nil {
		res.Output, res.End = err.Error(), time.Now().UTC()
		return res
	}
	pidFile := filepath.Join(e.dir(c.ID), "health.pid")
	os.Remove(pidFile)
	type done struct {
		code int
		err  error
	}
	ch := make(chan done, 1)
	go func() {
		code, err := e.Exec(c, ExecOptions{Args: args, Stdio: Stdio{Out: w, Err: w}, PidFile: pidFile})
		w.Close()
		ch <- done{code, err}
	}()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&limitWriter{&out, healthOutputMax}, r)
		r.Close()
		close(read)
	}()
	select {
	case d := <-ch:
		<-read
		res.ExitCode = d.code
		if d.err != nil {
			res.ExitCode = -1
			out.WriteString(d.err.Error())
		}
	case <-time.After(hc.Timeout):
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		out.Reset()
		fmt.Fprintf(&out, "Health check exceeded timeout (%s)", hc.Timeout)
	}
	os.Remove(pidFile)
	res.End = time.Now().UTC()
	res.Output = out.String()
	return res
}

// limitWriter keeps the first n bytes written to it and drops the rest.
type limitWriter struct {
	b *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
