package rootfs

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateDevice(t *testing.T) {
	mode := func(m os.FileMode) *os.FileMode { return &m }
	tests := []struct {
		name    string
		dev     specs.LinuxDevice
		wantErr string
	}{
		{name: "char", dev: specs.LinuxDevice{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: mode(0o666)}},
		{name: "unbuffered char", dev: specs.LinuxDevice{Path: "/dev/ttyX", Type: "u", Major: 4, Minor: 1}},
		{name: "block nested", dev: specs.LinuxDevice{Path: "/dev/mapper/x", Type: "b", Major: 253, Minor: 0}},
		{name: "fifo", dev: specs.LinuxDevice{Path: "/dev/fifo", Type: "p"}},
		{name: "relative", dev: specs.LinuxDevice{Path: "dev/null", Type: "c", Major: 1, Minor: 3}, wantErr: "absolute and clean"},
		{name: "unclean", dev: specs.LinuxDevice{Path: "/dev/../etc/x", Type: "c", Major: 1, Minor: 3}, wantErr: "absolute and clean"},
		{name: "outside dev", dev: specs.LinuxDevice{Path: "/etc/null", Type: "c", Major: 1, Minor: 3}, wantErr: "under /dev"},
		{name: "dev itself", dev: specs.LinuxDevice{Path: "/dev", Type: "c", Major: 1, Minor: 3}, wantErr: "under /dev"},
		{name: "bad type", dev: specs.LinuxDevice{Path: "/dev/x", Type: "x"}, wantErr: "unknown type"},
		{name: "empty type", dev: specs.LinuxDevice{Path: "/dev/x"}, wantErr: "unknown type"},
		{name: "negative major", dev: specs.LinuxDevice{Path: "/dev/x", Type: "c", Major: -1}, wantErr: "out of range"},
		{name: "huge minor", dev: specs.LinuxDevice{Path: "/dev/x", Type: "b", Minor: 1 << 20}, wantErr: "out of range"},
		{name: "fifo with a number, ignored", dev: specs.LinuxDevice{Path: "/dev/x", Type: "p", Major: 1}},
		{name: "mode with type bits", dev: specs.LinuxDevice{Path: "/dev/x", Type: "c", FileMode: mode(os.ModeDevice | 0o666)}, wantErr: "permission bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateDevice(tt.dev)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSpecDevicesReplaceDefaults(t *testing.T) {
	mode := os.FileMode(0o600)
	s := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{
		{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode},
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
	}}}
	got := specDevices(s)
	if len(got) != len(defaultDevices)+1 {
		t.Fatalf("got %d devices, want %d", len(got), len(defaultDevices)+1)
	}
	nulls := 0
	for _, d := range got {
		if d.Path == "/dev/null" {
			nulls++
			if devicePerm(d) != 0o600 {
				t.Errorf("/dev/null mode %o, want the spec's 600", devicePerm(d))
			}
		}
	}
	if nulls != 1 {
		t.Errorf("/dev/null listed %d times", nulls)
	}
	for _, d := range defaultDevices {
		if err := validateDevice(d); err != nil || devicePerm(d) != 0o666 {
			t.Errorf("default device %s: %v, mode %o", d.Path, err, devicePerm(d))
		}
	}
}

func TestHostID(t *testing.T) {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	if id, err := hostID(5, maps, false); err != nil || id != 100005 {
		t.Errorf("mapped: %d, %v", id, err)
	}
	if id, err := hostID(5, maps, true); err != nil || id != 5 {
		t.Errorf("in user namespace: %d, %v", id, err)
	}
	if id, err := hostID(5, nil, false); err != nil || id != 5 {
		t.Errorf("no mappings: %d, %v", id, err)
	}
	if _, err := hostID(70000, maps, false); err == nil {
		t.Error("unmapped id accepted")
	}
}
