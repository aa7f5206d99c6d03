package network

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestHostResolv(t *testing.T) {
	dir := t.TempDir()
	oldHost, oldResolved := hostResolvConf, resolvedConf
	defer func() { hostResolvConf, resolvedConf = oldHost, oldResolved }()
	hostResolvConf, resolvedConf = filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "resolved.conf")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		host, resolved string
		want           []string
	}{
		{"nameserver 127.0.0.53\nsearch lan\noptions edns0\n", "nameserver 192.0.2.1\nnameserver 192.0.2.2\n", []string{"192.0.2.1", "192.0.2.2"}},
		{"nameserver 192.0.2.9\n", "nameserver 192.0.2.1\n", []string{"192.0.2.9"}},
		{"nameserver ::1\n", "", []string{"8.8.8.8", "8.8.4.4"}},
		{"", "", []string{"8.8.8.8", "8.8.4.4"}},
	} {
		write("resolv.conf", tc.host)
		write("resolved.conf", tc.resolved)
		if got := HostResolv().Servers; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("HostResolv() with %q and %q = %v, want %v", tc.host, tc.resolved, got, tc.want)
		}
	}
	write("resolv.conf", "nameserver 127.0.0.53\nsearch lan example.com\noptions edns0 trust-ad\n")
	write("resolved.conf", "nameserver 192.0.2.1\n")
	got := HostResolv().Format()
	want := "nameserver 192.0.2.1\nsearch lan example.com\noptions edns0 trust-ad\n"
	if got != want {
		t.Errorf("Format() = %q, want %q", got, want)
	}
}
