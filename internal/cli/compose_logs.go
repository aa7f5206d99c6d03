package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"berth/internal/compose"
	"berth/internal/engine"
	"berth/internal/logs"
)

// logPrinter writes the lines of several containers, each after its
// container's name in a colour of its own, as Docker Compose does.
type logPrinter struct {
	out        io.Writer
	mu         sync.Mutex
	color      bool
	prefix     bool
	timestamps bool
	width      int
	colors     map[string]string
}

// serviceColors are the ANSI colours Docker Compose cycles through.
var serviceColors = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

func (a *app) newLogPrinter(noColor, noPrefix, timestamps bool) *logPrinter {
	color := !noColor && isTerminal(a.out) && os.Getenv("NO_COLOR") == ""
	return &logPrinter{out: a.out, color: color, prefix: !noPrefix, timestamps: timestamps, colors: map[string]string{}}
}

func (l *logPrinter) setNames(cs []compose.Container) {
	for i, c := range cs {
		l.width = max(l.width, len(c.Name))
		l.colors[c.Name] = serviceColors[i%len(serviceColors)]
	}
}

func (l *logPrinter) print(name string, en logs.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	if l.prefix {
		p := fmt.Sprintf("%-*s |", l.width, name)
		if l.color {
			p = "\x1b[" + l.colors[name] + "m" + p + "\x1b[0m"
		}
		b.WriteString(p + " ")
	}
	if l.timestamps {
		b.WriteString(en.Time.Format(time.RFC3339Nano) + " ")
	}
	b.WriteString(en.Log)
	if !strings.HasSuffix(en.Log, "\n") {
		b.WriteByte('\n')
	}
	io.WriteString(l.out, b.String())
}

// follow prints the logs of the services' containers (those opts
// select: tail lines of each first, all with a negative tail) and then
// what they write until
// they all stop; with abort, until the first one stops. It returns
// the name of the container that stopped first.
func (l *logPrinter) follow(p *compose.Project, services []string, opts logs.ReadOptions, abort bool) (string, error) {
	cs, err := p.Containers(false, services...)
	if err != nil {
		return "", err
	}
	l.setNames(cs)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		first    string
		abortCh  = make(chan struct{})
		finished = func() bool {
			select {
			case <-abortCh:
				return true
			default:
				return false
			}
		}
	)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logs.ReadFollow(p.E.LogPath(c.ID), 0, opts, func() bool {
				if finished() {
					return true
				}
				cur, err := p.E.Lookup(c.ID)
				return err != nil || p.E.Status(cur) != engine.StatusRunning
			}, func(en logs.Entry) { l.print(c.Name, en) })
			if finished() {
				return
			}
			if cur, err := p.E.Lookup(c.ID); err == nil {
				if st, err := p.E.Inspect(cur); err == nil {
					fmt.Fprintf(l.out, "%s exited with code %d\n", c.Name, st.State.ExitCode)
				}
			}
			once.Do(func() {
				first = c.Name
				if abort {
					close(abortCh)
				}
			})
		}()
	}
	wg.Wait()
	return first, nil
}

// dump prints the logs of cs, each container's after the other's,
// interleaved by time.
func (l *logPrinter) dump(p *compose.Project, cs []compose.Container, opts logs.ReadOptions) error {
	l.setNames(cs)
	type line struct {
		name string
		en   logs.Entry
	}
	var all []line
	for _, c := range cs {
		entries, err := logs.Read(p.E.LogPath(c.ID), 0, opts)
		if err != nil {
			return err
		}
		for _, en := range entries {
			all = append(all, line{c.Name, en})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].en.Time.Before(all[j].en.Time) })
	for _, x := range all {
		l.print(x.name, x.en)
	}
	return nil
}
