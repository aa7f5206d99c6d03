package cli

import (
	"time"

	"github.com/spf13/pflag"

	"berth/internal/engine"
	"berth/internal/errdefs"
	"berth/internal/image"
)

// healthFlags are run's and create's --health-* flags.
type healthFlags struct {
	cmd                            string
	interval, timeout, startPeriod time.Duration
	retries                        int
	none                           bool
}

func (h *healthFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&h.cmd, "health-cmd", "", "command to run to check health (run by /bin/sh -c in the container)")
	fl.DurationVar(&h.interval, "health-interval", 0, "time between checks (ms|s|m|h) (default 30s)")
	fl.DurationVar(&h.timeout, "health-timeout", 0, "longest time one check may run (ms|s|m|h) (default 30s)")
	fl.DurationVar(&h.startPeriod, "health-start-period", 0, "time for the container to start up, in which failures do not count (ms|s|m|h) (default 0s)")
	fl.IntVar(&h.retries, "health-retries", 0, "consecutive failures that make the container unhealthy (default 3)")
	fl.BoolVar(&h.none, "no-healthcheck", false, "disable any health check the image has")
}

// config is the health check the flags ask for, to lay over the image's;
// nil when no flag was given.
func (h *healthFlags) config() (*image.HealthConfig, error) {
	set := h.cmd != "" || h.interval != 0 || h.timeout != 0 || h.startPeriod != 0 || h.retries != 0
	if h.none {
		if set {
			return nil, errdefs.Invalidf("--no-healthcheck conflicts with the --health-* options")
		}
		return &image.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !set {
		return nil, nil
	}
	hc := &image.HealthConfig{Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod, Retries: h.retries}
	if h.cmd != "" {
		hc.Test = []string{"CMD-SHELL", h.cmd}
	}
	return hc, engine.ValidateHealthcheck(hc)
}
