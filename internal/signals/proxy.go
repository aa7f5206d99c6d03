package signals

import (
	"os"
	"os/signal"
)

// Proxy catches the Forwarded signals for a process that stands in for
// a container's process, and hands them over on C.
//
// Catching a signal costs the Go runtime a round trip to the thread that
// keeps its signal mask, and letting it go costs another: some 120
// thread switches for the whole list, a millisecond or more on a small
// host. StartProxy and Stop make those round trips beside the caller's
// work (creating the container, removing it) instead of before and after.
type Proxy struct {
	C     chan os.Signal
	ready chan struct{}
}

// StartProxy begins catching the Forwarded signals. Until Ready returns,
// a signal may still take its default action.
func StartProxy() *Proxy {
	p := &Proxy{C: make(chan os.Signal, 64), ready: make(chan struct{})}
	go func() {
		signal.Notify(p.C, Forwarded()...)
		close(p.ready)
	}()
	return p
}

// Ready waits until every Forwarded signal arrives on C.
func (p *Proxy) Ready() { <-p.ready }

// Stop lets the signals take their default actions again. It returns at
// once; the returned channel is closed when they do. A signal that
// arrives in between may still reach C, where nobody reads it.
func (p *Proxy) Stop() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		<-p.ready
		signal.Stop(p.C)
		close(done)
	}()
	return done
}
