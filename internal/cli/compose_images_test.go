//go:build !lean

package cli

import (
	"bytes"
	"testing"
)

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := &prefixWriter{w: &out, prefix: "api | "}
	for _, s := range []string{"one\ntw", "o\r\n\n", "three\rfour", "\nfive"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Errorf("Write(%q) = %d, %v", s, n, err)
		}
	}
	w.flush()
	want := "api | one\napi | two\napi | three\napi | four\napi | five\n"
	if out.String() != want {
		t.Errorf("prefixed:\n%q\nwant\n%q", out.String(), want)
	}
}
