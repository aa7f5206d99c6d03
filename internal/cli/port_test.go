package cli

import (
	"errors"
	"fmt"
	"testing"

	"berth/internal/engine"
	"berth/internal/errdefs"
)

func TestPortFlags(t *testing.T) {
	f := parseRunFlags(t, "-p", "127.0.0.1:8080:80", "--publish", "53:53/udp", "-P", "--expose", "7000-7001", "--expose", "9/sctp")
	var o engine.PortOptions
	if err := f.ports(&o); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(o.PortBindings, o.PublishAll, o.ExposedPorts)
	want := "[{127.0.0.1 8080 0 80 tcp} { 53 0 53 udp}] true [7000/tcp 7001/tcp 9/sctp]"
	if got != want {
		t.Errorf("ports = %s, want %s", got, want)
	}
	for _, args := range [][]string{{"-p", "8080:http"}, {"-p", "1.2.3:80:80"}, {"--expose", "80/icmp"}} {
		var o engine.PortOptions
		if err := parseRunFlags(t, args...).ports(&o); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%v: %v, want an invalid-argument error", args, err)
		}
	}
}
