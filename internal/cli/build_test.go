package cli

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSourceDateEpoch(t *testing.T) {
	for _, c := range []struct {
		env  string
		want time.Time
		bad  bool
	}{
		{"", time.Unix(0, 0).UTC(), false},
		{"1700000000", time.Unix(1700000000, 0).UTC(), false},
		{"yesterday", time.Time{}, true},
		{"-5", time.Time{}, true},
	} {
		t.Setenv("SOURCE_DATE_EPOCH", c.env)
		got, err := sourceDateEpoch()
		if (err != nil) != c.bad || !got.Equal(c.want) {
			t.Errorf("SOURCE_DATE_EPOCH=%q: sourceDateEpoch() = %v, %v", c.env, got, err)
		}
	}
}

func TestParseSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("x"), 0o600)
	if id, src, err := parseSecret("id=tok,src=" + file); err != nil || id != "tok" || src != file {
		t.Errorf("parseSecret(id=tok,src=FILE) = %q, %q, %v", id, src, err)
	}
	for _, bad := range []string{"src=" + file, "id=tok,src=" + filepath.Join(dir, "missing"), "id=tok,type=env", "id=tok,color=red"} {
		if _, _, err := parseSecret(bad); err == nil {
			t.Errorf("parseSecret(%q) = nil error", bad)
		}
	}
}

func TestLooksLikeTar(t *testing.T) {
	hdr := make([]byte, 512)
	copy(hdr[257:], "ustar")
	for _, c := range []struct {
		in   []byte
		want bool
	}{
		{[]byte("FROM busybox\nRUN true\n"), false},
		{hdr, true},
		{[]byte{0x1f, 0x8b, 8, 0, 0, 0}, true},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd, 0}, true},
	} {
		if got := looksLikeTar(bufio.NewReader(bytes.NewReader(c.in))); got != c.want {
			t.Errorf("looksLikeTar(%q) = %v, want %v", c.in[:min(len(c.in), 12)], got, c.want)
		}
	}
}

// The plain progress prints BuildKit's plain lines, a step's output
// line by line with its number.
func TestPlainProgress(t *testing.T) {
	var b bytes.Buffer
	p := &plainProgress{w: &b, start: time.Now()}
	s := p.Step("build 2/3", "RUN make")
	s.Output().Write([]byte("compiling\nlink"))
	s.Output().Write([]byte("ing\n"))
	s.Done(nil)
	c := p.Step("build 3/3", "COPY a /a")
	c.Cached()
	c.Done(nil)
	out := b.String()
	for _, want := range []string{"#1 [build 2/3] RUN make\n", " compiling\n", " linking\n", "#1 DONE ", "#2 [build 3/3] COPY a /a\n#2 CACHED\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q:\n%s", want, out)
		}
	}
}
