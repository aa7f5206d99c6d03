package logs

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriteReadRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "json.log")
	w, err := NewWriter(path, 300, 3)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	line := w.Stream("stdout", &out)
	start := time.Now()
	for i := 0; i < 20; i++ {
		line.Write([]byte("line " + strings.Repeat("x", i%3) + "\n"))
	}
	line.Write([]byte("no newline"))
	line.Flush()
	w.Write("stderr", []byte("oops\n"), time.Now())
	w.Close()
	if !strings.HasPrefix(out.String(), "line \nline x\n") {
		t.Errorf("mirror got %q", out.String())
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() > 300 {
			t.Errorf("%s: %v, %v (want at most 300 bytes)", p, fi, err)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("a fourth file was kept: %v", err)
	}
	all, err := Read(path, 3, ReadOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	last := all[len(all)-1]
	if last.Log != "oops\n" || last.Stream != "stderr" || all[len(all)-2].Log != "no newline" {
		t.Errorf("last entries %+v", all[len(all)-2:])
	}
	tail, _ := Read(path, 3, ReadOptions{Tail: 2})
	if len(tail) != 2 || tail[1].Log != "oops\n" {
		t.Errorf("tail 2 = %+v", tail)
	}
	none, _ := Read(path, 3, ReadOptions{Tail: -1, Until: start.Add(-time.Second)})
	if len(none) != 0 {
		t.Errorf("until before the start: %d entries", len(none))
	}
}

func TestLongLinesAreCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "json.log")
	w, _ := NewWriter(path, 0, 0)
	line := w.Stream("stdout", nil)
	line.Write([]byte(strings.Repeat("a", maxLine+10) + "\n"))
	w.Close()
	all, _ := Read(path, 0, ReadOptions{Tail: -1})
	if len(all) != 2 || len(all[0].Log) != maxLine || all[1].Log != strings.Repeat("a", 10)+"\n" {
		t.Errorf("entries: %d, first %d bytes", len(all), len(all[0].Log))
	}
}

// TestReadFollow: the last lines, then those written while it follows,
// including one written just before stop said so, each once.
func TestReadFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "json.log")
	w, err := NewWriter(path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a\n", "b\n", "c\n"} {
		w.Write("stdout", []byte(s), time.Now())
	}
	var got []string
	var stopped bool
	var mu sync.Mutex
	done := make(chan error)
	go func() {
		done <- ReadFollow(path, 0, ReadOptions{Tail: 2}, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return stopped
		}, func(e Entry) { got = append(got, e.Log) })
	}()
	time.Sleep(200 * time.Millisecond)
	w.Write("stdout", []byte("d\n"), time.Now())
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	w.Write("stdout", []byte("e\n"), time.Now())
	stopped = true
	mu.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.Close()
	if strings.Join(got, "") != "b\nc\nd\ne\n" {
		t.Errorf("ReadFollow(tail 2) = %q, want b c d e", got)
	}
}
