package compose

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestParallelBoundAndFirstFailure(t *testing.T) {
	var services []types.ServiceConfig
	for i := range 12 {
		services = append(services, types.ServiceConfig{Name: fmt.Sprintf("s%d", i)})
	}
	var running, most atomic.Int32
	var mu sync.Mutex
	ran := map[string]bool{}
	err := Parallel(services, func(s types.ServiceConfig) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		ran[s.Name] = true
		mu.Unlock()
		return nil
	})
	if err != nil || len(ran) != 12 || most.Load() != MaxParallel {
		t.Errorf("Parallel = %v, ran %d, at most %d at once; want nil, 12, %d", err, len(ran), most.Load(), MaxParallel)
	}

	var started atomic.Int32
	err = Parallel(services, func(s types.ServiceConfig) error {
		started.Add(1)
		if s.Name == "s0" {
			return errors.New("s0 failed")
		}
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	if err == nil || err.Error() != "s0 failed" || started.Load() > MaxParallel {
		t.Errorf("Parallel with a failure = %v, %d started; want s0's error, at most %d started", err, started.Load(), MaxParallel)
	}
}

func TestImageServices(t *testing.T) {
	svc := func(name, img string, build bool) types.ServiceConfig {
		s := types.ServiceConfig{Name: name}
		s.Image = img
		if build {
			s.Build = &types.BuildConfig{Context: "."}
		}
		return s
	}
	p := &types.Project{Name: "proj", Services: types.Services{
		"app":    svc("app", "myapp", false),
		"build":  svc("build", "myapp", true),
		"db":     svc("db", "postgres", false),
		"db2":    svc("db2", "postgres", false),
		"local":  svc("local", "", true),
		"worker": svc("worker", "proj-local", false),
	}}
	var got []string
	for _, s := range ImageServices(p, []string{"app", "build", "db", "db2", "local", "worker"}) {
		got = append(got, s.Name)
	}
	if fmt.Sprint(got) != "[build db local]" {
		t.Errorf("ImageServices = %v, want [build db local]", got)
	}
}
