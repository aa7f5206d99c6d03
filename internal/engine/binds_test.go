package engine

import (
	"errors"
	"testing"

	"berth/internal/errdefs"
)

func TestParsePublish(t *testing.T) {
	for _, ok := range []string{"80", "8080:80", "127.0.0.1:8080:80/udp", "127.0.0.1::80", "8000-8010:80-90", "[::1]:8080:80"} {
		if err := ParsePublish(ok); !errors.Is(err, errdefs.ErrUnsupported) {
			t.Errorf("ParsePublish(%q) = %v, want valid but unsupported", ok, err)
		}
	}
	for _, bad := range []string{"99999", "a:80", "1.2.3:80:80", "80/icmp", "1:2:3:4"} {
		if err := ParsePublish(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParsePublish(%q) = %v, want invalid", bad, err)
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
