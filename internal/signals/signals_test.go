package signals

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]unix.Signal{"9": unix.SIGKILL, "KILL": unix.SIGKILL, "sigterm": unix.SIGTERM, "HUP": unix.SIGHUP} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0", "65", "NOPE"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestForwarded(t *testing.T) {
	got := map[os.Signal]bool{}
	for _, s := range Forwarded() {
		got[s] = true
	}
	for _, s := range []unix.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGWINCH, unix.Signal(40)} {
		if !got[s] {
			t.Errorf("%v is not forwarded", s)
		}
	}
	for _, s := range []unix.Signal{unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG} {
		if got[s] {
			t.Errorf("%v is forwarded", s)
		}
	}
}

func TestProxy(t *testing.T) {
	p := StartProxy()
	p.Ready()
	if err := unix.Kill(os.Getpid(), unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	if s := <-p.C; s != unix.SIGUSR2 {
		t.Fatalf("got %v, want SIGUSR2", s)
	}
	<-p.Stop()
	// Caught again by a second proxy, which is what Stop must allow.
	q := StartProxy()
	q.Ready()
	defer q.Stop()
	unix.Kill(os.Getpid(), unix.SIGUSR2)
	if s := <-q.C; s != unix.SIGUSR2 {
		t.Fatalf("got %v, want SIGUSR2", s)
	}
	select {
	case s := <-p.C:
		t.Fatalf("a stopped proxy still got %v", s)
	default:
	}
}
