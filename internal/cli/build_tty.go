package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"berth/internal/build"
	"berth/internal/reference"
)

// buildProgress is what build prints as it goes: plain lines, or a
// display redrawn on a terminal.
type buildProgress interface {
	build.Progress
	// finish ends a build that made image id, named names.
	finish(id fmt.Stringer, names []string)
	// abort ends a build that failed.
	abort()
}

func (p *plainProgress) abort() {}

// ttyProgress draws the build on a terminal as BuildKit's tty display
// does: a line per step with its state and time, redrawn in place, with
// the last lines of each running step's output under it. When the build
// ends the display stays, and a failed step's whole output follows it.
type ttyProgress struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	start time.Time
	steps []*ttyStep
	warns []string
	drawn int // lines the last frame took
	stop  chan struct{}
	ended chan struct{}
}

// ttyStep is one step of the display.
type ttyStep struct {
	p            *ttyProgress
	stage, name  string
	start, end   time.Time
	cached, done bool
	err          error
	out          []byte // the output, its last ttyOutputMax bytes
}

const (
	ttyRedraw      = 100 * time.Millisecond
	ttyOutputLines = 5       // output lines shown under a running step
	ttyOutputMax   = 1 << 16 // output kept for a step that fails
)

func newTTYProgress(w io.Writer, width int) *ttyProgress {
	if width < 40 {
		width = 80
	}
	p := &ttyProgress{w: w, width: width, start: time.Now(), stop: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		t := time.NewTicker(ttyRedraw)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *ttyProgress) Step(stage, name string) build.Step {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &ttyStep{p: p, stage: stage, name: name, start: time.Now()}
	p.steps = append(p.steps, s)
	p.draw()
	return s
}

func (p *ttyProgress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.warns = append(p.warns, msg)
}

// end stops the redraws and draws the last frame.
func (p *ttyProgress) end(extra []string) {
	close(p.stop)
	<-p.ended
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawLines(append(p.frame(), extra...))
	for _, w := range p.warns {
		fmt.Fprintf(p.w, "WARNING: %s\n", w)
	}
}

func (p *ttyProgress) finish(id fmt.Stringer, names []string) {
	extra := []string{" => exporting to image", " => => writing image " + id.String()}
	for _, n := range names {
		if ref, err := reference.Parse(n); err == nil {
			n = ref.String()
		}
		extra = append(extra, " => => naming to "+n)
	}
	p.end(extra)
}

func (p *ttyProgress) abort() {
	p.end(nil)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.steps {
		if s.err != nil && len(s.out) > 0 {
			fmt.Fprintf(p.w, "------\n > [%s] %s:\n", s.stage, s.name)
			for _, l := range strings.Split(strings.TrimRight(string(s.out), "\n"), "\n") {
				fmt.Fprintf(p.w, "%s\n", l)
			}
			fmt.Fprintln(p.w, "------")
		}
	}
}

// frame is the display now: a heading, then the steps.
func (p *ttyProgress) frame() []string {
	finished := 0
	for _, s := range p.steps {
		if s.done {
			finished++
		}
	}
	lines := []string{fmt.Sprintf("[+] Building %.1fs (%d/%d)", time.Since(p.start).Seconds(), finished, len(p.steps))}
	for _, s := range p.steps {
		lines = append(lines, s.line())
		if !s.done {
			for _, l := range lastLines(s.out, ttyOutputLines) {
				lines = append(lines, " => => # "+l)
			}
		}
	}
	return lines
}

func (s *ttyStep) line() string {
	d := time.Since(s.start)
	if s.done {
		d = s.end.Sub(s.start)
	}
	switch {
	case s.err != nil:
		return fmt.Sprintf(" => ERROR [%s] %s  %.1fs", s.stage, s.name, d.Seconds())
	case s.cached:
		return fmt.Sprintf(" => CACHED [%s] %s", s.stage, s.name)
	}
	return fmt.Sprintf(" => [%s] %s  %.1fs", s.stage, s.name, d.Seconds())
}

// draw redraws the display over the last frame.
func (p *ttyProgress) draw() { p.drawLines(p.frame()) }

func (p *ttyProgress) drawLines(lines []string) {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn) // back to the frame's first line
	}
	for _, l := range lines {
		// A line wider than the terminal would wrap, and the next
		// frame would start in the wrong place.
		if r := []rune(l); len(r) > p.width-1 {
			l = string(r[:p.width-1])
		}
		b.WriteString("\x1b[2K" + l + "\n")
	}
	// A shorter frame clears what is left of the longer one before it.
	for i := len(lines); i < p.drawn; i++ {
		b.WriteString("\x1b[2K\n")
	}
	if extra := p.drawn - len(lines); extra > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", extra)
	}
	io.WriteString(p.w, b.String())
	p.drawn = len(lines)
}

// lastLines returns the last n lines of out, without control characters
// that would move the cursor.
func lastLines(out []byte, n int) []string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if j := strings.LastIndexByte(l, '\r'); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return -1
			}
			return r
		}, l)
	}
	return lines
}

func (s *ttyStep) Cached() {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.cached = true
}

func (s *ttyStep) Output() io.Writer { return s }

func (s *ttyStep) Write(b []byte) (int, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.out = append(s.out, b...)
	if len(s.out) > ttyOutputMax {
		s.out = s.out[len(s.out)-ttyOutputMax:]
		if i := bytes.IndexByte(s.out, '\n'); i >= 0 {
			s.out = s.out[i+1:]
		}
	}
	return len(b), nil
}

func (s *ttyStep) Done(err error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.done, s.err, s.end = true, err, time.Now()
	s.p.draw()
}
