package cli

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// lastFrame is what a terminal shows at the end: the text after the
// last cursor move, with the line clears taken out.
func lastFrame(out string) string {
	moves := regexp.MustCompile(`\x1b\[\d+A`)
	if loc := moves.FindAllStringIndex(out, -1); len(loc) > 0 {
		out = out[loc[len(loc)-1][1]:]
	}
	return strings.ReplaceAll(out, "\x1b[2K", "")
}

func TestTTYProgress(t *testing.T) {
	var buf bytes.Buffer
	p := newTTYProgress(&buf, 60)
	s1 := p.Step("1/3", "FROM busybox")
	s1.Cached()
	s1.Done(nil)
	s2 := p.Step("2/3", "RUN make")
	s2.Output().Write([]byte("one\ntwo\nthree\nfour\nfive\nsix\n\x1b[31mseven\n"))
	frame := lastFrame(buf.String())
	if !strings.Contains(frame, "(1/2)") || !strings.Contains(frame, " => CACHED [1/3] FROM busybox") {
		t.Errorf("frame while RUN runs:\n%s", frame)
	}
	p.mu.Lock()
	p.draw()
	frame = lastFrame(buf.String())
	p.mu.Unlock()
	// The last five lines of a running step's output, without escapes.
	if !strings.Contains(frame, " => => # three\n") || strings.Contains(frame, "# two") || !strings.Contains(frame, "# [31mseven") {
		t.Errorf("running step's output in the frame:\n%q", frame)
	}
	s2.Done(nil)
	s3 := p.Step("3/3", "RUN "+strings.Repeat("x", 100))
	s3.Done(nil)
	p.Warn("an unused build arg")
	p.finish(digest.FromString("img"), []string{"app:1"})
	out := buf.String()
	frame = lastFrame(out)
	for _, want := range []string{"[+] Building", "(3/3)", " => [2/3] RUN make  ", " => => writing image sha256:", " => => naming to docker.io/library/app:1", "WARNING: an unused build arg"} {
		if !strings.Contains(frame, want) {
			t.Errorf("last frame lacks %q:\n%s", want, frame)
		}
	}
	if strings.Contains(frame, "# one") {
		t.Errorf("a finished step's output stays in the display:\n%s", frame)
	}
	for _, l := range strings.Split(frame, "\n") {
		if len([]rune(l)) > 59 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}

	// A failed build prints the failed step's whole output after the display.
	buf.Reset()
	p = newTTYProgress(&buf, 80)
	s := p.Step("1/1", "RUN false")
	s.Output().Write([]byte("first\nsecond\nthird\nfourth\nfifth\nsixth\n"))
	s.Done(errors.New("exit code: 1"))
	p.abort()
	out = buf.String()
	if !strings.Contains(out, " => ERROR [1/1] RUN false") || !strings.Contains(out, "------\n > [1/1] RUN false:\nfirst\nsecond\n") {
		t.Errorf("failed build's display:\n%s", out)
	}
}
