package portmap

import (
	"fmt"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"80", "[{ 0 0 80 tcp}]"},
		{"8080:80", "[{ 8080 0 80 tcp}]"},
		{"8080:80/udp", "[{ 8080 0 80 udp}]"},
		{"8080:80/SCTP", "[{ 8080 0 80 sctp}]"},
		{":80", "[{ 0 0 80 tcp}]"},
		{"127.0.0.1:8080:80", "[{127.0.0.1 8080 0 80 tcp}]"},
		{"127.0.0.1::80", "[{127.0.0.1 0 0 80 tcp}]"},
		{"[::1]:8080:80", "[{::1 8080 0 80 tcp}]"},
		{"::1:8080:80", "[{::1 8080 0 80 tcp}]"},
		{"[::]::80/udp", "[{:: 0 0 80 udp}]"},
		{"8000-8002:80-82", "[{ 8000 0 80 tcp} { 8001 0 81 tcp} { 8002 0 82 tcp}]"},
		{"80-81", "[{ 0 0 80 tcp} { 0 0 81 tcp}]"},
		{"8000-8010:80", "[{ 8000 8010 80 tcp}]"},
		{"0:80", "[{ 0 0 80 tcp}]"},
	} {
		got, err := Parse(c.in)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("Parse(%q) = %v, %v, want %s", c.in, got, err, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "no port specified: <empty>"},
		{"8080:", "no port specified: 8080:<empty>"},
		{"8080:80/icmp", "invalid proto: icmp"},
		{"1.2.3:8080:80", "invalid IP address: 1.2.3"},
		{"[::1:8080:80", "invalid IP address [::1: address [::1:: missing ']' in address"},
		{"8080:http", "invalid containerPort: http"},
		{"8080:0", "invalid containerPort: 0"},
		{"8080:65536", "invalid containerPort: 65536"},
		{"80a:80", "invalid hostPort: 80a"},
		{"8000-7000:80", "invalid hostPort: 8000-7000"},
		{"8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"},
		{"0-10:80", "invalid hostPort: 0-10"},
	} {
		if _, err := Parse(c.in); err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q) error = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestParseExpose(t *testing.T) {
	got, err := ParseExpose("7000-7002/udp")
	if err != nil || fmt.Sprint(got) != "[7000/udp 7001/udp 7002/udp]" {
		t.Errorf("ParseExpose(7000-7002/udp) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "http", "0", "80/icmp", "90-80"} {
		if _, err := ParseExpose(bad); err == nil {
			t.Errorf("ParseExpose(%q) succeeded", bad)
		}
	}
}

func TestPublishAll(t *testing.T) {
	bs, _ := Parse("8080:80")
	got, err := PublishAll([]string{"443/tcp", "80/tcp", "53/udp"}, bs)
	want := "[{ 8080 0 80 tcp} { 0 0 443 tcp} { 0 0 53 udp}]"
	if err != nil || fmt.Sprint(got) != want {
		t.Errorf("PublishAll = %v, %v, want %s", got, err, want)
	}
	if e := Exposed([]string{"443/tcp", "53/udp"}, bs); fmt.Sprint(e) != "[53/udp 80/tcp 443/tcp]" {
		t.Errorf("Exposed = %v", e)
	}
}

func TestComment(t *testing.T) {
	for _, h := range []Held{
		{ID: "abc", Network: "net1", Binding: Binding{HostIP: "::", HostPort: 8080, ContainerPort: 80, Proto: "udp"}},
		{ID: "abc", Binding: Binding{HostIP: "127.0.0.1", HostPort: 1, ContainerPort: 2, Proto: "tcp"}},
	} {
		if got, ok := parseComment(comment(h)); !ok || got != h {
			t.Errorf("parseComment(comment(%v)) = %v, %v", h, got, ok)
		}
	}
	if _, ok := parseComment("something else"); ok {
		t.Errorf("parseComment read a comment berth did not write")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"80", "127.0.0.1:8080:80/udp", "[::1]:1-2:3-4", "::1:8080:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bs, err := Parse(s)
		if err != nil {
			return
		}
		for _, b := range bs {
			if b.ContainerPort == 0 || b.HostPortEnd != 0 && b.HostPortEnd <= b.HostPort {
				t.Errorf("Parse(%q) = %v", s, bs)
			}
		}
	})
}

func TestDisplay(t *testing.T) {
	pub := []Binding{
		{HostIP: "0.0.0.0", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		{HostIP: "::", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 53, Proto: "udp"},
		{HostIP: "127.0.0.1", HostPort: 54, ContainerPort: 54, Proto: "udp"},
	}
	got := Display(pub, []string{"80/tcp", "443/tcp", "444/tcp"})
	want := "127.0.0.1:53-54->53-54/udp, 443-444/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
	if got != want {
		t.Errorf("Display = %q, want %q", got, want)
	}
}
