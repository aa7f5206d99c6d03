package engine

import (
	"testing"
)

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
