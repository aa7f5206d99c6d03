package engine

import (
	"errors"
	"strings"
	"testing"

	"berth/internal/errdefs"
)

func TestParseVolume(t *testing.T) {
	b, err := ParseVolume("/host:/ctr:ro,rshared")
	if err != nil || b.Source != "/host" || b.Destination != "/ctr" || !b.ReadOnly || b.Propagation != "rshared" || !b.Create {
		t.Errorf("ParseVolume = %+v, %v", b, err)
	}
	for in, class := range map[string]error{
		"/host":         errdefs.ErrInvalid,
		"/host:ctr":     errdefs.ErrInvalid,
		"/host:/c:bad":  errdefs.ErrInvalid,
		"named:/c":      errdefs.ErrUnsupported,
		"/a:/b:/c:/d:e": errdefs.ErrInvalid,
	} {
		if _, err := ParseVolume(in); !errors.Is(err, class) || !strings.Contains(err.Error(), "--volume") {
			t.Errorf("ParseVolume(%q) = %v, want a %v naming --volume", in, err, class)
		}
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	b, _, _, err := ParseMount("type=bind,source=" + dir + ",target=/x,readonly")
	if err != nil || b == nil || !b.ReadOnly || b.Create {
		t.Errorf("bind: %+v, %v", b, err)
	}
	_, dest, opts, err := ParseMount("type=tmpfs,target=/t,tmpfs-size=1024,tmpfs-mode=1777")
	if err != nil || dest != "/t" || opts != "size=1024,mode=1777" {
		t.Errorf("tmpfs: %q %q %v", dest, opts, err)
	}
	for _, bad := range []string{"type=bind,source=/nope-nope,target=/x", "type=bind,source=rel,target=/x",
		"type=tmpfs,target=rel", "target=/x", "type=nfs,target=/x", "type=volume,source=v,target=/x"} {
		if _, _, _, err := ParseMount(bad); err == nil || !strings.Contains(err.Error(), "--mount") {
			t.Errorf("ParseMount(%q) = %v", bad, err)
		}
	}
}

func TestResolvConf(t *testing.T) {
	got, err := resolvConf([]string{"1.1.1.1", "::1"}, []string{"a.example", "b.example"}, []string{"ndots:2"})
	want := "nameserver 1.1.1.1\nnameserver ::1\nsearch a.example b.example\noptions ndots:2\n"
	if err != nil || got != want {
		t.Errorf("resolvConf = %q, %v", got, err)
	}
	if _, err := resolvConf([]string{"dns.example"}, nil, nil); err == nil {
		t.Error("a host name was taken for a DNS server")
	}
}
