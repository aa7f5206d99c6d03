package cli

import (
	"fmt"
	"io"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"berth/internal/image"
)

// newProgress returns how a pull or push shows its layers: a bar per
// layer with its bytes and speed on a terminal, a line per layer state
// change otherwise, nothing when quiet.
func newProgress(a *app, quiet bool) (image.Progress, func()) {
	switch {
	case quiet:
		return nil, func() {}
	case a.isTerminal:
		p := mpb.New(mpb.WithOutput(a.out), mpb.WithWidth(40))
		return &barProgress{p: p}, p.Wait
	}
	return &lineProgress{w: a.out}, func() {}
}

// barProgress draws one mpb bar per layer.
type barProgress struct {
	p *mpb.Progress
}

func (b *barProgress) Layer(d ocispec.Descriptor) image.LayerProgress {
	lp := &barLayer{status: "Waiting"}
	name := image.ShortID(d.Digest)
	lp.bar = b.p.AddBar(d.Size,
		mpb.PrependDecorators(
			decor.Name(name+": ", decor.WC{W: len(name) + 2}),
			decor.Any(func(decor.Statistics) string { return lp.get() }, decor.WC{W: 16, C: decor.DindentRight}),
		),
		mpb.AppendDecorators(
			decor.Counters(decor.SizeB1000(0), "% .1f / % .1f"),
			decor.Name("  "),
			decor.AverageSpeed(decor.SizeB1000(0), "% .1f"),
		),
	)
	return lp
}

type barLayer struct {
	mu     sync.Mutex
	status string
	bar    *mpb.Bar
}

func (l *barLayer) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

func (l *barLayer) Status(s string) {
	l.mu.Lock()
	l.status = s
	l.mu.Unlock()
}

func (l *barLayer) Add(n int64) { l.bar.IncrInt64(n) }

func (l *barLayer) Done(err error) {
	if err != nil {
		l.Status("Failed")
		l.bar.Abort(false)
		return
	}
	if l.get() == "Downloading" || l.get() == "Waiting" {
		l.Status("Pull complete")
	}
	l.bar.SetTotal(-1, true)
}

// lineProgress prints Docker's plain lines: "ID: Pull complete".
type lineProgress struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineProgress) Layer(d ocispec.Descriptor) image.LayerProgress {
	return &lineLayer{p: l, id: image.ShortID(d.Digest)}
}

type lineLayer struct {
	p    *lineProgress
	id   string
	last string
}

func (l *lineLayer) Status(s string) {
	if s == l.last || s == "Waiting" {
		return
	}
	l.last = s
	l.p.mu.Lock()
	fmt.Fprintf(l.p.w, "%s: %s\n", l.id, s)
	l.p.mu.Unlock()
}

func (l *lineLayer) Add(int64) {}

func (l *lineLayer) Done(err error) {
	if err != nil {
		l.Status("Failed")
	}
}
